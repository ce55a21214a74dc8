// OGC API - Features (http/ogc/features.ts) with GDAL as the real client: `ogrinfo` lists the
// collections, `ogr2ogr` copies a layer version (paging through it), a unit set and a run's
// per-unit results into a GeoPackage; counts, attributes, areas and bbox filters are checked
// against PostGIS itself and the run's own CSV. Also: CGCS2000 axis order, paging links,
// regional keys, and errors.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { addKey } from '../server/auth/keys.ts'
import { backends } from './helpers/backends.ts'
import { serverPool } from './helpers/http.ts'
import { tmpDir } from './helpers/fixtures.ts'
import { csvRecords, csvRows, gdalTool, haveGdal } from './helpers/gdal.ts'

const CGCS2000 = 'http://www.opengis.net/def/crs/EPSG/0/4490'
const gdal = haveGdal('the OGC API tests')
const run = gdalTool

/** Feature rows of a GeoPackage table read back with ogr2ogr as CSV (no geometry). */
async function rowsOf(gpkg: string, table: string, dir: string): Promise<Record<string, string>[]> {
  const csv = path.join(dir, `${table.replace(/[^a-z0-9]/gi, '_')}.csv`)
  fs.rmSync(csv, { force: true })
  // GDAL keeps a layer's integer feature ids as the GeoPackage's fids
  await run('ogr2ogr', ['-f', 'CSV', csv, gpkg, '-sql', `SELECT fid AS feature_id, * FROM "${table}"`])
  return csvRecords(fs.readFileSync(csv, 'utf8'))
}

