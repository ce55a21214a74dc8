// Change between vintages: hand-computable strips, the accounting identities against the
// coverage engine, and PostGIS computing the same differences in another form.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { change } from '../server/stats/change.ts'
import { coverage } from '../server/stats/coverage.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, geodesicArea, tmpDir, writeJson } from './helpers/fixtures.ts'

const MAX = 1 << 30
const poly = (ring: number[][]) => ({ type: 'Polygon' as const, coordinates: [ring] })

for (const backend of backends()) {
  describe(`change on ${backend.name}`, () => {
    let db: Db
    beforeAll(async () => {
      db = await backend.open()
      const dir = tmpDir()
      // U1 117.0–117.2°E × 30.0–30.1°N with vertices every 0.05°: its four 0.05° strips have equal areas
      await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection([{ props: { code: 'U1' }, geometry: poly(box(117, 30, 117.2, 30.1, 0.05)) }, { props: { code: 'U2' }, geometry: poly(box(118, 30, 118.1, 30.1)) }], 'EPSG:4490')), set: 'boxes', maxBytes: MAX })
      const put = (vintage: string, w: number, e: number) =>
        ingestLayer(db, { file: writeJson(dir, `s${vintage}.geojson`, featureCollection([{ geometry: poly(box(w, 30, e, 30.1, 0.05)) }], 'EPSG:4490')), layer: 'strip', kind: 'other', vintage, maxBytes: MAX })
      await put('2020', 117, 117.1)
      await put('2023', 117.05, 117.15)
      await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'counties', maxBytes: MAX })
      for (const v of ['2020', '2023']) await ingestLayer(db, { file: path.join(SAMPLE_DIR, `layers/forest_${v}.shp`), layer: 'forest', kind: 'forest', vintage: v, maxBytes: MAX })
      // the same with its classes, which overlap (77 pairs of features of two classes share ~190 km² in 2020)
      for (const v of ['2020', '2023']) await ingestLayer(db, { file: path.join(SAMPLE_DIR, `layers/forest_${v}.shp`), layer: 'forestc', kind: 'forest', vintage: v, categoryField: '事权等级', maxBytes: MAX })
      await buildGrid(db, { set: 'g5', sizeM: 5000, within: 'counties' })
    }, 120_000)
    afterAll(async () => db?.close())

    it('a strip moved east by half its width: a quarter of the unit each stable, gained, lost', async () => {
      const r = await change(db, 'boxes', 'strip', '2020', '2023')
      const u1 = r.rows.find((x) => x.unit_code === 'U1')!
      const quarter = geodesicArea(poly(box(117, 30, 117.2, 30.1, 0.05))) / 4
      for (const v of [u1.stable_m2, u1.gained_m2, u1.lost_m2]) expect(Math.abs(v / quarter - 1)).toBeLessThan(1e-9)
      expect(Math.abs(u1.net_m2)).toBeLessThan(1e-6 * quarter)
      const u2 = r.rows.find((x) => x.unit_code === 'U2')!
      expect([u2.stable_m2, u2.gained_m2, u2.lost_m2, u2.net_m2]).toEqual([0, 0, 0, 0])
    })

    it('on the sample: opening and closing equal the coverage engine, opening + gained − lost = closing', async () => {
      const r = await change(db, 'counties', 'forest', '2020', '2023')
      const c20 = await coverage(db, 'counties', 'forest@2020')
      const c23 = await coverage(db, 'counties', 'forest@2023')
      expect(r.rows).toHaveLength(7)
      for (const row of r.rows) {
        const a = c20.rows.find((x) => x.unit_code === row.unit_code)!.area_m2
        const b = c23.rows.find((x) => x.unit_code === row.unit_code)!.area_m2
        expect(Math.abs(row.from_m2 - a)).toBeLessThan(1e-9 * a)
        expect(Math.abs(row.to_m2 - b)).toBeLessThan(1e-9 * b)
        expect(Math.abs(row.stable_m2 + row.lost_m2 - a)).toBeLessThan(1e-6 * a)
        expect(Math.abs(row.stable_m2 + row.gained_m2 - b)).toBeLessThan(1e-6 * b)
        // never below zero (屯溪区 showed −0.11 m² of lost: the overlays' snapping)
        expect(row.gained_m2).toBeGreaterThanOrEqual(0)
        expect(row.lost_m2).toBeGreaterThanOrEqual(0)
      }
      expect(r.rows.reduce((s, x) => s + x.gained_m2, 0)).toBeGreaterThan(1e6)
      expect(r.rows.reduce((s, x) => s + x.lost_m2, 0)).toBeGreaterThan(1e6)
    })

    it('agrees with PostGIS differencing ST_Union aggregates of each vintage, 1e-9° grid as ours (1e-6)', async () => {
      const r = await change(db, 'counties', 'forest', '2020', '2023')
      const ref = await db.query<{ code: string; gained: number; lost: number }>(`
        WITH v AS (
          SELECT u.code, u.geom AS ug,
                 (SELECT ST_Union(f.geom) FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'forest' AND l.vintage = '2020' AND ST_Intersects(f.geom, u.geom)) AS a,
                 (SELECT ST_Union(f.geom) FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'forest' AND l.vintage = '2023' AND ST_Intersects(f.geom, u.geom)) AS b
          FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'counties')
        SELECT code, ST_Area(ST_Intersection(ug, ST_Difference(b, a, 1e-9))::geography) AS gained,
                     ST_Area(ST_Intersection(ug, ST_Difference(a, b, 1e-9))::geography) AS lost FROM v`)
      for (const x of ref) {
        const row = r.rows.find((y) => y.unit_code === x.code)!
        for (const [ours, ref] of [[row.gained_m2, Number(x.gained)], [row.lost_m2, Number(x.lost)]] as const) {
          if (ref < 1) expect(ours).toBeLessThan(1)
          else expect(Math.abs(ours / ref - 1)).toBeLessThan(1e-6)
        }
      }
    })

    it('classes that overlap: the transition totals do not depend on the units (counties, a 5 km grid), each class outside the other layer as PostGIS measures it, accounts open and close on the class areas', async () => {
      const byCounty = await change(db, 'counties', 'forestc', '2020', '2023')
      const byCell = await change(db, 'g5', 'forestc', '2020', '2023')
      const total = (r: typeof byCounty) => new Map(r.transitionTotals.map((x) => [`${x.from_class}>${x.to_class}`, x.area_m2]))
      const a = total(byCounty), b = total(byCell)
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort())
      // the grid's cells, clipped to the counties, cover them to ~2e-6 of their area: that much may move
      const [sets] = await db.query<{ d: number }>(`SELECT abs(sum(u.area_m2) FILTER (WHERE s.name = 'g5') - sum(u.area_m2) FILTER (WHERE s.name = 'counties')) AS d
        FROM unit u JOIN unit_set s ON s.id = u.set_id`)
      expect(Number(sets!.d)).toBeLessThan(1e5)
      for (const [k, v] of a) expect(Math.abs(b.get(k)! - v)).toBeLessThan(1e-6 * v + Number(sets!.d))
      // class → none over the counties: the class at 2020 outside every 2023 feature
      const ref = await db.query<{ c: string; a: number }>(`
        WITH land AS (SELECT ST_Union(u.geom) AS g FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'counties')
        SELECT a.category AS c, ST_Area(ST_Intersection(ST_Difference(ST_Union(a.geom), (SELECT ST_Union(geom) FROM feature WHERE layer_id = $2), 1e-9), (SELECT g FROM land), 1e-9)::geography) AS a
        FROM feature a WHERE a.layer_id = $1 GROUP BY a.category`, [byCounty.from.id, byCounty.to.id])
      for (const x of ref) expect(Math.abs(a.get(`${x.c}>null`)! / Number(x.a) - 1)).toBeLessThan(1e-6)
      const cov = await coverage(db, 'counties', { layers: 'forestc@2020,forestc@2023', categories: true })
      for (const l of byCounty.account.filter((x) => x.class !== '*')) {
        const area = (v: string) => cov.rows.find((x) => x.measure === 'category' && x.unit_code === l.unit_code && x.vintage === v && x.category === l.class)?.area_m2 ?? 0
        expect(Math.abs(l.opening_m2 - area('2020'))).toBeLessThan(1e-6 * Math.max(1, l.opening_m2))
        expect(Math.abs(l.closing_m2 - area('2023'))).toBeLessThan(1e-6 * Math.max(1, l.closing_m2))
        expect(Math.abs(l.opening_m2 + l.additions_m2 - l.reductions_m2 - l.closing_m2)).toBeLessThan(1e-6)
      }
    }, 120_000)

    it('refuses equal or unknown vintages', async () => {
      await expect(change(db, 'counties', 'forest', '2020', '2020')).rejects.toThrow(/both 2020; give two different vintages/)
      await expect(change(db, 'counties', 'forest', '2020', '2030')).rejects.toThrow(/layer 'forest' has no vintage 2030 \(has 2020, 2023\)/)
    })
  })
}
