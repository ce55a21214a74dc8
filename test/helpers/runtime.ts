// Tests vary the engines' choices and pools through a runtime of their own (server/runtime.ts),
// never through module state: withCells binds the cell engine's tiling and split reads for
// the work fn does.
import { bind, within } from '../../server/scoped.ts'
import { CELL_OPTIONS, type CellOptions } from '../../server/stats/cells/options.ts'

export function withCells<T>(o: Partial<CellOptions>, fn: () => Promise<T>): Promise<T> {
  return within([bind(CELL_OPTIONS, { ...CELL_OPTIONS.byDefault, ...o })], fn)
}
