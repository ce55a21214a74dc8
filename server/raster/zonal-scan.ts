// Streaming zonal scan: the raster is read once, top to bottom, in bands of whole block
// rows; each band is handed, unit by unit, with the units' exact pixel coverage, to an
// accumulator. Memory holds one band of the raster and one unit window of coverage at
// a time, whatever the raster's size.
import { coverageDeltas, type PixelRing } from './coverage-fraction.ts'
import type { PixelAreas } from './pixel-area.ts'
import type { PixelSource } from './raster-store.ts'

/** pixels per band read (about 32 MB of float64) */
const BAND_PIXELS = 1 << 22

export interface ZonalUnit {
  id: string
  rings: PixelRing[]
  /** window in pixels, clamped to the raster: rows [r0, r1), columns [c0, c1) */
  r0: number
  r1: number
  c0: number
  c1: number
}

/** What an accumulator is handed: one unit's coverage over some rows, and the values under it. */
export interface UnitWindow {
  unit: number
  /** first raster row and column of the window, its size */
  row: number
  col: number
  h: number
  w: number
  /** coverage as differences, row-major h×(w+1): the running sum along a row is the covered fraction */
  delta: Float64Array
  /** per source: the band's values and where the window's first pixel is, and the row stride */
  values: ArrayLike<number>[]
  offset: number
  stride: number
  /** pixel areas of row `row + i` of the window into out */
  areas: PixelAreas
}

export interface ScanOptions {
  signal?: AbortSignal
  progress?: (fraction: number) => Promise<void>
}

/**
 * Reads the sources (same grid) in bands and calls take() for each unit and band it meets.
 * Units must lie within the raster (loadZonalUnits clamps them).
 */
export async function scan(
  sources: PixelSource[], units: ZonalUnit[], areas: PixelAreas, take: (w: UnitWindow) => void, o: ScanOptions = {},
): Promise<number> {
  const first = sources[0]!
  const { height, width, blockHeight } = first
  if (!units.length) return 0
  const order = units.map((_, i) => i).sort((a, b) => units[a]!.r0 - units[b]!.r0)
  const top = units[order[0]!]!.r0
  const bottom = Math.max(...units.map((u) => u.r1))
  const bandRows = Math.max(blockHeight, Math.floor(BAND_PIXELS / width / blockHeight) * blockHeight)
  let next = 0
  let active: number[] = []
  let scratch = new Float64Array(0)
  let pixels = 0
  // bands start at multiples of bandRows whatever the units: a unit's windows, and so its
  // sums to the last bit, are the same whichever units share the scan (threads, scan-pool.ts)
  for (let y = Math.floor(top / bandRows) * bandRows; y < bottom; y += bandRows) {
    const y1 = Math.min(height, y + bandRows)
    while (next < order.length && units[order[next]!]!.r0 < y1) active.push(order[next++]!)
    active = active.filter((i) => units[i]!.r1 > y)
    if (!active.length) continue
    let x0 = width
    let x1 = 0
    for (const i of active) {
      const u = units[i]!
      if (u.c0 < x0) x0 = u.c0
      if (u.c1 > x1) x1 = u.c1
    }
    const values = await Promise.all(sources.map((s) => s.read(x0, y, x1, y1, o.signal)))
    const stride = x1 - x0
    for (const i of active) {
      const u = units[i]!
      const ra = Math.max(u.r0, y)
      const rb = Math.min(u.r1, y1)
      const h = rb - ra
      const w = u.c1 - u.c0
      if (h <= 0) continue
      if (scratch.length < h * (w + 1)) scratch = new Float64Array(h * (w + 1))
      coverageDeltas(u.rings, ra, rb, u.c0, u.c1, scratch)
      take({ unit: i, row: ra, col: u.c0, h, w, delta: scratch, values, offset: (ra - y) * stride + (u.c0 - x0), stride, areas })
      pixels += h * w
    }
    await o.progress?.((y1 - top) / Math.max(1, bottom - top))
  }
  return pixels
}
