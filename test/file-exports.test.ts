// Results as GeoPackage and zipped GBK shapefile (results/geopackage.ts, results/shapefile.ts),
// read back by GDAL (Debian gdal-bin) as the independent reader: feature counts, CRS
// (CGCS2000), attributes (Chinese text through the .cpg), numbers equal to the run's CSV,
// geometry whose geodesic area PostGIS gives as for the stored units; and by our own ingest.
import fs from 'node:fs'
import path from 'node:path'
import iconv from 'iconv-lite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { fieldNames, shpAndShx } from '../server/results/shapefile.ts'
import { backends } from './helpers/backends.ts'
import { serverPool } from './helpers/http.ts'
import { tmpDir } from './helpers/fixtures.ts'
import { runCli } from './helpers/cli.ts'
import { csvRecords, gdalTool, haveGdal } from './helpers/gdal.ts'

const gdal = haveGdal('the export tests')
const run = gdalTool
const parseCsv = csvRecords

/** A vector dataset's first layer as rows (GDAL's CSV driver, geometry as WKT). */
async function read(source: string, dir: string, tag: string): Promise<Record<string, string>[]> {
  const csv = path.join(dir, `${tag}.csv`)
  fs.rmSync(csv, { force: true })
  await run('ogr2ogr', ['-f', 'CSV', csv, source, '-lco', 'GEOMETRY=AS_WKT'])
  return parseCsv(fs.readFileSync(csv, 'utf8'))
}

describe('shapefile field names', () => {
  it('are at most 10 bytes in GBK and unique', () => {
    const names = fieldNames(['forest@2023_m2', 'forest@2023_share', 'forest@2023:国家级_m2', 'forest@2023:国家级_share', 'code', 'CODE', '名称名称名称'])
    for (const n of names) expect(iconv.encode(n, 'gbk').length).toBeLessThanOrEqual(10)
    expect(new Set(names.map((n) => n.toUpperCase())).size).toBe(names.length)
    expect(names[0]).toBe('forest_202')
    expect(names[4]).toBe('code')
    expect(names[5]).toBe('CODE_1')
  })
})

describe('shapefile rings', () => {
  it('outer rings clockwise and holes counter-clockwise, whatever the WKB had; .shx points at each record', () => {
    // a 10×10 square counter-clockwise with a 2×2 hole also counter-clockwise (as GeoJSON has outer rings)
    const rings = [[0, 0, 10, 0, 10, 10, 0, 10, 0, 0], [4, 4, 6, 4, 6, 6, 4, 6, 4, 4]]
    const wkb = Buffer.alloc(1 + 4 + 4 + rings.reduce((n, r) => n + 4 + 8 * r.length, 0))
    wkb[0] = 1
    wkb.writeUInt32LE(3, 1)
    wkb.writeUInt32LE(rings.length, 5)
    let o = 9
    for (const r of rings) {
      wkb.writeUInt32LE(r.length / 2, o); o += 4
      for (const v of r) { wkb.writeDoubleLE(v, o); o += 8 }
    }
    const { shp, shx } = shpAndShx([{ code: 'a', wkb, bbox: [0, 0, 10, 10], properties: {} }, { code: 'b', wkb, bbox: [0, 0, 10, 10], properties: {} }])
    expect(shp.readInt32BE(24) * 2).toBe(shp.length)
    const rec = 100 + 8
    expect(shp.readInt32LE(rec)).toBe(5)
    const parts = shp.readInt32LE(rec + 36), points = shp.readInt32LE(rec + 40)
    expect([parts, points]).toEqual([2, 10])
    const pt = (i: number) => [shp.readDoubleLE(rec + 44 + 4 * parts + 16 * i), shp.readDoubleLE(rec + 44 + 4 * parts + 16 * i + 8)] as const
    const signed = (from: number, to: number) => { let a = 0; for (let i = from; i < to - 1; i++) a += pt(i)[0] * pt(i + 1)[1] - pt(i + 1)[0] * pt(i)[1]; return a / 2 }
    expect(signed(0, 5)).toBe(-100) // outer: clockwise
    expect(signed(5, 10)).toBe(4) // hole: counter-clockwise
    // the index: second record right after the first
    expect(shx.readInt32BE(100 + 8) * 2).toBe(100 + 8 + shp.readInt32BE(100 + 4) * 2)
  })
})

