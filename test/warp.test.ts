// A raster resampled onto another grid on read (server/raster/warp.ts) gives each pixel the
// same value to the last bit whichever window reads it: the scan reads by windows that
// depend on its threads and a distributed run's tasks (raster/scan-distributed.ts), and a
// run must not depend on them. Checked across CRSs (GK zone 39 → Albers), where the
// lattice's interpolation differs from the exact transformation by a visible amount.
import proj4 from 'proj4'
import { describe, expect, it } from 'vitest'
import { warped, type WindowReader } from '../server/raster/warp.ts'
import type { GeoTransform } from '../server/raster/geotiff-file.ts'

const GK39 = '+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs'
const ALBERS = '+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs'

/** a 1 km source in GK zone 39 with a smooth field */
function source(): WindowReader & { transform: GeoTransform } {
  const width = 120, height = 100
  const data = new Float32Array(width * height)
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) data[r * width + c] = 1000 + 3.7 * c + 0.013 * r * r + Math.sin(c / 7) * 40
  return {
    width, height, nodata: null, transform: [39_420_000, 1000, 0, 3_350_000, 0, -1000],
    async read(x0, y0, x1, y1) {
      const out = new Float32Array((x1 - x0) * (y1 - y0))
      for (let r = y0; r < y1; r++) for (let c = x0; c < x1; c++) out[(r - y0) * (x1 - x0) + (c - x0)] = data[r * width + c]!
      return out
    },
  }
}

describe('warped reads', () => {
  for (const method of ['bilinear', 'nearest', 'average'] as const) {
    it(`${method}: every pixel the same, to the last bit, read whole or by odd windows`, async () => {
      const s = source()
      // a 250 m Albers grid around the source's centre, inside it
      const [cx, cy] = proj4(GK39, ALBERS).forward([39_480_000, 3_300_000]) as [number, number]
      const to = { crsProj4: ALBERS, transform: [Math.round(cx / 250) * 250 - 150 * 250, 250, 0, Math.round(cy / 250) * 250 + 118 * 250, 0, -250] as GeoTransform, width: 301, height: 237 }
      const w = warped(s, { crsProj4: GK39, transform: s.transform }, to, method)
      const whole = await w.read(0, 0, to.width, to.height)
      expect(Array.from(whole).filter((v) => v === v).length).toBeGreaterThan(0.9 * to.width * to.height)
      const parts = new Float32Array(to.width * to.height)
      for (const [x0, x1] of [[0, 37], [37, 150], [150, 301]]) {
        for (const [y0, y1] of [[0, 5], [5, 101], [101, 237]]) {
          const v = await w.read(x0!, y0!, x1!, y1!)
          for (let r = y0!; r < y1!; r++) for (let c = x0!; c < x1!; c++) parts[r * to.width + c] = v[(r - y0!) * (x1! - x0!) + (c - x0!)]!
        }
      }
      let differ = 0
      for (let k = 0; k < whole.length; k++) if (!Object.is(whole[k], parts[k])) differ++
      expect(differ).toBe(0)
    })
  }
})
