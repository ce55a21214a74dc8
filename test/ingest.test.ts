// Vector ingestion: what loads, how it is reported, and every kind of bad input failing
// with its own clear message while the database stays exactly as it was.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { ingestLayer, type IngestLayerOptions } from '../server/ingest/ingest-layer.ts'
import { importUnits } from '../server/units/import-units.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { AppError } from '../server/errors.ts'
import { writeShapefile, esriGkZonePrj, type ShpRecord } from '../scripts/sample/write-shapefile.ts'
import { backends, snapshot } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { writeZip } from './helpers/zip.ts'

const MAX = 1 << 30
const FIELDS = [{ name: '名称', type: 'C' as const, length: 40 }, { name: 'BSM', type: 'N' as const, length: 8 }]
// GK zone 39 squares near 117°E 30°N (x = 39 500 000 is the central meridian)
const gkSquare = (k: number, size = 1000): ShpRecord => {
  const x = 39_500_000 + k * 2000, y = 3_320_000
  return { attributes: { 名称: `图斑${k}`, BSM: k }, polygons: [[[[x, y], [x, y + size], [x + size, y + size], [x + size, y], [x, y]]]] }
}

for (const backend of backends()) {
  describe(`ingestion on ${backend.name}`, () => {
    let db: Db
    let dir: string
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
    })
    afterAll(async () => db?.close())

    const opts = (file: string | string[], o: Partial<IngestLayerOptions> = {}): IngestLayerOptions => ({ file, layer: 'l', kind: 'forest', vintage: '2024', maxBytes: MAX, ...o })
    /** The promise must fail with a user error matching `re`, leaving every table as it was. */
    const rejectsUnchanged = async (p: () => Promise<unknown>, re: RegExp, status = 400) => {
      const before = await snapshot(db)
      const err = await p().then(() => undefined, (e: unknown) => e)
      expect(err, 'should have failed').toBeInstanceOf(AppError)
      expect((err as Error).message).toMatch(re)
      expect((err as AppError).status).toBe(status)
      expect(await snapshot(db)).toEqual(before)
    }
    const shp = (name: string, records: ShpRecord[], o: Parameters<typeof writeShapefile>[3] = { encoding: 'gbk', prj: esriGkZonePrj(39) }) => {
      const base = path.join(dir, name)
      writeShapefile(base, FIELDS, records, o)
      return base + '.shp'
    }

    it('loads a GBK shapefile in GK zone 39 with Chinese attributes, category and report', async () => {
      const r = await ingestLayer(db, opts(path.join(SAMPLE_DIR, 'layers/protected_area_2023.shp'), { layer: 'pa', kind: 'protected_area', vintage: '2023', categoryField: '类型' }))
      expect(r.crs).toBe('EPSG:4527')
      expect(r.encoding).toBe('gbk')
      expect(r.loaded).toBe(r.read)
      const rows = await db.query<{ name: string; category: string; lon: number }>(
        "SELECT attributes->>'名称' AS name, category, ST_X(ST_Centroid(geom)) AS lon FROM feature WHERE layer_id = $1 ORDER BY src_index LIMIT 3", [r.layerId])
      expect(rows[0]!.name).toMatch(/^(国家公园|自然保护区|自然公园)-\d+号$/)
      expect(['国家公园', '自然保护区', '自然公园']).toContain(rows[0]!.category)
      expect(rows[0]!.lon).toBeGreaterThan(117)
      expect(rows[0]!.lon).toBeLessThan(119)
    })

    it('repairs a self-intersecting polygon and reports it', async () => {
      const x = 39_500_000, y = 3_320_000
      const bowtie: ShpRecord = { attributes: { 名称: '蝴蝶', BSM: 1 }, polygons: [[[[x, y], [x + 1000, y + 1000], [x + 1000, y], [x, y + 1000], [x, y]]]] }
      const file = shp('bowtie', [gkSquare(1), bowtie], { encoding: 'gbk', prj: esriGkZonePrj(39), raw: true })
      const r = await ingestLayer(db, opts(file, { layer: 'bowtie' }))
      expect(r.repaired).toHaveLength(1)
      expect(r.repaired[0]!.index).toBe(1)
      expect(r.repaired[0]!.reason).toMatch(/Self-intersection/i)
      const [a] = await db.query<{ valid: boolean; area: number }>('SELECT bool_and(ST_IsValid(geom)) AS valid, max(area_m2) FILTER (WHERE src_index = 1) AS area FROM feature WHERE layer_id = $1', [r.layerId])
      expect(a!.valid).toBe(true)
      // two triangles of a 1 km square: half of ~1e6 m² (GK scale near the meridian ≈ 1)
      expect(Math.abs(a!.area / 5e5 - 1)).toBeLessThan(1e-3)
    })

    it('fails on self-intersection with --invalid fail', async () => {
      const x = 39_500_000, y = 3_320_000
      const bowtie: ShpRecord = { attributes: { 名称: '蝴蝶', BSM: 1 }, polygons: [[[[x, y], [x + 1000, y + 1000], [x + 1000, y], [x, y + 1000], [x, y]]]] }
      const file = shp('bowtie2', [bowtie], { encoding: 'gbk', prj: esriGkZonePrj(39), raw: true })
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'bowtie2', invalid: 'fail' })), /1 invalid polygon\(s\), first feature 1: Self-intersection/)
    })

    it('refuses a missing .prj without --crs, and accepts --crs', async () => {
      const file = shp('noprj', [gkSquare(1)], { encoding: 'gbk' })
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'noprj' })), /noprj\.shp: no \.prj file and no --crs.*pass --crs EPSG/)
      const r = await ingestLayer(db, opts(file, { layer: 'noprj', crs: 'EPSG:4527' }))
      expect(r.loaded).toBe(1)
    })

    it('refuses an unknown CRS in the .prj, and an unknown --crs', async () => {
      const prj = 'PROJCS["Xian_1980_Local_Custom",GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mystery_Projection"],PARAMETER["False_Easting",500000.0],UNIT["Meter",1.0]]'
      const file = shp('unknowncrs', [gkSquare(1)], { encoding: 'gbk', prj })
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'unknowncrs' })), /\.prj names an unknown CRS 'Xian_1980_Local_Custom'; pass --crs EPSG:XXXX/)
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'unknowncrs', crs: 'EPSG:999999' })), /--crs 'EPSG:999999' is not a known CRS/)
    })

    it('refuses a truncated .shp', async () => {
      const file = shp('trunc', [gkSquare(1), gkSquare(2), gkSquare(3)])
      const bytes = fs.readFileSync(file)
      fs.writeFileSync(file, bytes.subarray(0, bytes.length - 50))
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'trunc' })), /trunc\.shp: truncated: the header declares \d+ bytes but the file has \d+/)
    })

    it('refuses a .dbf whose record count differs from the .shp (with and without .shx)', async () => {
      const file = shp('mismatch', [gkSquare(1), gkSquare(2), gkSquare(3)])
      writeShapefile(path.join(dir, 'other'), FIELDS, [gkSquare(1), gkSquare(2)], { encoding: 'gbk' })
      fs.copyFileSync(path.join(dir, 'other.dbf'), path.join(dir, 'mismatch.dbf'))
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'mismatch' })), /\.shx\) lists 3 records but the \.dbf has 2/)
      fs.rmSync(path.join(dir, 'mismatch.shx'))
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'mismatch' })), /the \.shp has 3 records but the \.dbf has 2/)
    })

    it('refuses a truncated .dbf', async () => {
      const file = shp('dbftrunc', [gkSquare(1), gkSquare(2)])
      const dbf = path.join(dir, 'dbftrunc.dbf')
      fs.writeFileSync(dbf, fs.readFileSync(dbf).subarray(0, 120))
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'dbftrunc' })), /\.dbf is truncated: its header declares 2 records/)
    })

    it('refuses text in the wrong encoding and names the likely one', async () => {
      const file = shp('gbk', [gkSquare(1)], { encoding: 'gbk', prj: esriGkZonePrj(39), cpg: false, ldid: 0 })
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'gbk' })), /field 名称|field .* of record 1 is not valid UTF-8 text; Chinese data are often GBK: pass --encoding GBK/)
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'gbk', encoding: 'UTF-8' })), /not valid UTF-8 text/)
      // a field asked for by name: the garbled field names come with the encoding to pass
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'gbk', categoryField: '名称' })), /no field '名称' for --category-field \(fields: .*\uFFFD.*, BSM; the field names are not valid UTF-8 text: Chinese \.dbf files are often GBK, pass --encoding GBK/)
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'gbk', encoding: 'klingon' })), /unknown text encoding 'klingon'/)
      const r = await ingestLayer(db, opts(file, { layer: 'gbk', encoding: 'GBK' }))
      const [row] = await db.query<{ n: string }>("SELECT attributes->>'名称' AS n FROM feature WHERE layer_id = $1", [r.layerId])
      expect(row!.n).toBe('图斑1')
    })

    it('refuses empty files and files with no features', async () => {
      const empty = path.join(dir, 'empty.geojson')
      fs.writeFileSync(empty, '')
      await rejectsUnchanged(() => ingestLayer(db, opts(empty, { layer: 'empty' })), /empty\.geojson: the file is empty/)
      const emptyShp = path.join(dir, 'empty.shp')
      fs.writeFileSync(emptyShp, '')
      fs.writeFileSync(path.join(dir, 'empty.dbf'), '')
      await rejectsUnchanged(() => ingestLayer(db, opts(emptyShp, { layer: 'empty' })), /empty\.shp: the file is empty/)
      const none = writeJson(dir, 'none.geojson', featureCollection([]))
      await rejectsUnchanged(() => ingestLayer(db, opts(none, { layer: 'none' })), /none\.geojson: holds no features/)
      const nulls = writeJson(dir, 'nulls.geojson', featureCollection([{ geometry: null }, { geometry: null }]))
      await rejectsUnchanged(() => ingestLayer(db, opts(nulls, { layer: 'nulls' })), /all 2 features have empty geometry/)
      await rejectsUnchanged(() => ingestLayer(db, opts(writeJson(dir, 'bad.geojson', '{"type": "FeatureCollection", "features": ['))), /bad\.geojson: not valid JSON/)
    })

    it('refuses point and line layers', async () => {
      const pts = shp('points', [gkSquare(1)])
      const b = fs.readFileSync(pts)
      b.writeInt32LE(1, 32) // header shape type: Point
      fs.writeFileSync(pts, b)
      await rejectsUnchanged(() => ingestLayer(db, opts(pts, { layer: 'points' })), /points\.shp: holds Point geometry; layers and units need polygons/)
      const lines = writeJson(dir, 'lines.geojson', featureCollection([{ geometry: { type: 'LineString', coordinates: [[117, 30], [117.1, 30.1]] } }]))
      await rejectsUnchanged(() => ingestLayer(db, opts(lines, { layer: 'lines' })), /lines\.geojson: feature 1: is a LineString; layers and units need polygons/)
    })

    it('refuses coordinates out of range for the stated CRS', async () => {
      const projected = writeJson(dir, 'mislabelled.geojson', featureCollection([{ geometry: { type: 'Polygon', coordinates: [box(39_500_000, 3_320_000, 39_501_000, 3_321_000)] } }], 'EPSG:4490'))
      await rejectsUnchanged(() => ingestLayer(db, opts(projected, { layer: 'mis' })), /feature 1: coordinate \(39500000, 3320000\) is out of range for geographic EPSG:4490/)
      const unprefixed = shp('unprefixed', [{ attributes: { 名称: 'a', BSM: 1 }, polygons: [[[[500_000, 3_320_000], [500_000, 3_321_000], [501_000, 3_321_000], [500_000, 3_320_000]]]] }])
      await rejectsUnchanged(() => ingestLayer(db, opts(unprefixed, { layer: 'unprefixed' })), /easting lacks the zone prefix 39; the data are probably in EPSG:4548/)
      const outside = writeJson(dir, 'outside.geojson', featureCollection([{ geometry: { type: 'Polygon', coordinates: [box(2_000_000, 3_320_000, 2_001_000, 3_321_000)] } }], 'EPSG:4548'))
      await rejectsUnchanged(() => ingestLayer(db, opts(outside, { layer: 'outside' })), /falls outside the area of EPSG:4548/)
    })

    it('leaves nothing behind when a late feature fails', async () => {
      const good = Array.from({ length: 600 }, (_, k) => ({ geometry: { type: 'Polygon' as const, coordinates: [box(117 + k * 0.001, 30, 117.0005 + k * 0.001, 30.0005)] } }))
      const bad = { geometry: { type: 'Polygon' as const, coordinates: [box(117, 95, 117.1, 95.1)] } }
      const file = writeJson(dir, 'late.geojson', featureCollection([...good, bad], 'EPSG:4490'))
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'late' })), /feature 601: coordinate \(117, 95\) is out of range/)
    })

    it('versions layers by vintage: same name+vintage needs --replace', async () => {
      const file = shp('ver', [gkSquare(1), gkSquare(2)])
      await ingestLayer(db, opts(file, { layer: 'ver', vintage: '2020' }))
      await ingestLayer(db, opts(file, { layer: 'ver', vintage: '2023' }))
      await rejectsUnchanged(() => ingestLayer(db, opts(file, { layer: 'ver', vintage: '2020' })), /layer 'ver' vintage 2020 already exists; pass --replace/, 409)
      const small = shp('ver1', [gkSquare(1)])
      const r = await ingestLayer(db, opts(small, { layer: 'ver', vintage: '2020', replace: true }))
      expect(r.replaced).toBe(true)
      const rows = await db.query<{ vintage: string; feature_count: number }>("SELECT vintage, feature_count FROM layer WHERE name = 'ver' AND retired_at IS NULL ORDER BY vintage")
      expect(rows).toEqual([{ vintage: '2020', feature_count: 1 }, { vintage: '2023', feature_count: 2 }])
      // the replaced version is kept, retired, with its features
      const retired = await db.query<{ id: number; feature_count: number; n: number }>("SELECT id, feature_count, (SELECT count(*)::int FROM feature WHERE layer_id = layer.id) AS n FROM layer WHERE name = 'ver' AND retired_at IS NOT NULL")
      expect(retired.map((x) => [x.id, x.feature_count, x.n])).toEqual([[r.retiredId, 2, 2]])
    })

    it('reads a zipped shapefile, flattening paths (no zip-slip), and refuses zips with two datasets', async () => {
      shp('zipped', [gkSquare(1), gkSquare(2)])
      const parts = (prefix: string) => Object.fromEntries(['shp', 'shx', 'dbf', 'prj', 'cpg'].map((e) => [`${prefix}zipped.${e}`, fs.readFileSync(path.join(dir, `zipped.${e}`))]))
      const zip = path.join(dir, 'upload.zip')
      writeZip(zip, parts('数据/图层/'), true)
      const r = await ingestLayer(db, opts(zip, { layer: 'zipped' }))
      expect(r.loaded).toBe(2)
      const slip = path.join(dir, 'slip.zip')
      writeZip(slip, parts('../../evil/'))
      await rejectsUnchanged(() => ingestLayer(db, opts(slip, { layer: 'slip' })), /slip\.zip: an entry name points outside the archive/)
      expect(fs.existsSync(path.join(dir, '..', '..', 'evil'))).toBe(false)
      const two = path.join(dir, 'two.zip')
      writeZip(two, { 'a.geojson': Buffer.from('{}'), 'b.geojson': Buffer.from('{}') })
      await rejectsUnchanged(() => ingestLayer(db, opts(two, { layer: 'two' })), /two\.zip: holds 2 datasets/)
      const junk = path.join(dir, 'junk.zip')
      fs.writeFileSync(junk, 'PK not really a zip')
      await rejectsUnchanged(() => ingestLayer(db, opts(junk, { layer: 'junk' })), /junk\.zip: not a readable zip/)
      const bomb = path.join(dir, 'bomb.zip')
      writeZip(bomb, { 'big.geojson': Buffer.alloc(5_000_000, 0x20) }, true)
      await rejectsUnchanged(() => ingestLayer(db, opts(bomb, { layer: 'bomb', maxBytes: 1_000_000 })), /bomb\.zip: unpacks to more than 1000000 bytes/, 413)
    })

    it('refuses unknown formats and bad names', async () => {
      const kml = path.join(dir, 'x.kml')
      fs.writeFileSync(kml, '<kml/>')
      await rejectsUnchanged(() => ingestLayer(db, opts(kml, { layer: 'x' })), /unsupported format '\.kml'/, 415)
      await rejectsUnchanged(() => ingestLayer(db, opts(kml, { layer: 'a b;drop' })), /layer name 'a b;drop' is not allowed/)
      await rejectsUnchanged(() => ingestLayer(db, opts(kml, { layer: 'x', kind: 'swamp' })), /kind 'swamp' is not one of/)
      await rejectsUnchanged(() => ingestLayer(db, opts(path.join(dir, 'missing.shp'), { layer: 'x' })), /missing\.shp: no such file/)
    })

    it('loads several files as the parts of one version, numbered on, each part recorded; or none of them', async () => {
      // a province in two zones: part a in zone 39, part b in zone 40 (its own .prj), and a third part in zone 39
      const a = shp('part_a', [gkSquare(0), gkSquare(1), { attributes: { 名称: '空', BSM: 9 }, polygons: null }])
      const b = (() => {
        const base = path.join(dir, 'part_b')
        const x = 40_500_000, y = 3_320_000
        writeShapefile(base, FIELDS, [{ attributes: { 名称: '东区', BSM: 100 }, polygons: [[[[x, y], [x, y + 500], [x + 500, y + 500], [x + 500, y], [x, y]]]] }], { encoding: 'gbk', prj: esriGkZonePrj(40) })
        return base + '.shp'
      })()
      const c = shp('part_c', [gkSquare(2)])
      const whole = await ingestLayer(db, opts([a, b, c], { layer: 'province' }))
      expect(whole.loaded).toBe(4)
      expect(whole.read).toBe(5)
      expect(whole.emptyGeometry).toEqual([2])
      expect(whole.file).toBe('part_a.shp + part_b.shp + part_c.shp')
      expect(whole.crs).toBe('EPSG:4527, EPSG:4528')
      expect(whole.parts!.map((p) => [p.file, p.crs, p.read, p.first_index])).toEqual([['part_a.shp', 'EPSG:4527', 3, 0], ['part_b.shp', 'EPSG:4528', 1, 3], ['part_c.shp', 'EPSG:4527', 1, 4]])
      // each part's checksum is that part's own; the version's is over them in order
      const single = await ingestLayer(db, opts(b, { layer: 'part_b_alone' }))
      expect(whole.parts![1]!.checksum).toBe(single.checksum)
      const rows = await db.query<{ src_index: number; name: string; area: number; lon: number }>(
        "SELECT src_index, attributes->>'名称' AS name, ST_Area(geom::geography) AS area, ST_X(ST_Centroid(geom)) AS lon FROM feature WHERE layer_id = $1 ORDER BY src_index", [whole.layerId])
      expect(rows.map((r) => [r.src_index, r.name])).toEqual([[0, '图斑0'], [1, '图斑1'], [3, '东区'], [4, '图斑2']])
      // zone 40's square lies east of 118.5°E and is 500 m across; zone 39's are 1 km
      expect(rows[2]!.lon).toBeGreaterThan(118.5)
      expect(rows[2]!.area / 250_000).toBeCloseTo(1, 2)
      expect(rows[0]!.area / 1_000_000).toBeCloseTo(1, 2)
      const [stored] = await db.query<{ source_file: string; source_checksum: string; feature_count: number }>('SELECT source_file, source_checksum, feature_count FROM layer WHERE id = $1', [whole.layerId])
      expect(stored).toEqual({ source_file: whole.file, source_checksum: whole.checksum, feature_count: 4 })
      // a damaged last part, parts with other fields, a part given twice: nothing is stored
      const broken = path.join(dir, 'part_broken.shp')
      fs.copyFileSync(c, broken)
      for (const ext of ['.dbf', '.prj', '.cpg']) fs.copyFileSync(c.replace(/\.shp$/, ext), broken.replace(/\.shp$/, ext))
      fs.truncateSync(broken, fs.statSync(broken).size - 20)
      await rejectsUnchanged(() => ingestLayer(db, opts([a, broken], { layer: 'province2' })), /part_broken\.shp: truncated/)
      const otherFields = path.join(dir, 'other_fields')
      writeShapefile(otherFields, [{ name: 'DLBM', type: 'C', length: 4 }], [{ attributes: { DLBM: '0101' }, polygons: gkSquare(5).polygons }], { encoding: 'gbk', prj: esriGkZonePrj(39) })
      await rejectsUnchanged(() => ingestLayer(db, opts([a, otherFields + '.shp'], { layer: 'province2' })), /other_fields\.shp: its fields differ from part_a\.shp's \(missing 名称, BSM; extra DLBM\)/)
      await rejectsUnchanged(() => ingestLayer(db, opts([a, a], { layer: 'province2' })), /the same file is given twice/)
      // an invalid polygon in the second part is named by its file and its own feature number
      const bow = shp('part_bow', [gkSquare(7), { attributes: { 名称: '8', BSM: 8 }, polygons: [[[[39_520_000, 3_320_000], [39_521_000, 3_321_000], [39_521_000, 3_320_000], [39_520_000, 3_321_000], [39_520_000, 3_320_000]]]] }])
      await rejectsUnchanged(() => ingestLayer(db, opts([a, bow], { layer: 'province2', invalid: 'fail' })), /part_bow\.shp: 1 invalid polygon\(s\), first feature 2: Self-intersection/)
    })

    it('imports units with GB/T 2260 codes and refuses duplicate codes', async () => {
      const r = await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'hs', parentField: 'parent_code', maxBytes: MAX })
      expect(r.loaded).toBe(7)
      expect(r.codeField).toBe('code')
      // the source outlines are invalid (self-touching rings): all repaired, none lost
      expect(r.repaired.length).toBeGreaterThan(0)
      const rows = await db.query<{ code: string; parent_code: string; valid: boolean }>("SELECT code, parent_code, ST_IsValid(geom) AS valid FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = 'hs' ORDER BY code")
      expect(rows.map((x) => x.code)).toEqual(['341002', '341003', '341004', '341021', '341022', '341023', '341024'])
      expect(rows.every((x) => x.parent_code === '341000' && x.valid)).toBe(true)
      const dup = writeJson(dir, 'dup.geojson', featureCollection([
        { props: { code: 'A' }, geometry: { type: 'Polygon', coordinates: [box(117, 30, 117.1, 30.1)] } },
        { props: { code: 'A' }, geometry: { type: 'Polygon', coordinates: [box(118, 30, 118.1, 30.1)] } },
      ]))
      await rejectsUnchanged(() => importUnits(db, { file: dup, set: 'dup', maxBytes: MAX }), /unit code 'A' appears twice \(features 1 and 2\)/)
      await rejectsUnchanged(() => importUnits(db, { file: dup, set: 'dup', codeField: 'nope', maxBytes: MAX }), /no field 'nope' for --code-field/)
      await rejectsUnchanged(() => importUnits(db, { file: dup, set: 'dup', nameField: 'nope', maxBytes: MAX }), /no field 'nope' for --name-field/)
    })
  })
}
