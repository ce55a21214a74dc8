// Square grid math, pure. A grid is defined by a projected CRS and a cell size in
// metres; cell (i, j) is the square [i·s, (i+1)·s) × [j·s, (j+1)·s) of that CRS, so a
// cell's code names the same square in every grid of the same CRS and size, whatever
// extent it was generated for.
//
// Cell code: G<size>_<E|W><|i|>_<N|S><|j|>, e.g. G1000_E1234_N3456 (i = 1234, j = 3456)
// or G500_W12_N7020 (i = −12). Codes are the unit codes of grid unit sets.

export interface CellIndex {
  size: number
  i: number
  j: number
}

export function cellCode({ size, i, j }: CellIndex): string {
  return `G${size}_${i < 0 ? 'W' : 'E'}${Math.abs(i)}_${j < 0 ? 'S' : 'N'}${Math.abs(j)}`
}

export function parseCellCode(code: string): CellIndex | undefined {
  const m = /^G(\d+)_([EW])(\d+)_([NS])(\d+)$/.exec(code)
  if (!m) return undefined
  const i = Number(m[3]) * (m[2] === 'W' ? -1 : 1)
  const j = Number(m[5]) * (m[4] === 'S' ? -1 : 1)
  return { size: Number(m[1]), i: i === 0 ? 0 : i, j: j === 0 ? 0 : j }
}

/** Index ranges (inclusive) of the cells that cover a box in grid coordinates. */
export function cellRange(box: [number, number, number, number], size: number): { i0: number; i1: number; j0: number; j1: number } {
  const [minx, miny, maxx, maxy] = box
  return {
    i0: Math.floor(minx / size),
    i1: Math.max(Math.floor(minx / size), Math.ceil(maxx / size) - 1),
    j0: Math.floor(miny / size),
    j1: Math.max(Math.floor(miny / size), Math.ceil(maxy / size) - 1),
  }
}

/**
 * The cell's boundary in grid coordinates, counter-clockwise, each edge split into
 * `segments` pieces so that it stays straight in the grid CRS once reprojected.
 * Neighbours compute shared edges from the same integers, so they coincide exactly.
 */
export function cellRing({ size, i, j }: CellIndex, segments: number): [number, number][] {
  const pts: [number, number][] = []
  const at = (a: number, b: number): [number, number] => [(i + a / segments) * size, (j + b / segments) * size]
  for (let k = 0; k < segments; k++) pts.push(at(k, 0))
  for (let k = 0; k < segments; k++) pts.push(at(segments, k))
  for (let k = segments; k > 0; k--) pts.push(at(k, segments))
  for (let k = segments; k > 0; k--) pts.push(at(0, k))
  pts.push(pts[0]!)
  return pts
}

/**
 * Edge pieces: at most 250 m (sagitta of a reprojected 250 m edge ≈ 1 mm) up to 16 pieces,
 * and never over 350 m, below the 400 m the cell engine measures (stats/cells/measure.ts; a
 * projection's scale may stretch a piece by a few per cent): 4 km cells have 16 pieces of
 * 250 m, 5 km cells 16 of 312.5 m, 10 km cells 29 of 345 m.
 */
export function segmentsFor(size: number): number {
  return Math.max(Math.min(16, Math.max(1, Math.ceil(size / 250))), Math.ceil(size / 350))
}

/** GB/T 12409-2009 metric grid sizes, offered as presets. */
export const STANDARD_SIZES_M = [10, 100, 1000, 10_000, 100_000] as const
