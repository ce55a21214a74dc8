// A process-wide generation number of the catalogue (layers, unit sets). Every import in
// this process bumps it when its transaction ends, so memoised lookups keyed by it (tile
// sources) see a replaced layer at once. Writers in other processes (the CLI against the
// same database) are seen when the memo's time limit runs out.
let generation = 0

export function catalogChanged(): void {
  generation++
}

export function catalogGeneration(): number {
  return generation
}