for (const backend of backends()) {
  describe.skipIf(!gdal)(`OGC API - Features (${backend.name})`, () => {
    let db: Db
    let base: string
    let runId: number
    const servers = serverPool()
    const dir = tmpDir()

    beforeAll(async () => {
      db = await backend.open()
      await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'counties', maxBytes: 1 << 30 })
      await ingestLayer(db, { file: path.join(SAMPLE_DIR, 'layers/forest_2023.shp'), layer: 'forest', kind: 'forest', vintage: '2023', maxBytes: 1 << 30 })
      base = await servers.start(db, { dir, settings: { runsPerMinute: 0 } })
      const cov = await fetch(`${base}/api/stats/coverage?units=counties&layers=forest@2023&format=json`)
      expect(cov.status).toBe(200)
      runId = Number(cov.headers.get('x-run-id'))
    })
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
    })

    it('GDAL lists the collections and copies a layer version page by page, every feature and attribute intact', async () => {
      const listing = await run('ogrinfo', ['-ro', '-so', `OAPIF:${base}/ogc`])
      expect(listing).toContain('layer:forest@2023')
      expect(listing).toContain('units:counties')
      expect(listing).toContain(`run:${runId}`)
      const gpkg = path.join(dir, 'copy.gpkg')
      // 40 features a page: the 252 features come in 7 requests, following the next links
      await run('ogr2ogr', ['-f', 'GPKG', gpkg, `OAPIF:${base}/ogc`, 'layer:forest@2023', 'units:counties', `run:${runId}`, '-oo', 'PAGE_SIZE=40'])
      const copied = await rowsOf(gpkg, 'layer:forest@2023', dir)
      const [truth] = await db.query<{ n: number; area: number; cats: number }>(
        "SELECT count(*)::int AS n, sum(area_m2)::float8 AS area, count(DISTINCT category)::int AS cats FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'forest' AND l.vintage = '2023'")
      expect(copied.length).toBe(truth!.n)
      expect(new Set(copied.map((r) => r.feature_id)).size).toBe(truth!.n) // no feature twice across pages
      expect(copied.reduce((s, r) => s + Number(r.area_m2), 0)).toBeCloseTo(truth!.area, 3)
      // the survey's own attributes (GBK in the .dbf) arrive as text, beside ours
      const [one] = await db.query<{ id: number; attributes: Record<string, unknown>; category: string | null }>(
        "SELECT f.id::int AS id, f.attributes, f.category FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'forest' AND l.vintage = '2023' ORDER BY f.id LIMIT 1")
      const row = copied.find((r) => Number(r.feature_id) === one!.id)!
      for (const [k, v] of Object.entries(one!.attributes)) expect(row[k], k).toBe(String(v))
      expect(Object.values(one!.attributes).some((v) => /[\u4e00-\u9fff]/.test(String(v)))).toBe(true)
      // the geometry GDAL stored has the area PostGIS gives the stored one (ellipsoidal, 1e-6)
      const wkt = (await run('ogrinfo', ['-ro', '-q', '-fid', String(one!.id), gpkg, 'layer:forest@2023'])).match(/MULTIPOLYGON \(\(\(.*\)\)\)/)![0]
      const [areas] = await db.query<{ theirs: number; ours: number }>(
        'SELECT ST_Area(ST_GeomFromText($1, 4490)::geography) AS theirs, (SELECT ST_Area(geom::geography) FROM feature WHERE id = $2) AS ours', [wkt, one!.id])
      expect(Math.abs(areas!.theirs - areas!.ours) / areas!.ours).toBeLessThan(1e-6)
    })

    it("a run's collection carries its per-unit results: the same numbers as its CSV", async () => {
      const gpkg = path.join(dir, 'copy.gpkg')
      const units = await rowsOf(gpkg, `run:${runId}`, dir)
      const csv = csvRows(await (await fetch(`${base}/api/runs/${runId}/result?format=csv`)).text())
      const head = csv[0]!.map((h) => h.replace(/^\ufeff/, ''))
      const forest = csv.slice(1).filter((l) => l[head.indexOf('layer')] === 'forest')
      expect(units.length).toBe(7)
      expect(forest.length).toBe(7)
      for (const l of forest) {
        const u = units.find((x) => x.code === l[head.indexOf('unit_code')])!
        expect(Number(u['forest@2023_m2'])).toBeCloseTo(Number(l[head.indexOf('area_m2')]), 4)
        expect(Number(u['forest@2023_share'])).toBeCloseTo(Number(l[head.indexOf('share')]), 12)
      }
      const counties = await rowsOf(gpkg, 'units:counties', dir)
      expect(counties.map((r) => r.code).sort()).toEqual(units.map((r) => r.code).sort())
      expect(counties.find((r) => r.code === '341024')!.name).toBe('祁门县')
    })

    it('bbox selects what PostGIS says intersects it, in CRS84 or CGCS2000 order; paging links add up', async () => {
      const box = [118.0, 29.8, 118.3, 30.1]
      const [truth] = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'forest' AND l.vintage = '2023' AND ST_Intersects(f.geom, ST_MakeEnvelope($1, $2, $3, $4, 4490))", box)
      expect(truth!.n).toBeGreaterThan(3)
      const items = `${base}/ogc/collections/${encodeURIComponent('layer:forest@2023')}/items`
      const a = await (await fetch(`${items}?bbox=${box.join(',')}&limit=1000`)).json()
      expect(a.numberMatched).toBe(truth!.n)
      expect(a.numberReturned).toBe(truth!.n)
      expect(a.links.some((l: { rel: string }) => l.rel === 'next')).toBe(false)
      const flipped = [box[1], box[0], box[3], box[2]].join(',')
      const b = await (await fetch(`${items}?bbox=${flipped}&bbox-crs=${encodeURIComponent(CGCS2000)}&limit=1000`)).json()
      expect(b.features.map((f: { id: number }) => f.id)).toEqual(a.features.map((f: { id: number }) => f.id))
      // walk the pages by their next links: every feature once
      const seen: number[] = []
      let url: string | undefined = `${items}?bbox=${box.join(',')}&limit=2`
      while (url) {
        const page = await (await fetch(url)).json()
        expect(page.numberMatched).toBe(truth!.n)
        seen.push(...page.features.map((f: { id: number }) => f.id))
        url = page.links.find((l: { rel: string }) => l.rel === 'next')?.href
      }
      expect(seen).toEqual(a.features.map((f: { id: number }) => f.id))
      // CGCS2000 output: latitude first, Content-Crs says so
      const id = a.features[0].id
      const lonLat = await fetch(`${items}/${id}`)
      expect(lonLat.headers.get('content-crs')).toBe('<http://www.opengis.net/def/crs/OGC/1.3/CRS84>')
      const latLon = await fetch(`${items}/${id}?crs=${encodeURIComponent(CGCS2000)}`)
      expect(latLon.headers.get('content-crs')).toBe(`<${CGCS2000}>`)
      const p = (await lonLat.json()).geometry.coordinates[0][0][0]
      const q = (await latLon.json()).geometry.coordinates[0][0][0]
      expect(q).toEqual([p[1], p[0]])
      expect(p[0]).toBeGreaterThan(117) // longitude first in CRS84
    })

    it('a key limited to a county sees its units only; errors name what is wrong', async () => {
      const key = (await addKey(db, 'ogc-qimen', 'reader', ['341024'])).key
      const headers = { authorization: `Bearer ${key}` }
      const units = await (await fetch(`${base}/ogc/collections/${encodeURIComponent('units:counties')}/items?limit=100`, { headers })).json()
      expect(units.features.map((f: { id: string }) => f.id)).toEqual(['341024'])
      expect(units.numberMatched).toBe(1)
      const run1 = await (await fetch(`${base}/ogc/collections/run:${runId}/items`, { headers })).json()
      expect(run1.features.map((f: { id: string }) => f.id)).toEqual(['341024'])
      const other = await fetch(`${base}/ogc/collections/units:counties/items/341002`, { headers })
      expect(other.status).toBe(404)
      const unknown = await fetch(`${base}/ogc/collections/units:nowhere`)
      expect(unknown.status).toBe(404)
      const badBox = await fetch(`${base}/ogc/collections/units:counties/items?bbox=10,20,5,30`)
      expect(badBox.status).toBe(400)
      expect((await badBox.json()).error.message).toMatch(/'bbox'/)
      const badCrs = await fetch(`${base}/ogc/collections/units:counties/items?crs=EPSG:4527`)
      expect(badCrs.status).toBe(400)
      expect((await badCrs.json()).error.message).toMatch(/'crs'.*CRS84/)
      const noFeature = await fetch(`${base}/ogc/collections/layer:forest@2023/items/999999999`)
      expect(noFeature.status).toBe(404)
    })
  })
}
