// The categorical accumulator's 8-bit path for pixels of differing area (a Gauss-Krüger
// land-cover grid) against its general path, fed the same window as 32-bit floats; sums
// and units packed for the scan threads and unpacked again.
import { describe, expect, it } from 'vitest'
import { categorical } from '../server/raster/zonal-accumulators.ts'
import { pixelAreas } from '../server/raster/pixel-area.ts'
import type { UnitWindow } from '../server/raster/zonal-scan.ts'
import { packSums, packUnits, unpackSums, unpackUnits } from '../server/raster/thread-codec.ts'

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

describe('sums and units across the thread boundary (thread-codec.ts)', () => {
  it('packed and unpacked: every number bit for bit (NaN, ±Infinity, -0), every Map in its order', () => {
    const cat = [
      { classes: new Map<number, [number, number]>([[7, [1.5e-300, 0.1]], [2, [Math.PI, 1 / 3]], [65536.5, [-0, 2]]]), nodataM2: 12.25, nodataPixels: 0.5 },
      { classes: new Map<number, [number, number]>(), nodataM2: 0, nodataPixels: 0 },
    ]
    const back = unpackSums({ mode: 'categorical', nodata: 0 }, packSums({ mode: 'categorical', nodata: 0 }, cat)!, 2) as typeof cat
    expect(back).toEqual(cat)
    expect([...back[0]!.classes.keys()]).toEqual([7, 2, 65536.5])
    expect(Object.is(back[0]!.classes.get(65536.5)![0], -0)).toBe(true)
    const pairs = [{ pairs: new Map<number, [number, number]>([[65537, [3, 1]], [1, [2, 0.25]]]), nodataM2: 4 }]
    expect(unpackSums({ mode: 'transitions', nodataFrom: null, nodataTo: null }, packSums({ mode: 'transitions', nodataFrom: null, nodataTo: null }, pairs)!, 1)).toEqual(pairs)
    const histogram = { lower: 0, upper: 1, bins: 3 }
    const cont = [
      { count: 0, sum: 0, wa: 0, wv: 0, wv2: 0, ref: NaN, min: Infinity, max: -Infinity, nodataM2: 0, hist: new Float64Array(3) },
      { count: 2.5, sum: 1.25, wa: 1e6, wv: 3, wv2: 7, ref: 0.5, min: 0.1, max: 0.9, nodataM2: 5, hist: Float64Array.from([1, 2, 3]) },
    ]
    expect(unpackSums({ mode: 'continuous', nodata: null, histogram }, packSums({ mode: 'continuous', nodata: null, histogram }, cont)!, 2)).toEqual(cont)
    // a count that does not match what was packed is an error, not sums shifted by a unit
    expect(() => unpackSums({ mode: 'categorical', nodata: 0 }, packSums({ mode: 'categorical', nodata: 0 }, cat)!, 1)).toThrow(/left over/)
    // an accumulator of a layer above is not packed
    expect(packSums({ mode: 'module', module: 'gep/kernel', spec: {} }, [{}])).toBeNull()
  })

  it('units packed into one array come back ring for ring', () => {
    const units = {
      ids: ['a', 'b', 'c'],
      boxes: Float64Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
      polygons: [
        [[Float64Array.from([0, 0, 1, 0, 1, 1, 0, 0])]],
        [[Float64Array.from([2, 2, 3, 2, 3, 3, 2, 2]), Float64Array.from([2.2, 2.2, 2.4, 2.2, 2.4, 2.4, 2.2, 2.2])], [Float64Array.from([4, 4, 5, 4, 5, 5])]],
        [],
      ],
    }
    const packed = packUnits(units)
    const back = unpackUnits(structuredClone(packed))
    expect(back.ids).toEqual(units.ids)
    expect(back.boxes).toEqual(units.boxes)
    expect(back.polygons).toEqual(units.polygons)
  })
})