for (const backend of backends()) {
  describe.skipIf(!gdal)(`GeoPackage and shapefile exports (${backend.name})`, () => {
    let db: Db
    let base: string
    let runId: number
    let csv: Record<string, string>[]
    const servers = serverPool()
    const dir = tmpDir()

    beforeAll(async () => {
      db = await backend.open()
      await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'counties', maxBytes: 1 << 30 })
      await ingestLayer(db, { file: path.join(SAMPLE_DIR, 'layers/forest_2023.shp'), layer: 'forest', kind: 'forest', vintage: '2023', categoryField: '事权等级', maxBytes: 1 << 30 })
      base = await servers.start(db, { dir, settings: { runsPerMinute: 0 } })
      const r = await fetch(`${base}/api/stats/coverage?units=counties&layers=forest@2023&categories=true&format=csv`)
      expect(r.status).toBe(200)
      runId = Number(r.headers.get('x-run-id'))
      csv = parseCsv(await r.text())
    })
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
    })

    const expected = (code: string, category?: string) => csv.find((r) => r.unit_code === code && r.layer === 'forest' && (category === undefined ? r.measure === 'layer' : r.category === category))!

    it('GeoPackage: GDAL reads 7 units in CGCS2000 with the run\'s numbers and the stored geometry', async () => {
      const res = await fetch(`${base}/api/runs/${runId}/result?format=gpkg`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/geopackage/)
      expect(res.headers.get('content-disposition')).toMatch(/\.gpkg/)
      const file = path.join(dir, 'out.gpkg')
      fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()))
      const info = await run('ogrinfo', ['-so', file, `run${runId}`])
      expect(info).toMatch(/Feature Count: 7/)
      expect(info).toMatch(/ID\["EPSG",4490\]/)
      const rows = await read(file, dir, 'gpkg')
      expect(rows.length).toBe(7)
      for (const r of rows) {
        expect(Number(r['forest@2023_m2'])).toBeCloseTo(Number(expected(r.code!).area_m2), 4)
        expect(Number(r['forest@2023:国家级_m2'] || 0)).toBeCloseTo(Number(expected(r.code!, '国家级')?.area_m2 ?? 0), 4)
      }
      expect(rows.find((r) => r.code === '341024')!.name).toBe('祁门县')
      // geometry as stored: the geodesic area of what GDAL read equals the unit's
      for (const r of rows) {
        const [a] = await db.query<{ theirs: number; ours: number }>(
          "SELECT ST_Area(ST_GeomFromText($1, 4490)::geography) AS theirs, (SELECT ST_Area(geom::geography) FROM unit WHERE code = $2 AND set_id = (SELECT id FROM unit_set WHERE name = 'counties')) AS ours", [r.WKT, r.code])
        expect(Math.abs(a!.theirs - a!.ours) / a!.ours, r.code).toBeLessThan(1e-9)
      }
    })

    it('shapefile: GDAL reads the zip (GBK through .cpg, CGCS2000 .prj); our ingest reads it back', async () => {
      const res = await fetch(`${base}/api/runs/${runId}/result?format=shp`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/zip/)
      const zip = path.join(dir, 'out.zip')
      fs.writeFileSync(zip, Buffer.from(await res.arrayBuffer()))
      const vsi = `/vsizip/${zip}/run${runId}.shp`
      const info = await run('ogrinfo', ['-so', vsi, `run${runId}`])
      expect(info).toMatch(/Feature Count: 7/)
      expect(info).toMatch(/China Geodetic Coordinate System 2000|CGCS2000|China_2000/)
      const fields = parseCsv((await run('ogr2ogr', ['-f', 'CSV', '/vsistdout/', `/vsizip/${zip}/fields.csv`])))
      const short = (p: string) => fields.find((f) => f.property === p)!.field!
      const rows = await read(vsi, dir, 'shp')
      expect(rows.length).toBe(7)
      for (const r of rows) {
        expect(Number(r[short('forest@2023_m2')])).toBeCloseTo(Number(expected(r.code!).area_m2), 4)
        expect(Number(r[short('forest@2023_share')])).toBeCloseTo(Number(expected(r.code!).share), 12)
      }
      expect(rows.find((r) => r.code === '341024')!.name).toBe('祁门县')
      for (const r of rows) {
        const [a] = await db.query<{ theirs: number; ours: number; cw: boolean }>(
          "SELECT ST_Area(ST_GeomFromText($1, 4490)::geography) AS theirs, (SELECT ST_Area(geom::geography) FROM unit WHERE code = $2 AND set_id = (SELECT id FROM unit_set WHERE name = 'counties')) AS ours, ST_IsPolygonCW(ST_GeomFromText($1, 4490)) AS cw", [r.WKT, r.code])
        expect(Math.abs(a!.theirs - a!.ours) / a!.ours, r.code).toBeLessThan(1e-9)
        expect(a!.cw, r.code).toBe(true)
      }
      // the zip goes back in as a unit set: same codes, names, areas
      const back = await importUnits(db, { file: zip, set: 'counties_back', codeField: 'code', nameField: 'name', maxBytes: 1 << 30 })
      expect(back.loaded).toBe(7)
      const [cmp] = await db.query<{ n: number; worst: number }>(
        `SELECT count(*)::int AS n, max(abs(a.area_m2 - b.area_m2) / a.area_m2) AS worst FROM unit a JOIN unit b ON a.code = b.code AND a.name = b.name
         WHERE a.set_id = (SELECT id FROM unit_set WHERE name = 'counties') AND b.set_id = (SELECT id FROM unit_set WHERE name = 'counties_back')`)
      expect(cmp!.n).toBe(7)
      expect(cmp!.worst).toBeLessThan(1e-9)
    })

    it('a rollup has no outlines to draw: refused for gpkg and shp; the CLI lists the formats', async () => {
      for (const format of ['gpkg', 'shp']) {
        const r = await fetch(`${base}/api/runs/${runId}/result?format=${format}&rollup=county`)
        expect(r.status).toBe(400)
        expect((await r.json()).error.message).toContain(format)
      }
      const choice = runCli(['stats', 'coverage', '--units', 'x', '--format', 'kml'], { ...process.env })
      expect(choice.code).toBe(2)
      expect(choice.err).toMatch(/gpkg/)
      expect(choice.err).toMatch(/shp/)
    })
  })
}
