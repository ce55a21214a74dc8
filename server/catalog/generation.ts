// A generation number of the catalogue (layers, unit sets) per runtime. Every import in the
// runtime bumps it when its transaction ends, so memoised lookups keyed by it (tile sources)
// see a replaced layer at once. Writers in other processes (the CLI against the same
// database) are seen when the memo's time limit runs out. Outside a runtime nothing is
// memoised and nothing counted.
import { current, slot } from '../scoped.ts'

export class CatalogGeneration {
  private n = 0
  constructor(private readonly track = true) {}
  changed(): void {
    if (this.track) this.n++
  }
  get value(): number {
    return this.n
  }
}

export const CATALOG_GENERATION = slot('catalogue generation', new CatalogGeneration(false))

export function catalogChanged(): void {
  current(CATALOG_GENERATION).changed()
}

export function catalogGeneration(): number {
  return current(CATALOG_GENERATION).value
}
