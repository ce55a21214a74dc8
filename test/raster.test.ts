// Rasters: ingestion of every supported layout, zonal statistics against PostGIS
// intersecting each pixel polygon with each unit (geographic, equal-area and
// transverse-Mercator grids), hand-computable continuous statistics, NDVI/FVC,
// transitions and difference of means, tiles, and bad input leaving nothing behind.
import fs from 'node:fs'
import path from 'node:path'
import proj4 from 'proj4'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../server/http/app.ts'
import { loadSettings } from '../server/settings.ts'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { deriveRaster, ingestRaster } from '../server/raster/ingest-raster.ts'
import { closeRasterFiles, findRaster, pixelSource, sourceSpec } from '../server/raster/raster-store.ts'

import { createRuntime } from '../server/runtime.ts'
import { jobUnits, runJob } from '../server/raster/zonal-job.ts'
import { ScanPool } from '../server/raster/scan-pool.ts'
import { zonal, zonalChange, type CategoricalRow, type ContinuousRow } from '../server/raster/zonal.ts'
import { rasterTile, tileStyle } from '../server/tiles/raster-tile.ts'
import { GEOKEYS, writeGeoTiff, type GeoTiffSpec, type WriteType } from '../scripts/raster/write-geotiff.ts'
import { backends } from './helpers/backends.ts'
import { featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { CLASS_AT, CLASS_SQL, FIXTURES } from './helpers/raster-fixtures.ts'
import { baseUrl } from './helpers/http.ts'

const MAX = 1 << 30
const ALBERS = '+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs'
const GK114 = '+proj=tmerc +lat_0=0 +lon_0=114 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs'
const LL = '+proj=longlat +ellps=GRS80 +no_defs'

/** continuous test values: band b at (r, c); nodata (-9999) on the diagonal r = c */
const VALUE_AT = (b: number, r: number, c: number) => (r === c ? -9999 : b === 0 ? 10 + ((r * 13 + c * 7) % 50) : 60 + ((r * 5 + c * 11) % 90))

const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })
const rect = (w: number, s: number, e: number, n: number) => [[w, s], [e, s], [e, n], [w, n], [w, s]]
function circle(cx: number, cy: number, r: number, n: number): number[][] {
  const ring = Array.from({ length: n }, (_, i) => [cx + r * Math.cos((2 * Math.PI * i) / n), cy + 0.77 * r * Math.sin((2 * Math.PI * i) / n)])
  return [...ring, ring[0]!]
}

const UNITS = [
  { code: 'U1', geometry: poly([[116.03, 39.935], [116.09, 39.945], [116.05, 39.975], [116.03, 39.935]]) },
  { code: 'U2', geometry: poly(rect(116.04, 39.94, 116.08, 39.965), rect(116.05, 39.95, 116.06, 39.955).reverse()) },
  { code: 'U3', geometry: poly(rect(116.1, 39.95, 116.4, 39.97)) },
  { code: 'U4', geometry: poly(circle(116.06, 39.955, 0.012, 40)) },
  { code: 'U5', geometry: poly(rect(117.0, 39.0, 117.1, 39.1)) },
  // exactly 2.5 pixels of the geographic rasters: row 25, columns 30, 31 and half of 32
  { code: 'H', geometry: poly(rect(116.03, 39.974, 116.0325, 39.975)) },
]

/** origin of the projected test rasters: the projection of 116.02°E 39.98°N, snapped to 30 m */
function origin(def: string): [number, number] {
  const [x, y] = proj4(LL, def).forward([116.02, 39.98]) as [number, number]
  return [Math.round(x / 30) * 30, Math.round(y / 30) * 30]
}

