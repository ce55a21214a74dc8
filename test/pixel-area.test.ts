// Pixel areas of rasters in projections that are not equal-area (raster/pixel-area.ts): the
// interpolated areas of blocks of pixels (≥ 300 m, ≥ 8 pixels a side) against the block's exact geodesic area
// (GeographicLib, every pixel corner on its boundary through proj4), within 1e-9 — the
// issue's bound — at 30 m, 10 m and 1 km pixels. (A single 30 m pixel's geodesic area
// carries ~1e-6 m² of rounding, 1e-9 of it: its neighbours' second differences show it; a
// block's is the same in m², 64 times smaller relative.)
import geographiclib from 'geographiclib-geodesic'
import proj4 from 'proj4'
import { describe, expect, it } from 'vitest'
import { pixelAreas } from '../server/raster/pixel-area.ts'
import type { GeoTransform } from '../server/raster/geotiff-file.ts'

const GRS80 = new geographiclib.Geodesic.Geodesic(6378137, 1 / 298.257222101)
const CASES: { name: string; proj: string; t: GeoTransform }[] = [
  { name: 'GK zone 39 (EPSG:4527), 30 m, 60 km off the meridian', proj: '+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs', t: [39_560_011.1, 30, 0, 3_320_011.1, 0, -30] },
  { name: 'GK zone 39, 10 m, 140 km off the meridian', proj: '+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs', t: [39_640_003.3, 10, 0, 4_520_003.3, 0, -10] },
  { name: 'UTM 50N at its zone edge, 30 m', proj: '+proj=utm +zone=50 +ellps=GRS80 +units=m +no_defs', t: [230_000, 30, 0, 3_500_000, 0, -30] },
  { name: 'Lambert conformal conic, 1 km pixels', proj: '+proj=lcc +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m +no_defs', t: [-2_000_000, 1000, 0, 5_000_000, 0, -1000] },
]

/** Exact geodesic area of the block of b × b pixels whose top-left pixel is (c, r): its boundary through every pixel corner. */
function exactBlock(proj: string, t: GeoTransform, c: number, r: number, b: number): number {
  const inv = proj4(proj, '+proj=longlat +ellps=GRS80 +no_defs')
  const poly = GRS80.Polygon(false)
  const corners: [number, number][] = []
  for (let i = 0; i < b; i++) corners.push([c + i, r])
  for (let i = 0; i < b; i++) corners.push([c + b, r + i])
  for (let i = b; i > 0; i--) corners.push([c + i, r + b])
  for (let i = b; i > 0; i--) corners.push([c, r + i])
  for (const [x, y] of corners) {
    const [lon, lat] = inv.forward([t[0] + x * t[1], t[3] + y * t[5]]) as [number, number]
    poly.AddPoint(lat, lon)
  }
  return Math.abs(poly.Compute(false, true).area!)
}

describe('pixel areas off equal-area projections', () => {
  for (const k of CASES) {
    it(`${k.name}: blocks of pixels within 1e-9 of their exact area`, () => {
      const pa = pixelAreas(k.proj, k.t)
      expect(pa.method).toMatch(/^lattice/)
      let seed = 7
      const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
      // blocks of ≥ 300 m (8 pixels at least): their exact areas' rounding is below 1e-10
      const B = Math.max(8, Math.ceil(300 / Math.abs(k.t[1])))
      const out = new Float64Array(B)
      let worst = 0
      for (let i = 0; i < 200; i++) {
        const r0 = Math.floor(rnd() * 8000), c0 = Math.floor(rnd() * 8000)
        let sum = 0
        for (let r = r0; r < r0 + B; r++) {
          pa.row(r, c0, c0 + B, out)
          for (let k = 0; k < B; k++) sum += out[k]!
        }
        worst = Math.max(worst, Math.abs(sum / exactBlock(k.proj, k.t, c0, r0, B) - 1))
      }
      expect(worst).toBeLessThan(1e-9)
      // a pixel's area does not depend on the window that asks for it
      const a = new Float64Array(300), b = new Float64Array(37)
      pa.row(4321, 1000, 1300, a)
      pa.row(4321, 1131, 1168, b)
      expect(Array.from(b)).toEqual(Array.from(a.subarray(131, 168)))
    })
  }
})
