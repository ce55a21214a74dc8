// A real dataset we did not write (NY8 census tracts, WGS 84 / UTM 18N, CC0; see
// test/fixtures/external/README.md): ingestion and coverage against PostGIS doing the
// same job from the raw file on its own (shapefile read by another library, reprojected
// by PROJ, clipped and measured by PostGIS).
import path from 'node:path'
import * as shapefile from 'shapefile'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { coverage } from '../server/stats/coverage.ts'
import { backends } from './helpers/backends.ts'

const DIR = path.join(import.meta.dirname, 'fixtures', 'external')
const SHP = path.join(DIR, 'NY8_utm18.shp')

for (const backend of backends()) {
  describe(`external NY8 tracts (UTM 18N) on ${backend.name}`, () => {
    let db: Db
    let layerId: number
    beforeAll(async () => {
      db = await backend.open()
      const r = await ingestLayer(db, { file: SHP, layer: 'ny8', kind: 'other', vintage: '1990', maxBytes: 1 << 30 })
      layerId = r.layerId
      expect(r.crs).toBe('EPSG:32618')
      expect(r.loaded).toBe(281)
      // the raw file, read by the shapefile library directly, into PostGIS in its own CRS
      await db.query('CREATE TABLE raw_ny8 (src_index int, geom geometry(MultiPolygon, 4490))')
      const src = await shapefile.open(SHP)
      for (let i = 0; ; i++) {
        const { done, value } = await src.read()
        if (done) break
        await db.query('INSERT INTO raw_ny8 VALUES ($1, ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($2), 32618), 4490)), 3)))', [i, JSON.stringify(value.geometry)])
      }
    })
    afterAll(async () => db?.close())

    it('stores each tract with the area PostGIS gives the raw geometry (1e-6)', async () => {
      const rows = await db.query<{ ours: number; ref: number }>(
        'SELECT f.area_m2 AS ours, ST_Area(r.geom::geography) AS ref FROM feature f JOIN raw_ny8 r ON r.src_index = f.src_index WHERE f.layer_id = $1', [layerId])
      expect(rows).toHaveLength(281)
      for (const r of rows) expect(Math.abs(r.ours / r.ref - 1)).toBeLessThan(1e-6)
    })

    it('coverage of a 5 km UTM grid matches PostGIS clipping the raw tracts (1e-6)', async () => {
      const [e] = await db.query<{ b: number[] }>('SELECT ARRAY[ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x)] AS b FROM (SELECT ST_Extent(geom)::geometry AS x FROM raw_ny8) s')
      const g = await buildGrid(db, { set: 'utm5', sizeM: 5000, crs: 'EPSG:32618', bbox: e!.b as [number, number, number, number] })
      expect(g.loaded).toBeGreaterThan(100)
      const result = await coverage(db, 'utm5', 'ny8')
      const ref = await db.query<{ code: string; a: number }>(`
        SELECT u.code, coalesce(ST_Area(ST_Intersection(u.geom, (SELECT ST_Union(r.geom) FROM raw_ny8 r WHERE ST_Intersects(r.geom, u.geom)))::geography), 0) AS a
        FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = 'utm5'`)
      const byCode = new Map(ref.map((r) => [r.code, Number(r.a)]))
      let covered = 0
      for (const row of result.rows) {
        const a = byCode.get(row.unit_code)!
        if (a < 1) expect(row.area_m2).toBeLessThan(1)
        else {
          covered++
          expect(Math.abs(row.area_m2 / a - 1)).toBeLessThan(1e-6)
        }
      }
      expect(covered).toBeGreaterThan(50)
    })

    it('reads the same tracts from a GeoPackage (NAD27 WKT without EPSG code, reported)', async () => {
      const r = await ingestLayer(db, { file: path.join(DIR, 'NY8_bna_utm18.gpkg'), layer: 'ny8_gpkg', kind: 'other', vintage: '1990', maxBytes: 1 << 30 })
      expect(r.format).toBe('geopackage')
      expect(r.loaded).toBe(281)
      expect(r.crsNote).toMatch(/matched no EPSG code/)
      const rows = await db.query<{ a: number; b: number }>(
        `SELECT f.area_m2 AS a, g.area_m2 AS b FROM feature f JOIN feature g ON g.attributes->>'AREAKEY' = f.attributes->>'AREAKEY'
         WHERE f.layer_id = $1 AND g.layer_id = $2`, [layerId, r.layerId])
      expect(rows).toHaveLength(281)
      // same tracts from another boundary file on another datum (NAD27, no grid shift
      // available offline): most areas agree to well under 1 %, a few tracts differ in shape
      const dev = rows.map((x) => Math.abs(x.a / x.b - 1)).sort((p, q) => p - q)
      expect(dev[Math.floor(dev.length / 2)]).toBeLessThan(0.01)
    })
  })
}