for (const backend of backends()) {
  describe(`rasters on ${backend.name}`, () => {
    let db: Db
    let dir: string
    let store: string
    let setId: number
    const spec = (over: Partial<GeoTiffSpec> & { type: WriteType }): GeoTiffSpec => ({
      width: 300, height: 200, transform: [116, 0.001, 0, 40, 0, -0.001], geoKeys: GEOKEYS.epsg(4490, true), ...over,
    })
    const add = (file: string, name: string, kind: 'categorical' | 'continuous', extra: Record<string, unknown> = {}) =>
      ingestRaster(db, { file, name, vintage: String(extra.vintage ?? '2023'), kind, rasterDir: store, ...extra })

    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir('eco-raster-')
      store = path.join(dir, 'store')
      await importUnits(db, { file: writeJson(dir, 'units.geojson', featureCollection(UNITS.map((u) => ({ props: { code: u.code }, geometry: u.geometry })), 'EPSG:4490')), set: 'u', maxBytes: MAX })
      setId = (await db.query<{ id: number }>("SELECT id FROM unit_set WHERE name = 'u'"))[0]!.id
      writeGeoTiff(path.join(dir, 'geo.tif'), spec({ type: 'uint8', tile: 32, compression: 'deflate', nodata: 0 }), (_b, r, c) => CLASS_AT(r, c))
      writeGeoTiff(path.join(dir, 'geo_shift.tif'), spec({ type: 'uint8', rowsPerStrip: 9, nodata: 0 }), (_b, r, c) => CLASS_AT(r, c + 5))
      const [ax, ay] = origin(ALBERS)
      writeGeoTiff(path.join(dir, 'albers.tif'), spec({ type: 'uint16', compression: 'packbits', transform: [ax, 30, 0, ay, 0, -30], geoKeys: GEOKEYS.albersCn(), nodata: 0 }), (_b, r, c) => CLASS_AT(r, c))
      const [gx, gy] = origin(GK114)
      writeGeoTiff(path.join(dir, 'gk.tif'), spec({ type: 'uint8', tile: 64, transform: [gx, 30, 0, gy, 0, -30], geoKeys: GEOKEYS.epsg(4547), nodata: 0 }), (_b, r, c) => CLASS_AT(r, c))
      writeGeoTiff(path.join(dir, 'cont.tif'), spec({ type: 'float32', bands: 2, planar: 'pixel', compression: 'deflate', tile: 48, nodata: -9999 }), VALUE_AT)
      writeGeoTiff(path.join(dir, 'cont_later.tif'), spec({ type: 'float32', nodata: -9999 }), (_b, r, c) => (r === c ? -9999 : VALUE_AT(0, r, c) + 1.5))
      await add(path.join(dir, 'geo.tif'), 'landcover', 'categorical')
      await add(path.join(dir, 'geo_shift.tif'), 'landcover', 'categorical', { vintage: '2024' })
      await add(path.join(dir, 'albers.tif'), 'lc_albers', 'categorical')
      writeGeoTiff(path.join(dir, 'albers8.tif'), spec({ type: 'uint8', tile: 32, compression: 'deflate', transform: [ax, 30, 0, ay, 0, -30], geoKeys: GEOKEYS.albersCn(), nodata: 0 }), (_b, r, c) => CLASS_AT(r, c))
      await add(path.join(dir, 'albers8.tif'), 'lc_albers8', 'categorical')
      await add(path.join(dir, 'gk.tif'), 'lc_gk', 'categorical')
      await add(path.join(dir, 'cont.tif'), 'bands', 'continuous')
      await add(path.join(dir, 'cont_later.tif'), 'bands_b1', 'continuous', { vintage: '2024' })
    }, 120_000)
    afterAll(async () => {
      await closeRasterFiles()
      await db?.close()
    })

    /** PostGIS: class area per unit, summing each pixel polygon's intersection with the unit. */
    async function postgisClassAreas(pixelSql: string, areaSql: string, rows: number, cols: number, unitGeom = 'geom'): Promise<Map<string, number>> {
      const out = await db.query<{ code: string; cls: number; area: number }>(
        `WITH px AS (SELECT r, c, ${pixelSql} AS g FROM generate_series(0, ${rows - 1}) r, generate_series(0, ${cols - 1}) c),
              u AS MATERIALIZED (SELECT code, ${unitGeom} AS geom FROM unit WHERE set_id = $1)
         SELECT u.code, ${CLASS_SQL('px.r', 'px.c')} AS cls, sum(${areaSql})::float8 AS area
         FROM u JOIN px ON ST_Intersects(u.geom, px.g) GROUP BY 1, 2`,
        [setId],
      )
      return new Map(out.filter((r) => r.cls !== 0 && r.area > 0).map((r) => [`${r.code}:${r.cls}`, r.area]))
    }

    function expectClassAreas(rows: CategoricalRow[], ref: Map<string, number>, tol: number) {
      const ours = new Map(rows.map((r) => [`${r.unit_code}:${r.class}`, r.area_m2]))
      let worst = 0
      for (const [k, v] of ref) {
        const o = ours.get(k) ?? 0
        worst = Math.max(worst, Math.abs(o - v) / Math.max(v, 1))
        expect(Math.abs(o - v), k).toBeLessThanOrEqual(tol * Math.max(v, 1))
      }
      for (const [k, v] of ours) if (!ref.has(k)) expect(v, `${k} only in ours`).toBeLessThan(1e-6)
      return worst
    }

    it('geographic raster: class areas per unit equal PostGIS pixel polygons ∩ units, with per-row ellipsoidal pixel areas (1e-6)', async () => {
      const r = await zonal(db, 'u', 'landcover@2023', { rasterDir: store })
      expect(r.mode).toBe('categorical')
      const px = 'ST_MakeEnvelope(116 + c * 0.001, 40 + (r + 1) * -0.001, 116 + (c + 1) * 0.001, 40 + r * -0.001, 4490)'
      // the covered fraction of the pixel (planar in degrees, as the raster's own grid) times its ellipsoidal area
      const ref = await postgisClassAreas(px, 'ST_Area(ST_Intersection(u.geom, px.g)) / ST_Area(px.g) * ST_Area(px.g::geography)', 200, 300)
      expect(ref.size).toBeGreaterThan(20)
      expectClassAreas(r.rows as CategoricalRow[], ref, 1e-6)
      // U5 lies outside the raster: no class rows; H is 2.5 pixels of class CLASS_AT(5, 10..12)
      expect((r.rows as CategoricalRow[]).filter((x) => x.unit_code === 'U5')).toEqual([])
      expect(r.unitsOutside).toBe(1)
      const h = (r.rows as CategoricalRow[]).filter((x) => x.unit_code === 'H')
      expect(h.reduce((s, x) => s + x.pixels, 0)).toBeCloseTo(2.5, 9)
      // shares: class area / ellipsoidal unit area. A unit inside the raster with no nodata sums to
      // 1 up to how its edges are read: straight in the raster's lon/lat grid here, geodesics in the
      // unit's own area (5 km edges at 40°N bow 0.4 m apart: ~4e-5 of this triangle)
      const u1 = (r.rows as CategoricalRow[]).filter((x) => x.unit_code === 'U1')
      expect(Math.abs(u1.reduce((s, x) => s + x.share, 0) - 1)).toBeLessThan(1e-4)
    })

    it('equal-area (user-defined Albers) rasters, 16- and 8-bit: class areas equal PostGIS in the projection (1e-6)', async () => {
      const rec = await findRaster(db, 'lc_albers')
      expect(rec.crs).toBe('GEOKEYS:aea')
      const [ax, ay] = origin(ALBERS)
      const px = `ST_MakeEnvelope(${ax} + c * 30, ${ay} - (r + 1) * 30, ${ax} + (c + 1) * 30, ${ay} - r * 30)`
      const ref = await postgisClassAreas(px, 'ST_Area(ST_Intersection(u.geom, px.g))', 200, 300, `ST_Transform(geom, '${ALBERS}')`)
      expect(ref.size).toBeGreaterThan(0)
      // 16-bit (bins with a touched list) and 8-bit (interleaved bins, whole pixels counted)
      for (const name of ['lc_albers', 'lc_albers8']) {
        const r = await zonal(db, 'u', name, { rasterDir: store })
        expectClassAreas(r.rows as CategoricalRow[], ref, 1e-6)
      }
      // (nodata, class 0, counted as a class would be a row that PostGIS does not have)
    })

    it('worker threads: the same sums to the last bit as one thread, for every kind of run; a failing progress report stops the workers', async () => {
      const runs = () => [
        () => zonal(db, 'u', 'lc_albers8', { rasterDir: store }, { reuse: false }),
        () => zonal(db, 'u', 'lc_albers', { rasterDir: store }, { reuse: false }),
        () => zonal(db, 'u', 'landcover@2023', { rasterDir: store }, { reuse: false }),
        () => zonal(db, 'u', 'lc_gk', { rasterDir: store }, { reuse: false }),
        () => zonal(db, 'u', 'bands', { rasterDir: store, band: 2 }, { reuse: false }),
        () => zonalChange(db, 'u', 'landcover@2023', 'landcover@2024', { rasterDir: store }, { reuse: false }),
        () => zonalChange(db, 'u', 'bands', 'bands_b1@2024', { rasterDir: store }, { reuse: false }),
      ]
      // outside a runtime: one thread; then a runtime of two scan threads used for any raster
      const rt = createRuntime({ scanThreads: 2, scanMinPixels: 0 })
      try {
        const one = []
        for (const run of runs()) one.push(await run())
        for (const [i, run] of runs().entries()) {
          const two = await rt.run(run)
          if (two.run.kind === 'zonal') expect((two.run.meta as { stages: { threads: number } }).stages.threads, `run ${i}`).toBe(2)
          expect(two.rows, `run ${i}`).toEqual(one[i]!.rows)
          expect(two.histogramRows, `run ${i}`).toEqual(one[i]!.histogramRows)
        }
        // a progress report that throws (a cancelled or timed-out run) fails the job with its error
        const rec = await findRaster(db, 'lc_albers8')
        const job = { sources: [await sourceSpec(db, store, rec)], grid: { crsProj4: rec.crs_proj4, transform: rec.transform, width: rec.width, height: rec.height, extent: rec.extent }, accumulator: { mode: 'categorical', nodata: 0 } as const, units: await jobUnits(db, setId) }
        await expect(rt.scan.run(job, { progress: async () => { throw new Error('stop here') } })).rejects.toThrow('stop here')
        // and the pool still works afterwards, with the same sums as this thread
        const again = await rt.scan.run(job)
        expect(again.threads).toBe(2)
        expect(rt.scan.workers).toBe(2)
        // warming starts no worker beyond the pool's threads, and none for a job kept in this thread
        rt.scan.warm(1e9)
        expect(rt.scan.workers).toBe(2)
        const small = new ScanPool({ threads: 2, minPixels: 1000 })
        small.warm(999)
        expect(small.workers).toBe(0)
        small.warm(1000)
        expect(small.workers).toBe(2)
        await small.close()
        expect(small.workers).toBe(0)
        const here = await runJob(job)
        const byUnit = (r: typeof here) => new Map(r.inside.map((id, i) => [id, r.sums[i]]))
        expect(byUnit(again)).toEqual(byUnit(here))
        expect(again.inside.length).toBe(here.inside.length)
      } finally {
        await rt.close()
      }
    })

    it('a zonal result read back by the process that ran it (the result memo) equals the stored one', async () => {
      const rt = createRuntime({})
      try {
        const fresh = await rt.run(() => zonal(db, 'u', 'lc_gk', { rasterDir: store }, { reuse: false }))
        expect(fresh.rows.length).toBeGreaterThan(0)
        const stored = await zonal(db, 'u', 'lc_gk', { rasterDir: store }) // another runtime: reused, read from the database
        expect(stored.run.id).toBe(fresh.run.id)
        expect(stored.rows).toEqual(fresh.rows)
      } finally {
        await rt.close()
      }
    })

    it('Gauss-Krüger (EPSG:4547) raster: class areas equal PostGIS with each pixel measured on the ellipsoid (1e-6)', async () => {
      const r = await zonal(db, 'u', 'lc_gk', { rasterDir: store })
      expect(r.pixelArea).toMatch(/^lattice/)
      const [gx, gy] = origin(GK114)
      const px = `ST_MakeEnvelope(${gx} + c * 30, ${gy} - (r + 1) * 30, ${gx} + (c + 1) * 30, ${gy} - r * 30, 4547)`
      const ref = await postgisClassAreas(px, 'ST_Area(ST_Intersection(u.geom, px.g)) / 900 * ST_Area(ST_Transform(px.g, 4490)::geography)', 200, 300, 'ST_Transform(geom, 4547)')
      expect(ref.size).toBeGreaterThan(0)
      expectClassAreas(r.rows as CategoricalRow[], ref, 1e-6)
    })

    it('continuous: a unit of exactly 2.5 pixels gives the hand-computed count, sum, mean, min, max, stddev', async () => {
      const r = await zonal(db, 'u', 'bands', { rasterDir: store, band: 1 })
      const h = (r.rows as ContinuousRow[]).find((x) => x.unit_code === 'H')!
      const [a, b, c] = [VALUE_AT(0, 25, 30), VALUE_AT(0, 25, 31), VALUE_AT(0, 25, 32)]
      const mean = (a + b + 0.5 * c) / 2.5
      const sd = Math.sqrt(((a - mean) ** 2 + (b - mean) ** 2 + 0.5 * (c - mean) ** 2) / 2.5)
      expect(h.count).toBeCloseTo(2.5, 9)
      expect(h.sum).toBeCloseTo(a + b + 0.5 * c, 6)
      expect(h.mean!).toBeCloseTo(mean, 9)
      expect(h.min).toBe(Math.min(a, b, c))
      expect(h.max).toBe(Math.max(a, b, c))
      expect(h.stddev!).toBeCloseTo(sd, 9)
      expect(r.histogramRows.filter((x) => (x as { unit_code: string }).unit_code === 'H')).toHaveLength(10)
    })

    it('continuous: sums and area-weighted means of irregular units equal PostGIS, nodata left out', async () => {
      const r = await zonal(db, 'u', 'bands', { rasterDir: store, band: 2 })
      const ref = await db.query<{ code: string; n: number; s: number; wa: number; wv: number; nd: number }>(
        `WITH px AS (SELECT r, c, ST_MakeEnvelope(116 + c * 0.001, 40 + (r + 1) * -0.001, 116 + (c + 1) * 0.001, 40 + r * -0.001, 4490) AS g,
                            CASE WHEN r = c THEN NULL ELSE 60 + ((r * 5 + c * 11) % 90) END AS v
                     FROM generate_series(0, 199) r, generate_series(0, 299) c),
              f AS (SELECT u.code, ST_Area(ST_Intersection(u.geom, px.g)) / ST_Area(px.g) AS f, ST_Area(px.g::geography) AS a, px.v
                    FROM unit u JOIN px ON ST_Intersects(u.geom, px.g) WHERE u.set_id = $1)
         SELECT code, sum(f) FILTER (WHERE v IS NOT NULL) AS n, sum(f * v) AS s, sum(f * a) FILTER (WHERE v IS NOT NULL) AS wa,
                sum(f * a * v) AS wv, coalesce(sum(f * a) FILTER (WHERE v IS NULL), 0) AS nd
         FROM f GROUP BY code`,
        [setId],
      )
      expect(ref.length).toBe(5)
      for (const x of ref) {
        const o = (r.rows as ContinuousRow[]).find((y) => y.unit_code === x.code)!
        expect(Math.abs(o.count - x.n)).toBeLessThan(1e-6 * x.n)
        expect(Math.abs(o.sum - x.s)).toBeLessThan(1e-6 * x.s)
        expect(Math.abs(o.mean! - x.wv / x.wa)).toBeLessThan(1e-6 * o.mean!)
        expect(Math.abs(o.area_m2 - x.wa)).toBeLessThan(1e-6 * x.wa)
        expect(Math.abs(o.nodata_m2 - x.nd)).toBeLessThanOrEqual(1e-6 * x.wa)
      }
      expect(ref.some((x) => x.nd > 0)).toBe(true)
      const u5 = (r.rows as ContinuousRow[]).find((y) => y.unit_code === 'U5')!
      expect([u5.count, u5.mean]).toEqual([0, null])
    })

    it('NDVI from two bands and FVC from NDVI: pixel values by the formulas; zonal mean over a derived raster', async () => {
      await deriveRaster(db, { op: 'ndvi', from: 'bands', red: 1, nir: 2, name: 'ndvi', rasterDir: store })
      await deriveRaster(db, { op: 'fvc', from: 'ndvi', soil: 0.1, veg: 0.8, name: 'fvc', rasterDir: store })
      const nd = await pixelSource(db, store, await findRaster(db, 'ndvi'))
      const fv = await pixelSource(db, store, await findRaster(db, 'fvc'))
      const a = await nd.read(0, 0, 300, 200)
      const b = await fv.read(0, 0, 300, 200)
      let checked = 0
      for (let r = 0; r < 200; r += 7) {
        for (let c = 0; c < 300; c += 3) {
          const red = VALUE_AT(0, r, c)
          const nir = VALUE_AT(1, r, c)
          if (r === c) {
            expect(Number.isNaN(a[r * 300 + c]!)).toBe(true)
            continue
          }
          const want = Math.fround((nir - red) / (nir + red))
          expect(a[r * 300 + c]).toBe(want)
          expect(b[r * 300 + c]).toBe(Math.fround(Math.min(1, Math.max(0, (want - 0.1) / 0.7))))
          checked++
        }
      }
      expect(checked).toBeGreaterThan(2000)
      const z = await zonal(db, 'u', 'ndvi', { rasterDir: store })
      const h = (z.rows as ContinuousRow[]).find((x) => x.unit_code === 'H')!
      const v = [30, 31, 32].map((c) => Math.fround((VALUE_AT(1, 25, c) - VALUE_AT(0, 25, c)) / (VALUE_AT(1, 25, c) + VALUE_AT(0, 25, c))))
      expect(h.mean!).toBeCloseTo((v[0]! + v[1]! + 0.5 * v[2]!) / 2.5, 9)
      expect(z.histogram).toEqual({ lower: -1, upper: 1, bins: 10 })
    })

    it('class transitions between two categorical rasters on one grid equal PostGIS per class pair (1e-6)', async () => {
      const r = await zonalChange(db, 'u', 'landcover@2023', 'landcover@2024', { rasterDir: store })
      expect(r.mode).toBe('transitions')
      const ref = await db.query<{ code: string; p: number; q: number; area: number }>(
        `WITH px AS (SELECT r, c, ST_MakeEnvelope(116 + c * 0.001, 40 + (r + 1) * -0.001, 116 + (c + 1) * 0.001, 40 + r * -0.001, 4490) AS g
                     FROM generate_series(0, 199) r, generate_series(0, 299) c)
         SELECT u.code, ${CLASS_SQL('px.r', 'px.c')} AS p, ${CLASS_SQL('px.r', '(px.c + 5)')} AS q,
                sum(ST_Area(ST_Intersection(u.geom, px.g)) / ST_Area(px.g) * ST_Area(px.g::geography))::float8 AS area
         FROM unit u JOIN px ON ST_Intersects(u.geom, px.g) WHERE u.set_id = $1 GROUP BY 1, 2, 3`,
        [setId],
      )
      const ours = new Map((r.rows as { unit_code: string; from_class: number; to_class: number; area_m2: number }[]).map((x) => [`${x.unit_code}:${x.from_class}:${x.to_class}`, x.area_m2]))
      let n = 0
      for (const x of ref) {
        if (x.p === 0 || x.q === 0 || x.area === 0) continue
        expect(Math.abs((ours.get(`${x.code}:${x.p}:${x.q}`) ?? 0) - x.area)).toBeLessThanOrEqual(1e-6 * x.area)
        n++
      }
      expect(n).toBeGreaterThan(20)
      await expect(zonalChange(db, 'u', 'landcover@2023', 'lc_albers', { rasterDir: store })).rejects.toThrow(/same grid/)
      await expect(zonalChange(db, 'u', 'landcover@2023', 'bands', { rasterDir: store })).rejects.toThrow(/one kind/)
    })

    it('difference of means between two continuous rasters = the later mean minus the earlier', async () => {
      const r = await zonalChange(db, 'u', 'bands', 'bands_b1@2024', { rasterDir: store })
      for (const x of r.rows as { unit_code: string; mean_from: number | null; mean_to: number | null; mean_diff: number | null }[]) {
        if (x.unit_code === 'U5') expect(x.mean_diff).toBeNull()
        else expect(x.mean_diff!).toBeCloseTo(1.5, 9)
      }
    })

    it('reads every layout: striped/tiled, none/DEFLATE/PackBits/LZW, 8–32-bit integer and float, band- and pixel-interleaved, COG overviews', async () => {
      const types: WriteType[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64']
      const f = (b: number, r: number, c: number) => ((r * 7 + c * 3 + b * 11) % 120) - (b === 1 ? 50 : 0)
      let i = 0
      for (const type of types) {
        for (const layout of [{ tile: 16, compression: 'deflate' as const }, { rowsPerStrip: 5, compression: 'packbits' as const, planar: 'pixel' as const }, { compression: 'none' as const }]) {
          const file = path.join(dir, `layout${i}.tif`)
          const bands = type.startsWith('uint') ? 1 : 2
          writeGeoTiff(file, spec({ type, width: 41, height: 23, bands, ...layout }), (b, r, c) => (type.startsWith('uint') ? Math.abs(f(b, r, c)) : f(b, r, c)))
          const rep = await add(file, `layout${i}`, 'continuous')
          expect([rep.sampleType, rep.bands, rep.compression]).toEqual([type, bands, layout.compression])
          const rec = await findRaster(db, `layout${i}`)
          expect(rec.tiled).toBe(layout.tile !== undefined)
          for (let b = 1; b <= bands; b++) {
            const v = await (await pixelSource(db, store, rec, b)).read(3, 2, 41, 23)
            let bad = 0
            for (let r = 2; r < 23; r++) for (let c = 3; c < 41; c++) {
              const want = type.startsWith('uint') ? Math.abs(f(b - 1, r, c)) : f(b - 1, r, c)
              if (v[(r - 2) * 38 + c - 3] !== want) bad++
            }
            expect(bad, `${type} ${JSON.stringify(layout)} band ${b}`).toBe(0)
          }
          i++
        }
      }
      for (const [file, tiled, compression, overviews] of [['classes_lzw_strips.tif', false, 'lzw', 0], ['classes_cog.tif', true, 'deflate', 3]] as const) {
        const rep = await add(path.join(FIXTURES, file), file.replace('.tif', ''), 'categorical')
        const rec = await findRaster(db, rep.name)
        expect([rec.tiled, rec.compression, rec.overviews.length, rec.crs, rec.nodata]).toEqual([tiled, compression, overviews, 'EPSG:4490', 0])
        const v = await (await pixelSource(db, store, rec)).read(0, 0, 300, 200)
        let bad = 0
        for (let r = 0; r < 200; r++) for (let c = 0; c < 300; c++) if (v[r * 300 + c] !== CLASS_AT(r, c)) bad++
        expect(bad).toBe(0)
        // the ingest scan counted every class as the formula does
        const counts: Record<string, number> = {}
        for (let r = 0; r < 200; r++) for (let c = 0; c < 300; c++) if (CLASS_AT(r, c)) counts[CLASS_AT(r, c)] = (counts[CLASS_AT(r, c)] ?? 0) + 1
        expect(rec.band_stats[0]!.values).toEqual(counts)
      }
    })

    it('real files we did not write: a user-defined Albers with an attribute-table legend, a 6-band DEFLATE Landsat scene, a rotated PixelIsPoint grid', async () => {
      const lc = await add(path.join(FIXTURES, 'lc.tif'), 'pr_landcover', 'categorical')
      expect(lc.legendFrom).toBe('lc.tif.aux.xml')
      const rec = await findRaster(db, 'pr_landcover')
      expect(rec.crs_proj4).toMatch(/\+proj=aea .*\+lat_1=29\.5 \+lat_2=45\.5 \+lat_0=23 \+lon_0=-96 .*\+datum=NAD83/)
      expect(rec.legend!.find((e) => e.value === 11)).toEqual({ value: 11, name: 'Open Water', color: '#476ba1' })
      const l7 = await add(path.join(FIXTURES, 'L7_ETMs.tif'), 'landsat', 'continuous')
      expect([l7.crs, l7.bands, l7.compression, l7.width, l7.height]).toEqual(['EPSG:31985', 6, 'deflate', 349, 352])
      expect((await findRaster(db, 'landsat')).overviews.length).toBe(4)
      await add(path.join(FIXTURES, 'geomatrix.tif'), 'geomatrix', 'continuous')
      // GDAL reports this geotransform for the file (gdalinfo): PixelIsPoint shifted by half a pixel
      expect((await findRaster(db, 'geomatrix')).transform).toEqual([1841001.75, 1.5, -5, 1144003.25, -5, -1.5])
    })

    it.runIf(backend.name === 'pg')('real file, GDAL inside PostGIS as the reference: class areas of lc.tif = ST_PixelAsPolygons ∩ units (1e-6)', async () => {
      if (!(await db.query("SELECT 1 FROM raster_layer WHERE name = 'pr_landcover'")).length) await add(path.join(FIXTURES, 'lc.tif'), 'pr_landcover', 'categorical')
      const proj = (await findRaster(db, 'pr_landcover')).crs_proj4
      const inv = proj4(proj, LL)
      const ll = (ring: number[][]) => ring.map((p) => inv.forward(p as [number, number]) as number[])
      const circ = Array.from({ length: 30 }, (_, i) => [3180000 + 25000 * Math.cos((2 * Math.PI * i) / 30), -10000 + 25000 * Math.sin((2 * Math.PI * i) / 30)])
      const units = [
        { code: 'P1', rings: [[[3110000, -50000], [3200000, -30000], [3150000, 40000], [3110000, -50000]]] },
        { code: 'P2', rings: [[[3220000, -60000], [3300000, -60000], [3300000, 10000], [3220000, 10000], [3220000, -60000]], [[3250000, -30000], [3250000, -10000], [3270000, -10000], [3270000, -30000], [3250000, -30000]]] },
        { code: 'P3', rings: [[...circ, circ[0]!]] },
      ]
      await importUnits(db, { file: writeJson(dir, 'pr.geojson', featureCollection(units.map((u) => ({ props: { code: u.code }, geometry: poly(...u.rings.map(ll)) })), 'EPSG:4490')), set: 'pr', maxBytes: MAX })
      const r = await zonal(db, 'pr', 'pr_landcover', { rasterDir: store })
      await db.query('CREATE EXTENSION IF NOT EXISTS postgis_raster')
      await db.query("SET postgis.gdal_enabled_drivers TO 'GTiff'")
      const ref = await db.query<{ code: string; cls: number; area: number }>(
        `WITH px AS MATERIALIZED (SELECT (ST_PixelAsPolygons(ST_FromGDALRaster($1::bytea))).*),
              u AS MATERIALIZED (SELECT code, ST_Transform(geom, $2::text) AS geom FROM unit WHERE set_id = (SELECT id FROM unit_set WHERE name = 'pr'))
         SELECT u.code, px.val::int AS cls, sum(ST_Area(ST_Intersection(u.geom, px.geom)))::float8 AS area
         FROM u JOIN px ON ST_Intersects(u.geom, px.geom) GROUP BY 1, 2`,
        [fs.readFileSync(path.join(FIXTURES, 'lc.tif')), proj],
      )
      const refMap = new Map(ref.filter((x) => x.area > 1e-3).map((x) => [`${x.code}:${x.cls}`, x.area]))
      expect(refMap.size).toBeGreaterThan(5)
      const worst = expectClassAreas(r.rows as CategoricalRow[], refMap, 1e-6)
      expect(worst).toBeLessThan(1e-6)
      expect((r.rows as CategoricalRow[]).some((x) => x.class_name === 'Open Water')).toBe(true)
    })

    it('raster tiles: legend colours where the classes are, nodata and outside transparent; cached by checksum', async () => {
      const rec = await findRaster(db, 'landcover@2023')
      const cache = path.join(dir, 'tiles')
      // z 12 tile holding 116.0–116.09°E, 39.95–40.0°N
      const z = 12
      const n = 2 ** z
      const tx = Math.floor(((116.05 + 180) / 360) * n)
      const ty = Math.floor(((1 - Math.log(Math.tan((39.98 * Math.PI) / 180) + 1 / Math.cos((39.98 * Math.PI) / 180)) / Math.PI) / 2) * n)
      const style = tileStyle(rec, { size: '256' })
      const t1 = await rasterTile(db, store, cache, rec, z, tx, ty, style)
      expect(t1.cached).toBe(false)
      const { data, info } = await sharp(t1.png).raw().toBuffer({ resolveWithObject: true })
      expect([info.width, info.height, info.channels]).toEqual([256, 256, 4])
      let checked = 0
      let transparent = 0
      for (let py = 2; py < 256; py += 5) {
        for (let px = 2; px < 256; px += 5) {
          const lon = ((tx + (px + 0.5) / 256) / n) * 360 - 180
          const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * (ty + (py + 0.5) / 256)) / n))) * 180) / Math.PI
          const c = (lon - 116) / 0.001
          const r = (40 - lat) / 0.001
          const o = (py * 256 + px) * 4
          // skip pixels within 0.01 pixel of a raster pixel edge (interpolated positions)
          if (Math.abs(c - Math.round(c)) < 0.01 || Math.abs(r - Math.round(r)) < 0.01) continue
          if (c < 0 || r < 0 || c >= 300 || r >= 200 || CLASS_AT(Math.floor(r), Math.floor(c)) === 0) {
            expect(data[o + 3]).toBe(0)
            transparent++
            continue
          }
          expect(data[o + 3]).toBe(255)
          checked++
        }
      }
      expect(checked).toBeGreaterThan(100)
      expect(transparent).toBeGreaterThan(10)
      const t2 = await rasterTile(db, store, cache, rec, z, tx, ty, style)
      expect([t2.cached, t2.png.equals(t1.png)]).toEqual([true, true])
      await expect(rasterTile(db, store, cache, rec, 3, 9, 0, style)).rejects.toThrow(/does not exist/)
    })

    it('HTTP: upload with a key, list, zonal CSV, raster change JSON, runs, tiles with cache headers, clear 4xx', async () => {
      const KEY = 'raster-key-0123456789'
      const settings = { ...loadSettings({}), apiKey: KEY, maxUploadBytes: 5_000_000, rasterDir: store, tileCacheDir: path.join(dir, 'http-tiles') }
      const server = createApp({ db, settings }).listen(0, '127.0.0.1')
      const base = await baseUrl(server)
      try {
        const body = new Uint8Array(fs.readFileSync(path.join(dir, 'geo.tif')))
        const legend = encodeURIComponent(JSON.stringify([{ value: 1, name: '林地', colour: '#228b22' }]))
        const post = (q: string, key: string | null = KEY) => fetch(`${base}/api/rasters?${q}`, { method: 'POST', body, headers: { 'content-type': 'image/tiff', ...(key ? { authorization: `Bearer ${key}` } : {}) } })
        expect((await post('filename=geo.tif&name=web&vintage=2023&kind=categorical', null)).status).toBe(401)
        expect((await post('filename=geo.shp&name=web&vintage=2023&kind=categorical')).status).toBe(400)
        expect((await post('filename=geo.tif&name=web&vintage=2023&kind=fuzzy')).status).toBe(400)
        const created = await post(`filename=geo.tif&name=web&vintage=2023&kind=categorical&legend=${legend}`)
        expect(created.status).toBe(201)
        expect((await post('filename=geo.tif&name=web&vintage=2023&kind=categorical')).status).toBe(409)
        const list = (await (await fetch(`${base}/api/rasters`)).json()) as { name: string; legend: unknown }[]
        expect(list.find((x) => x.name === 'web')!.legend).toEqual([{ value: 1, name: '林地', color: '#228b22' }])
        const analyst = { headers: { 'x-api-key': KEY } } // computing a new run needs a key on a server with keys
        const csv = await fetch(`${base}/api/stats/zonal?units=u&raster=web&format=csv`, analyst)
        expect(csv.status).toBe(200)
        expect(csv.headers.get('x-run-id')).toMatch(/^\d+$/)
        const text = await csv.text()
        expect(text.split('\r\n')[0]).toBe('unit_code,unit_name,raster,vintage,class,area_m2,share,class_name,pixels')
        expect(text).toContain(',林地,')
        const change = (await (await fetch(`${base}/api/stats/raster-change?units=u&from=landcover@2023&to=landcover@2024`, analyst)).json()) as { mode: string; rows: unknown[] }
        expect(change.mode).toBe('transitions')
        expect(change.rows.length).toBeGreaterThan(20)
        const run = await fetch(`${base}/api/runs`, { method: 'POST', body: JSON.stringify({ kind: 'zonal', units: 'u', raster: 'bands', band: 2 }), headers: { 'content-type': 'application/json', 'x-api-key': KEY } })
        expect([200, 202]).toContain(run.status)
        expect((await fetch(`${base}/api/stats/zonal?units=u&raster=web&band=abc`)).status).toBe(400)
        expect((await fetch(`${base}/api/stats/zonal?units=u&raster=nosuch`, analyst)).status).toBe(404)
        const n = 2 ** 12
        const tx = Math.floor(((116.05 + 180) / 360) * n)
        const ty = Math.floor(((1 - Math.log(Math.tan((39.98 * Math.PI) / 180) + 1 / Math.cos((39.98 * Math.PI) / 180)) / Math.PI) / 2) * n)
        const t1 = await fetch(`${base}/tiles/raster/web/12/${tx}/${ty}.png?size=512`)
        expect([t1.status, t1.headers.get('content-type'), t1.headers.get('x-tile-cache')]).toEqual([200, 'image/png', 'miss'])
        const meta = await sharp(Buffer.from(await t1.arrayBuffer())).metadata()
        expect([meta.width, meta.height]).toEqual([512, 512])
        expect((await fetch(`${base}/tiles/raster/web/12/${tx}/${ty}.png?size=512`)).headers.get('x-tile-cache')).toBe('hit')
        expect((await fetch(`${base}/tiles/raster/bands/12/${tx}/${ty}.png?range=0,100&ramp=ndvi&band=2`)).status).toBe(200)
        expect((await fetch(`${base}/tiles/raster/web/3/99/0.png`)).status).toBe(400)
        expect((await fetch(`${base}/tiles/raster/web/12/${tx}/${ty}.png?size=300`)).status).toBe(400)
        expect((await fetch(`${base}/tiles/raster/nosuch/1/0/0.png`)).status).toBe(404)
      } finally {
        server.close()
      }
    })

    it('bad input: a truncated file, no georeferencing, no CRS, float as categorical, duplicates, bad bands leave no row and no file', async () => {
      const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raster_layer')
      const filesBefore = fs.readdirSync(store).length
      const good = fs.readFileSync(path.join(dir, 'geo.tif'))
      const cut = path.join(dir, 'cut.tif')
      fs.writeFileSync(cut, good.subarray(0, Math.floor(good.length / 2)))
      await expect(add(cut, 'cut', 'categorical')).rejects.toThrow(/cut\.tif/)
      const noGeo = path.join(dir, 'nogeo.tif')
      writeGeoTiff(noGeo, spec({ type: 'uint8', geoKeys: {} }), () => 1)
      await expect(add(noGeo, 'nocrs', 'categorical')).rejects.toThrow(/names no CRS.*--crs/)
      await expect(add(path.join(dir, 'cont.tif'), 'x', 'categorical')).rejects.toThrow(/float32 samples cannot be categorical/)
      await expect(add(path.join(dir, 'geo.tif'), 'landcover', 'categorical')).rejects.toThrow(/already exists/)
      await expect(add(path.join(dir, 'missing.tif'), 'x', 'categorical')).rejects.toThrow(/no such file/)
      // a header that lies: 5 000 000 pixels wide (refused before any allocation)
      const liar = path.join(dir, 'liar.tif')
      writeGeoTiff(liar, spec({ type: 'uint8', width: 41, height: 23 }), () => 1)
      const bytes = fs.readFileSync(liar)
      const ifd = bytes.readUInt32LE(4)
      expect(bytes.readUInt16LE(ifd + 2)).toBe(256) // first entry: ImageWidth
      bytes.writeUInt32LE(5_000_000, ifd + 2 + 8)
      fs.writeFileSync(liar, bytes)
      await expect(add(liar, 'liar', 'continuous')).rejects.toThrow(/5000000×23 pixels is not a plausible raster/)
      const notTiff = path.join(dir, 'not.tif')
      fs.writeFileSync(notTiff, 'hello, not a tiff')
      await expect(add(notTiff, 'x', 'continuous')).rejects.toThrow(/not a readable TIFF/)
      await expect(zonal(db, 'u', 'bands', { rasterDir: store, band: 3 })).rejects.toThrow(/band 3/)
      await expect(zonal(db, 'u', 'nosuch', { rasterDir: store })).rejects.toThrow(/no raster 'nosuch'/)
      await expect(deriveRaster(db, { op: 'ndvi', from: 'bands', red: 1, nir: 1, name: 'bad', rasterDir: store })).rejects.toThrow(/same band/)
      await expect(add(path.join(dir, 'cont.tif'), 'bands', 'continuous', { replace: true })).rejects.toThrow(/source of ndvi@2023/)
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raster_layer'))[0]!.n).toBe(before[0]!.n)
      expect(fs.readdirSync(store).length).toBe(filesBefore)
      // --crs supplies what the GeoKeys lack
      expect((await add(noGeo, 'nocrs', 'categorical', { crs: 'EPSG:4490' })).crs).toBe('EPSG:4490')
    })
  })
}
