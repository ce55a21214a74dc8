// The categorical accumulator's 8-bit path for pixels of differing area (a Gauss-Krüger
// land-cover grid) against its general path, fed the same window as 32-bit floats.
import { describe, expect, it } from 'vitest'
import { categorical } from '../server/raster/zonal-accumulators.ts'
import { pixelAreas } from '../server/raster/pixel-area.ts'
import type { UnitWindow } from '../server/raster/zonal-scan.ts'

describe('categorical sums', () => {
  it('8-bit classes with per-pixel areas: the fast path equals the general one within 1e-12', () => {
    const areas = pixelAreas('+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs', [39_560_011.1, 30, 0, 3_320_011.1, 0, -30])
    let seed = 11
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    const h = 23, w = 41, stride = 50
    // coverage: rows covered from a ragged left edge to a ragged right edge, partial pixels at both
    const delta = new Float64Array(h * (w + 1))
    for (let r = 0; r < h; r++) {
      const cov = new Float64Array(w)
      const a = Math.floor(rnd() * 8), b = w - 1 - Math.floor(rnd() * 8)
      for (let c = a; c <= b; c++) cov[c] = c === a || c === b ? rnd() : 1
      if (r % 5 === 2) cov[Math.floor(w / 2)] = 0.5 // a hole's edge inside the row
      let prev = 0
      for (let c = 0; c < w; c++) { delta[r * (w + 1) + c] = cov[c]! - prev; prev = cov[c]! }
      delta[r * (w + 1) + w] = -prev
    }
    const bytes = new Uint8Array(h * stride)
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 10) // 0 = nodata
    const window = (values: ArrayLike<number>): UnitWindow => ({ unit: 0, row: 1200, col: 3400, h, w, delta, values: [values], offset: 3, stride, areas })
    const fast = categorical(1, 0)
    fast.take(window(bytes))
    const general = categorical(1, 0)
    general.take(window(Float32Array.from(bytes)))
    const f = fast.sums[0]!, g = general.sums[0]!
    expect([...f.classes.keys()].sort()).toEqual([...g.classes.keys()].sort())
    for (const [k, [a, n]] of g.classes) {
      expect(Math.abs(f.classes.get(k)![0] / a - 1)).toBeLessThan(1e-12)
      expect(Math.abs(f.classes.get(k)![1] / n - 1)).toBeLessThan(1e-12)
    }
    expect(Math.abs(f.nodataM2 / g.nodataM2 - 1)).toBeLessThan(1e-12)
    expect(Math.abs(f.nodataPixels / g.nodataPixels - 1)).toBeLessThan(1e-12)
    expect(g.classes.size).toBe(9)
  })
})
