// The cell engine's choices that tests and benchmarks vary: the tile size (features per
// tile; tests cut small inputs into many tiles) and whether a layer may be read in two steps
// (layer-split.ts; compared with and without), and counters tests read. Bound per runtime
// or per test (server/scoped.ts); unbound: the defaults.
import { slot } from '../../scoped.ts'
import { TILE_FEATURES } from './read/layer-features.ts'

export interface CellOptions {
  tileFeatures: number
  split: boolean
  /** split reads that a sample showed not worth their first step, read whole at once */
  counts?: { sampledWhole: number }
}

export const CELL_OPTIONS = slot<CellOptions>('cell engine options', Object.freeze({ tileFeatures: TILE_FEATURES, split: true }))
