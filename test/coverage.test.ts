// Coverage numbers against hand-computable geometry and against independent computations:
// GeographicLib (JS) areas of turf-clipped geometry, and PostGIS itself in another form.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as turf from '@turf/turf'
import type { Feature, MultiPolygon, Polygon } from 'geojson'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { coverage } from '../server/stats/coverage.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, geodesicArea, tmpDir, writeJson } from './helpers/fixtures.ts'

const MAX = 1 << 30
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })

for (const backend of backends()) {
  describe(`coverage on ${backend.name}`, () => {
    let db: Db
    beforeAll(async () => {
      db = await backend.open()
      const dir = tmpDir()
      // U1: 117.0–117.2°E × 30.0–30.1°N with vertices every 0.1°; U2 = U1 moved 0.2° east; U3 far away.
      const units = featureCollection([
        { props: { code: 'U1', name: '甲' }, geometry: poly(box(117, 30, 117.2, 30.1, 0.1)) },
        { props: { code: 'U2', name: '乙' }, geometry: poly(box(117.2, 30, 117.4, 30.1, 0.1)) },
        { props: { code: 'U3', name: '丙' }, geometry: poly(box(120, 30, 120.1, 30.1)) },
      ], 'EPSG:4490')
      await importUnits(db, { file: writeJson(dir, 'units.geojson', units), set: 'boxes', maxBytes: MAX })
      const L = box(117, 30, 117.1, 30.1)
      const R = box(117.1, 30, 117.2, 30.1)
      const HOLE = box(117.05, 30.02, 117.15, 30.08)
      const layers: Record<string, Polygon[]> = {
        left: [poly(L)],
        // duplicated and overlapping features must count once
        overlap: [poly(L), poly(L), poly(R), poly(box(117, 30, 117.2, 30.1, 0.1))],
        // U1 with an interior hole
        donut: [poly(box(117, 30, 117.2, 30.1, 0.1), [...HOLE].reverse())],
        // a strip across the U1/U2 border: equal parts by translation symmetry
        strip: [poly(box(117.1, 30, 117.3, 30.1, 0.1))],
        far: [poly(box(100, 40, 100.1, 40.1))],
      }
      for (const [name, geoms] of Object.entries(layers)) {
        const fc = featureCollection(geoms.map((geometry) => ({ geometry })), 'EPSG:4490')
        await ingestLayer(db, { file: writeJson(dir, `${name}.geojson`, fc), layer: name, kind: 'other', vintage: '2024', maxBytes: MAX })
      }
    })
    afterAll(async () => db?.close())

    const get = async (layer: string) => {
      const r = await coverage(db, 'boxes', layer)
      return Object.fromEntries(r.rows.map((x) => [x.unit_code, x]))
    }

    it('unit areas are the GeographicLib areas of the boxes (1e-9)', async () => {
      const rows = await get('left')
      expect(rows.U1!.unit_area_m2 / geodesicArea(poly(box(117, 30, 117.2, 30.1, 0.1))) - 1).toBeLessThan(1e-9)
      // 0.2° × 0.1° at 30°N is about 19.3 km × 11.1 km
      expect(rows.U1!.unit_area_m2).toBeGreaterThan(2.1e8)
      expect(rows.U1!.unit_area_m2).toBeLessThan(2.2e8)
    })
    it('a mirror-symmetric half covers exactly half', async () => {
      const rows = await get('left')
      expect(Math.abs(rows.U1!.share - 0.5)).toBeLessThan(1e-9)
      expect(rows.U1!.features).toBe(1)
      expect(rows.U2!.area_m2).toBe(0)
    })
    it('overlapping and duplicate features are counted once', async () => {
      const rows = await get('overlap')
      expect(Math.abs(rows.U1!.area_m2 / rows.U1!.unit_area_m2 - 1)).toBeLessThan(1e-9)
      expect(rows.U1!.share).toBe(1)
      expect(rows.U1!.features).toBe(4)
    })
    it('holes are subtracted', async () => {
      const rows = await get('donut')
      const expected = geodesicArea(poly(box(117, 30, 117.2, 30.1, 0.1))) - geodesicArea(poly(box(117.05, 30.02, 117.15, 30.08)))
      expect(Math.abs(rows.U1!.area_m2 / expected - 1)).toBeLessThan(1e-9)
    })
    it('a feature across two units splits by translation symmetry', async () => {
      const rows = await get('strip')
      expect(rows.U1!.area_m2).toBeGreaterThan(0)
      expect(Math.abs(rows.U1!.area_m2 / rows.U2!.area_m2 - 1)).toBeLessThan(1e-9)
      expect(Math.abs(rows.U1!.share - 0.5)).toBeLessThan(1e-9)
    })
    it('units a layer misses get a zero row, not a missing one', async () => {
      const rows = await get('far')
      expect(Object.keys(rows).sort()).toEqual(['U1', 'U2', 'U3'])
      for (const r of Object.values(rows)) expect([r.area_m2, r.share, r.features]).toEqual([0, 0, 0])
    })

    describe('on the sample (real county boundaries, synthetic layers in GK zone 39)', () => {
      beforeAll(async () => {
        await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'counties', maxBytes: MAX })
        await ingestLayer(db, { file: path.join(SAMPLE_DIR, 'layers/protected_area_2023.shp'), layer: 'pa', kind: 'protected_area', vintage: '2023', categoryField: '类型', maxBytes: MAX })
        await ingestLayer(db, { file: path.join(SAMPLE_DIR, 'layers/forest_2020.shp'), layer: 'forest', kind: 'forest', vintage: '2020', maxBytes: MAX })
      })

      // turf's polygon clipping (polyclip-ts) snaps vertices to an epsilon grid, which moves
      // areas by up to ~1e-6 on these 1,000-vertex county outlines: tolerance 1e-5 here;
      // the 1e-6 contract is checked against PostGIS below, and exactly-known cases above.
      it('agrees with GeographicLib areas of turf-clipped geometry within 1e-5', async () => {
        const result = await coverage(db, 'counties', 'pa,forest')
        const units = await db.query<{ code: string; gj: string }>("SELECT code, ST_AsGeoJSON(geom, 15) AS gj FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = 'counties'")
        for (const layer of ['pa', 'forest']) {
          const feats = await db.query<{ gj: string }>('SELECT ST_AsGeoJSON(f.geom, 15) AS gj FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = $1', [layer])
          const geoms = feats.map((f) => turf.feature(JSON.parse(f.gj) as MultiPolygon))
          const dissolved = geoms.length > 1 ? turf.union(turf.featureCollection(geoms))! : geoms[0]!
          for (const u of units) {
            const unit = turf.feature(JSON.parse(u.gj) as MultiPolygon)
            const clipped = turf.intersect(turf.featureCollection([unit, dissolved as Feature<Polygon | MultiPolygon>]))
            const expected = clipped ? geodesicArea(clipped.geometry) : 0
            const row = result.rows.find((r) => r.unit_code === u.code && r.layer === layer)!
            if (expected === 0) expect(row.area_m2).toBe(0)
            else expect(Math.abs(row.area_m2 / expected - 1)).toBeLessThan(1e-5)
          }
        }
      })

      it('agrees with PostGIS computing union-then-clip per unit with ST_Union aggregate (1e-9)', async () => {
        const result = await coverage(db, 'counties', 'pa,forest')
        const ref = await db.query<{ code: string; layer: string; a: number }>(`
          SELECT u.code, l.name AS layer,
                 ST_Area(ST_Intersection(u.geom, (SELECT ST_Union(f.geom) FROM feature f WHERE f.layer_id = l.id AND ST_Intersects(f.geom, u.geom)))::geography) AS a
          FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'counties'
          CROSS JOIN layer l WHERE l.name IN ('pa', 'forest')`)
        expect(ref.length).toBe(result.rows.length)
        for (const r of ref) {
          const row = result.rows.find((x) => x.unit_code === r.code && x.layer === r.layer)!
          if (!r.a) expect(row.area_m2).toBe(0)
          else expect(Math.abs(row.area_m2 / Number(r.a) - 1)).toBeLessThan(1e-9)
        }
      })

      it('reports what it measured: layer versions with checksums and the area method', async () => {
        const r = await coverage(db, 'counties', 'pa')
        expect(r.layers).toHaveLength(1)
        expect(r.layers[0]!.source_checksum).toMatch(/^sha256:[0-9a-f]{64}$/)
        expect(r.method).toMatch(/ellipsoidal/)
        expect(r.rows).toHaveLength(7)
      })
    })
  })
}
