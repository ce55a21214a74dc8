// Generated grids: stable codes, exact tessellation, equal-area cells, clipping that
// partitions the unit set, and clear refusals.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { parseCellCode } from '../server/units/grid.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { backends, snapshot } from './helpers/backends.ts'
import { featureCollection, geodesicArea, tmpDir, writeJson } from './helpers/fixtures.ts'
import { resolveCrs } from '../server/crs/resolve.ts'
import { reprojector } from '../server/crs/reproject.ts'

for (const backend of backends()) {
  describe(`grids on ${backend.name}`, () => {
    let db: Db
    beforeAll(async () => {
      db = await backend.open()
      await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'counties', maxBytes: 1 << 30 })
    })
    afterAll(async () => db?.close())
    const units = (set: string) => db.query<{ code: string; parent_code: string | null; area_m2: number }>(
      'SELECT code, parent_code, area_m2 FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = $1', [set])

    it('clipped to counties, the cells partition them: total area equal within 1e-8', async () => {
      const r = await buildGrid(db, { set: 'g5', sizeM: 5000, within: 'counties' })
      const cells = await units('g5')
      const counties = await units('counties')
      expect(cells.length).toBe(r.loaded)
      const sum = (xs: { area_m2: number }[]) => xs.reduce((s, x) => s + Number(x.area_m2), 0)
      expect(Math.abs(sum(cells) / sum(counties) - 1)).toBeLessThan(1e-8)
      const countyCodes = new Set(counties.map((c) => c.code))
      for (const c of cells) {
        expect(parseCellCode(c.code)?.size).toBe(5000)
        expect(countyCodes.has(c.parent_code!)).toBe(true)
      }
    })

    it('cells of the default equal-area CRS measure size² on the ellipsoid (1e-6)', async () => {
      const r = await buildGrid(db, { set: 'albers', sizeM: 5000, bbox: [117.5, 29.5, 118.5, 30.5] })
      const cells = await units('albers')
      expect(cells.length).toBe(r.cellsGenerated)
      expect(r.crs).toBe('ALBERS-CN')
      for (const c of cells) expect(Math.abs(Number(c.area_m2) / 25e6 - 1)).toBeLessThan(1e-6)
    })

    it('a bbox grid in GK zone 39 has every cell, none overlapping, codes from GK coordinates', async () => {
      const r = await buildGrid(db, { set: 'gk1', sizeM: 1000, crs: 'EPSG:4527', bbox: [117.5, 29.9, 117.6, 30.0] })
      expect(r.loaded).toBe(r.cellsGenerated)
      const cells = await units('gk1')
      const ij = cells.map((c) => parseCellCode(c.code)!)
      // x ≈ 39 548 000 m at 117.5°E: i ≈ 39548
      expect(Math.min(...ij.map((c) => c.i))).toBeGreaterThan(39540)
      const [o] = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM unit a JOIN unit b ON a.set_id = b.set_id AND a.id < b.id AND a.geom && b.geom AND ST_Overlaps(a.geom, b.geom) JOIN unit_set s ON s.id = a.set_id WHERE s.name = 'gk1'")
      expect(o!.n).toBe(0)
      // Gauss-Krüger is conformal, not equal-area: near the CM the scale is ~1, so ~1e6 m²
      for (const c of cells) expect(Math.abs(Number(c.area_m2) / 1e6 - 1)).toBeLessThan(2e-3)
    })

    it('units from a projected source keep their straight edges: long edges split before reprojection', async () => {
      // a 6 km square township in Gauss-Krüger zone 39, 100 km east of its meridian; the
      // reference is the square's edges followed every metre, reprojected, GeographicLib's area
      const rp = reprojector(await resolveCrs('EPSG:4527', db, 'test'))
      const x0 = 39_600_000, y0 = 3_300_000, L = 6000
      const corners = [[x0, y0], [x0 + L, y0], [x0 + L, y0 + L], [x0, y0 + L]]
      const along = (step: number) => {
        const out: number[][] = []
        for (let k = 0; k < 4; k++) {
          const a = corners[k]!, b = corners[(k + 1) % 4]!, m = Math.ceil(L / step)
          for (let p = 0; p < m; p++) out.push(rp.toStorage(a[0]! + ((b[0]! - a[0]!) * p) / m, a[1]! + ((b[1]! - a[1]!) * p) / m, 'test'))
        }
        return [...out, out[0]!]
      }
      const ref = geodesicArea({ type: 'Polygon', coordinates: [along(1)] })
      const dir = tmpDir()
      await importUnits(db, { file: writeJson(dir, 'gk.geojson', featureCollection([{ props: { code: 'T1' }, geometry: { type: 'Polygon', coordinates: [[...corners, corners[0]!]] } }], 'EPSG:4527')), set: 'gk-town', maxBytes: 1 << 30 })
      const [u] = await db.query<{ area: number; n: number; longest: number }>(`
        SELECT u.area_m2 AS area, ST_NPoints(u.geom) AS n,
               (SELECT max(ST_Length(ST_MakeLine(a.geom, b.geom)::geography)) FROM ST_DumpPoints(u.geom) a
                JOIN ST_DumpPoints(u.geom) b ON b.path[3] = a.path[3] + 1) AS longest
        FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = 'gk-town'`)
      expect(Math.abs(Number(u!.area) / ref - 1)).toBeLessThan(1e-9)
      expect(Number(u!.n)).toBe(4 * 24 + 1)
      expect(Number(u!.longest)).toBeLessThan(251)
      // the corners alone, reprojected, make another polygon: 2.7 m² (7e-8) larger
      expect(Math.abs(geodesicArea({ type: 'Polygon', coordinates: [along(L)] }) / ref - 1)).toBeGreaterThan(3e-8)
    })

    it('refuses bad grids with clear messages and changes nothing', async () => {
      const before = await snapshot(db)
      await expect(buildGrid(db, { set: 'x', sizeM: 0, within: 'counties' })).rejects.toThrow(/--size 0: give whole metres/)
      await expect(buildGrid(db, { set: 'x', sizeM: 1000, crs: 'EPSG:4490', within: 'counties' })).rejects.toThrow(/EPSG:4490 is geographic/)
      await expect(buildGrid(db, { set: 'x', sizeM: 10, within: 'counties' })).rejects.toThrow(/cells, more than 2000000/)
      await expect(buildGrid(db, { set: 'x', sizeM: 1000, within: 'nope' })).rejects.toThrow(/no unit set 'nope'/)
      await expect(buildGrid(db, { set: 'x', sizeM: 1000 })).rejects.toThrow(/exactly one of --within/)
      await expect(buildGrid(db, { set: 'x', sizeM: 1000, bbox: [118, 30, 117, 31] })).rejects.toThrow(/min < max/)
      await expect(buildGrid(db, { set: 'g5', sizeM: 1000, within: 'counties' })).rejects.toThrow(/unit set 'g5' already exists/)
      expect(await snapshot(db)).toEqual(before)
    })
  })
}
