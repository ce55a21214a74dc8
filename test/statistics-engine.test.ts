// The statistics engine on a generated county (overlapping features, categories, a
// 100 m grid measured in-process and irregular "townships" measured in the database),
// checked against PostGIS computing each figure the plain way; runs (reuse, progress,
// cancel); transitions and the SEEA account on hand-computable boxes; exports.
import ExcelJS from 'exceljs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { Cancelled } from '../server/errors.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { startRun } from '../server/runs/execute.ts'
import { exportableOf, planRun } from '../server/results/kinds.ts'
import { getRun } from '../server/runs/run-store.ts'
import { change } from '../server/stats/change.ts'
import { withCells } from './helpers/runtime.ts'
import { coverage, planCoverage } from '../server/stats/coverage.ts'
import { clearFeatureCache } from '../server/stats/cells/feature-cache.ts'
import { render } from '../server/results/export.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { importUnits } from '../server/units/import-units.ts'
import { generateCounty, type GeneratedCounty } from '../scripts/bench/county-gen.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, geodesicArea, tmpDir, writeJson } from './helpers/fixtures.ts'

const MAX = 1 << 30
const poly = (ring: number[][]) => ({ type: 'Polygon' as const, coordinates: [ring] })
/** Shares agree within 1e-6 of the unit's area (see scripts/bench/RESULTS.md on slivers). */
const SHARE_TOL = 1e-6
/** …or within this many m² on slivers, where PostGIS's ellipsoidal area has noise of that order. */
const SLIVER_M2 = 1e-5

for (const backend of backends()) {
  describe(`statistics engine on ${backend.name}`, () => {
    let db: Db
    let county: GeneratedCounty
    const names = () => county.layers.map((l) => l.name)
    beforeAll(async () => {
      db = await backend.open()
      // 1 km × 1 km: ~650 features in five layers, forest with overlapping duplicates
      county = await generateCounty(db, { scale: 1 / 16, seed: 7 })
      await buildGrid(db, { set: 'g100', sizeM: 100, bbox: county.bbox })
      // two irregular "townships" splitting the square along a wavy line of 400 vertices:
      // more than the in-process path takes, so they are measured in the database
      const [w, s, e, n] = county.bbox
      const mx = (w + e) / 2
      const zig = Array.from({ length: 400 }, (_, k) => {
        const t = k / 399
        return [mx + 0.002 * Math.sin(t * 9), s - 0.001 + t * (n - s + 0.002)]
      })
      const west = [[w - 0.001, s - 0.001], ...zig, [w - 0.001, n + 0.001], [w - 0.001, s - 0.001]]
      const east = [[e + 0.001, s - 0.001], [e + 0.001, n + 0.001], ...[...zig].reverse(), [e + 0.001, s - 0.001]]
      const dir = tmpDir()
      await importUnits(db, { file: writeJson(dir, 't.geojson', featureCollection([{ props: { code: 'W' }, geometry: poly(west) }, { props: { code: 'E' }, geometry: poly(east) }], 'EPSG:4490')), set: 'towns', maxBytes: MAX })
      // an irregular county: a wobbling boundary (edges of ~4 m, 1 440 vertices) around a lake,
      // its two townships cut along the wavy line (parts, a hole), grids clipped to it in
      // Albers and in Gauss-Krüger zone 39: many rings, many vertices, edge slivers and cells
      // of several parts, all measured by the cell engine
      const cx = mx, cy = (s + n) / 2
      const rim = Array.from({ length: 1441 }, (_, k) => {
        const t = (2 * Math.PI * (k % 1440)) / 1440
        const r = 0.0042 * (0.85 + 0.08 * Math.sin(5 * t) + 0.012 * Math.sin(70 * t))
        return [cx + (r * Math.cos(t)) / Math.cos((cy * Math.PI) / 180), cy + r * Math.sin(t)]
      })
      const lake = Array.from({ length: 65 }, (_, k) => {
        const t = (-2 * Math.PI * (k % 64)) / 64
        return [cx + 0.0011 + 0.0007 * Math.cos(t), cy + 0.0005 + 0.0007 * Math.sin(t)]
      })
      const countyGeom = { type: 'Polygon' as const, coordinates: [rim, lake] }
      await importUnits(db, { file: writeJson(dir, 'c.geojson', featureCollection([{ props: { code: 'C' }, geometry: countyGeom }], 'EPSG:4490')), set: 'county1', maxBytes: MAX })
      const halves = await db.query<{ code: string; g: string }>(`
        SELECT h.code, ST_AsGeoJSON(ST_Multi(ST_Intersection(ST_GeomFromGeoJSON($1), ST_GeomFromGeoJSON(h.g))), 15) AS g
        FROM (VALUES ('W', $2), ('E', $3)) h(code, g)`, [JSON.stringify(countyGeom), JSON.stringify(poly(west)), JSON.stringify(poly(east))])
      await importUnits(db, { file: writeJson(dir, 't2.geojson', featureCollection(halves.map((h) => ({ props: { code: h.code }, geometry: JSON.parse(h.g) })), 'EPSG:4490')), set: 'towns2', maxBytes: MAX })
      await buildGrid(db, { set: 'gclip', sizeM: 100, within: 'county1' })
      await buildGrid(db, { set: 'gk', sizeM: 200, crs: 'EPSG:4527', within: 'towns2' })
      // the west township with its long straight edges (declined: measured by PostGIS alone) beside three squares
      const sq = (x: number, y: number) => poly(box(x, y, x + 0.002, y + 0.002, 0.0005))
      await importUnits(db, { file: writeJson(dir, 'm.geojson', featureCollection([{ props: { code: 'W' }, geometry: poly(west) }, ...[0, 1, 2].map((k) => ({ props: { code: `S${k}` }, geometry: sq(mx + 0.0025, s + 0.0005 + 0.003 * k) }))], 'EPSG:4490')), set: 'mixed', maxBytes: MAX })
    }, 120_000)
    afterAll(async () => db?.close())

    /** PostGIS: area of the union of the features (of a layer, category …) inside each unit: dissolved, then clipped. */
    const plain = async (set: string, featureFilter: string, params: unknown[], clipFirst = false) => {
      const clipped = clipFirst
        ? `(SELECT ST_Union(ST_CollectionExtract(ST_Intersection(u.geom, f.geom), 3)) FROM feature f WHERE ${featureFilter} AND f.geom && u.geom)`
        : `ST_Intersection(u.geom, (SELECT ST_Union(f.geom) FROM feature f WHERE ${featureFilter} AND f.geom && u.geom))`
      const rows = await db.query<{ code: string; a: number; ua: number }>(`
        SELECT u.code, u.area_m2 AS ua, coalesce(ST_Area(${clipped}::geography), 0) AS a
        FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = $1`, [set, ...params])
      return new Map(rows.map((r) => [r.code, { a: Number(r.a), ua: Number(r.ua) }]))
    }

    for (const set of ['g100', 'towns', 'towns2', 'county1', 'gclip', 'gk', 'mixed']) {
      it(`${set}: layer areas equal PostGIS clip-then-dissolve, shares within 1e-6; feature counts equal`, async () => {
        const r = await coverage(db, set, { layers: names().join(',') })
        let checked = 0
        for (const l of county.layers) {
          // each feature clipped first, then dissolved: dissolved first, GEOS gave 7.4e-3 m²
          // less on a 7 330 m² cell clipped to the county (1.0e-6 of it) where the clipped
          // areas of its three features, which do not overlap, sum to this and to the cell
          // engine's figure within 1e-8
          const ref = await plain(set, 'f.layer_id = $2', [l.id], true)
          const counts = new Map((await db.query<{ code: string; n: number }>(`
            SELECT u.code, count(f.id)::int AS n FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = $1
            JOIN feature f ON f.layer_id = $2 AND f.geom && u.geom AND ST_Relate(u.geom, f.geom, '2********') GROUP BY u.code`, [set, l.id])).map((x) => [x.code, x.n]))
          for (const row of r.rows.filter((x) => x.measure === 'layer' && x.layer === l.name)) {
            const p = ref.get(row.unit_code)!
            // a sliver's area carries PostGIS's own noise: 3.1e-6 m² between PostgreSQL and
            // PGlite on the same 1.3 m² clipped cell
            expect(Math.abs(row.area_m2 - p.a)).toBeLessThan(SHARE_TOL * p.ua + SLIVER_M2)
            expect(row.features).toBe(counts.get(row.unit_code) ?? 0)
            checked++
          }
        }
        const [{ units }] = await db.query<{ units: number }>('SELECT unit_count AS units FROM unit_set WHERE name = $1', [set])
        expect(checked).toBe(county.layers.length * units)
        // units are measured in this process (cells/coverage.ts) unless most have edges over
        // 400 m (towns: the piece engine); such a unit among others is measured by PostGIS alone
        const m = (r.run.meta as { measured: { cells?: number; declined?: number; degenerate?: number; cellUnits?: number } }).measured
        if (set === 'towns') expect(m.cellUnits).toBe(0)
        else {
          expect(m.cells).toBe(units)
          expect(m.declined).toBe(set === 'mixed' ? 1 : 0)
          if (set === 'mixed') expect(m.degenerate).toBeGreaterThanOrEqual(county.layers.length)
          // the county and its townships: hundreds of crossings on one ring, none left to PostGIS
          if (set === 'county1' || set === 'towns2') expect(m.degenerate).toBe(0)
        }
      }, 120_000)
    }

    for (const set of ['towns', 'g100']) it(`${set}: categories: per-category union areas equal PostGIS; overlapping classes make the layer total smaller than their sum`, async () => {
      const r = await coverage(db, set, { layers: names().join(','), categories: true })
      const forest = county.layers.find((l) => l.name === 'forest')!
      const cats = await db.query<{ category: string }>('SELECT DISTINCT category FROM feature WHERE layer_id = $1', [forest.id])
      expect(cats.length).toBe(2)
      for (const { category } of cats) {
        const ref = await plain(set, 'f.layer_id = $2 AND f.category = $3', [forest.id, category])
        for (const row of r.rows.filter((x) => x.measure === 'category' && x.layer === 'forest' && x.category === category)) {
          const p = ref.get(row.unit_code)!
          expect(Math.abs(row.area_m2 - p.a) / p.ua).toBeLessThan(SHARE_TOL)
        }
      }
      // the layer total counts the overlap of the two classes once: Σ classes − total = |A ∩ B|
      const both = new Map((await db.query<{ code: string; a: number; ua: number }>(`
        WITH a AS (SELECT ST_Union(geom) g FROM feature WHERE layer_id = $2 AND category = $3),
             b AS (SELECT ST_Union(geom) g FROM feature WHERE layer_id = $2 AND category = $4)
        SELECT u.code, u.area_m2 AS ua, ST_Area(ST_Intersection(u.geom, ST_Intersection(a.g, b.g))::geography) AS a
        FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = $1, a, b`, [set, forest.id, cats[0]!.category, cats[1]!.category])).map((x) => [x.code, x]))
      let overlap = 0
      for (const code of both.keys()) {
        const total = r.rows.find((x) => x.unit_code === code && x.measure === 'layer' && x.layer === 'forest')!.area_m2
        const sum = r.rows.filter((x) => x.unit_code === code && x.measure === 'category' && x.layer === 'forest').reduce((s, x) => s + x.area_m2, 0)
        const p = both.get(code)!
        expect(Math.abs(sum - total - Number(p.a ?? 0)) / Number(p.ua)).toBeLessThan(SHARE_TOL)
        overlap += sum - total
      }
      expect(overlap).toBeGreaterThan(100) // seed 7 has overlapping duplicates of the other class
    }, 120_000)

    // mixed: its declined unit's overlap and union measured by PostGIS alone
    for (const set of ['g100', 'mixed']) it(`${set}: overlaps and ecological space equal PostGIS intersections and unions`, async () => {
      const r = await coverage(db, set, { layers: names().join(','), overlaps: 'redline+protected_area', union: true })
      const id = (n: string) => county.layers.find((l) => l.name === n)!.id
      const ov = new Map((await db.query<{ code: string; a: number; ua: number }>(`
        WITH a AS (SELECT ST_Union(geom) g FROM feature WHERE layer_id = $2), b AS (SELECT ST_Union(geom) g FROM feature WHERE layer_id = $3)
        SELECT u.code, u.area_m2 AS ua, ST_Area(ST_Intersection(u.geom, ST_Intersection(a.g, b.g))::geography) AS a
        FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = $1, a, b`, [set, id('redline'), id('protected_area')])).map((x) => [x.code, x]))
      const eco = await plain(set, 'f.layer_id = ANY($2::int[])', [['redline', 'protected_area', 'forest', 'wetland'].map(id)])
      let overlapArea = 0
      for (const row of r.rows) {
        if (row.measure === 'overlap') {
          const p = ov.get(row.unit_code)!
          expect(Math.abs(row.area_m2 - Number(p.a)) / Number(p.ua)).toBeLessThan(SHARE_TOL)
          overlapArea += row.area_m2
        }
        if (row.measure === 'union') {
          const p = eco.get(row.unit_code)!
          expect(Math.abs(row.area_m2 - p.a) / p.ua).toBeLessThan(SHARE_TOL)
          expect(row.layer).toBe('ecological_space')
        }
      }
      expect(overlapArea).toBeGreaterThan(0)
      expect(r.rows.filter((x) => x.measure === 'union')).toHaveLength(r.rows.filter((x) => x.measure === 'layer').length / county.layers.length)
    }, 120_000)

    it('grid cells: features lying exactly on cell edges are measured by PostGIS; tiles give the sums of one tile', async () => {
      // a layer of exact cells, cells shifted by half a cell, and one cell-sized square
      // rotated inside four cells: edges on cell edges and vertices on cell corners
      const [layer] = await db.query<{ id: number }>(
        `INSERT INTO layer (name, kind, vintage, source_file, source_checksum, source_crs, category_field, feature_count, report)
         VALUES ('aligned', 'forest', '2025', 'test', 'aligned', 'EPSG:4490', NULL, 0, '{}') RETURNING id`)
      const layerId = Number(layer!.id)
      await db.query(
        `WITH cells AS (SELECT geom, (row_number() OVER (ORDER BY code))::int AS k FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'g100'),
         ins AS (
           INSERT INTO feature (layer_id, src_index, attributes, category, geom, area_m2, zone)
           SELECT $1, k, '{}'::jsonb, NULL, g, ST_Area(g::geography), gk6_zone((ST_XMin(g) + ST_XMax(g)) / 2) FROM (
             SELECT k, geom AS g FROM cells WHERE k % 7 = 0
             UNION ALL
             SELECT k, ST_Multi(ST_Translate(geom, (ST_XMax(geom) - ST_XMin(geom)) / 2, 0)) FROM cells WHERE k % 11 = 3
           ) x
           RETURNING 1)
         SELECT count(*)::int AS n FROM ins`, [layerId])
      await db.query('UPDATE layer SET feature_count = (SELECT count(*) FROM feature WHERE layer_id = $1) WHERE id = $1 RETURNING id', [layerId])
      const one = await coverage(db, 'g100', { layers: 'aligned' }, { reuse: false })
      const measured = (one.run.meta as { measured: { degenerate: number; tiles: number } }).measured
      expect(measured.degenerate).toBeGreaterThan(0)
      expect(measured.tiles).toBe(1)
      const ref = await plain('g100', 'f.layer_id = $2', [layerId])
      const counts = new Map((await db.query<{ code: string; n: number }>(`
        SELECT u.code, count(f.id)::int AS n FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'g100'
        JOIN feature f ON f.layer_id = $1 AND f.geom && u.geom AND ST_Relate(u.geom, f.geom, '2********') GROUP BY u.code`, [layerId])).map((x) => [x.code, x.n]))
      let covered = 0
      for (const row of one.rows) {
        const p = ref.get(row.unit_code)!
        expect(Math.abs(row.area_m2 - p.a) / p.ua).toBeLessThan(SHARE_TOL)
        expect(row.features).toBe(counts.get(row.unit_code) ?? 0)
        covered += row.area_m2
      }
      expect(covered).toBeGreaterThan(0)
      // the county's five layers cut into tiles of ~40 features: the same sums
      await withCells({ tileFeatures: 40 }, async () => {
        const whole = await coverage(db, 'g100', { layers: names().join(','), categories: true }, { reuse: false })
        clearFeatureCache()
        const tiled = await coverage(db, 'g100', { layers: names().join(','), categories: true }, { reuse: false })
        expect((tiled.run.meta as { measured: { tiles: number } }).measured.tiles).toBeGreaterThan(4)
        expect(tiled.rows.length).toBe(whole.rows.length)
        tiled.rows.forEach((row, i) => {
          const w = whole.rows[i]!
          expect([row.unit_code, row.measure, row.layer, row.category, row.features]).toEqual([w.unit_code, w.measure, w.layer, w.category, w.features])
          expect(Math.abs(row.area_m2 - w.area_m2) / row.unit_area_m2).toBeLessThan(1e-9)
        })
      })
    }, 120_000)

    it('non-convex cells: a feature whose box corners lie in both arms of a notched cell is clipped by the notch', async () => {
      // a U-shaped cell (a grid cell clipped by a boundary) with a notch from the top; feature
      // A spans the notch with its four box corners in the arms and no cell vertex in its
      // box; B lies inside one arm; C inside the notch (apart from the cell)
      const dir = tmpDir()
      const [x0, y0] = [county.bbox[0] + 0.02, county.bbox[1] + 0.02]
      const d = 0.0001 // ~10 m
      const U = [[0, 0], [30, 0], [30, 30], [18, 30], [18, 10], [12, 10], [12, 30], [0, 30], [0, 0]].map(([x, y]) => [x0 + x! * d, y0 + y! * d])
      const rect = (a: number, b: number, c: number, e: number) => poly(box(x0 + a * d, y0 + b * d, x0 + c * d, y0 + e * d))
      await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection([{ props: { code: 'U' }, geometry: poly(U) }], 'EPSG:4490')), set: 'notched', maxBytes: MAX })
      await ingestLayer(db, { file: writeJson(dir, 'l.geojson', featureCollection([
        { geometry: rect(6, 18, 24, 24) }, { geometry: rect(2, 2, 8, 8) }, { geometry: rect(13, 12, 17, 16) },
      ], 'EPSG:4490')), layer: 'spanning', kind: 'other', vintage: '2024', maxBytes: MAX })
      const r = await coverage(db, 'notched', { layers: 'spanning' }, { reuse: false })
      expect((r.run.meta as { measured: { cells?: number } }).measured.cells).toBe(1)
      const [ref] = await db.query<{ a: number; ua: number; n: number }>(`
        SELECT u.area_m2 AS ua, ST_Area(ST_Intersection(u.geom, (SELECT ST_Union(geom) FROM feature f JOIN layer l ON l.id = f.layer_id AND l.name = 'spanning'))::geography) AS a,
               (SELECT count(*)::int FROM feature f JOIN layer l ON l.id = f.layer_id AND l.name = 'spanning' WHERE ST_Relate(u.geom, f.geom, '2********')) AS n
        FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'notched'`)
      const row = r.rows.find((x) => x.measure === 'layer')!
      expect(Math.abs(row.area_m2 - Number(ref!.a)) / Number(ref!.ua)).toBeLessThan(SHARE_TOL)
      expect(row.features).toBe(ref!.n)
      expect(ref!.n).toBe(2)
    }, 120_000)

    it('runs: identical inputs reuse the stored run, fresh computes again; progress ends at 1', async () => {
      const seen: number[] = []
      const first = await coverage(db, 'towns', { layers: 'redline' }, { reuse: false, onProgress: (p) => seen.push(p) })
      expect(seen.at(-1)).toBe(1)
      expect(seen.every((p, i) => i === 0 || p >= seen[i - 1]!)).toBe(true)
      const again = await coverage(db, 'towns', { layers: 'redline' })
      expect(again.run.id).toBe(first.run.id)
      expect(again.run.reused).toBe(true)
      expect(again.rows).toEqual(first.rows)
      const fresh = await coverage(db, 'towns', { layers: 'redline' }, { reuse: false })
      expect(fresh.run.id).not.toBe(first.run.id)
      const run = await getRun(db, first.run.id)
      expect(run.status).toBe('done')
      expect(run.inputs).toMatchObject({ unitSet: { name: 'towns' }, layers: [{ name: 'redline', source_checksum: expect.any(String) }] })
    }, 120_000)

    it('runs: a cancelled run ends as cancelled and leaves no sums or pieces behind', async () => {
      const ac = new AbortController()
      const started = await startRun(db, await planCoverage(db, 'g100', { layers: names().join(',') }), {
        reuse: false,
        signal: ac.signal,
        onProgress: (p) => { if (p > 0) ac.abort() },
      })
      await expect(started.done).rejects.toBeInstanceOf(Cancelled)
      const run = await getRun(db, started.id)
      expect(run.status).toBe('cancelled')
      for (const t of ['run_sum', 'run_result', 'run_piece', 'run_member']) {
        const [n] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} WHERE run_id = $1`, [started.id])
        expect(n!.n).toBe(0)
      }
      await expect(exportableOf(db, run)).rejects.toThrow(/is cancelled/)
    }, 120_000)

    it('exports: XLSX has ha/km²/亩 columns beside m², GeoJSON has the units with statistics', async () => {
      const run = await (await startRun(db, await planRun(db, { kind: 'coverage', units: 'towns', layers: 'redline,forest' }))).done
      const x = await exportableOf(db, run)
      const wb = new ExcelJS.Workbook()
      await wb.xlsx.load((await render(db, "xlsx", x)).body as unknown as ExcelJS.Buffer)
      const ws = wb.getWorksheet('coverage')!
      const header = (ws.getRow(1).values as unknown[]).slice(1)
      expect(header.slice(0, 6)).toEqual(['unit_code', 'unit_name', 'unit_area_m2', 'unit_area_ha', 'unit_area_km2', 'unit_area_mu'])
      const col = (h: string) => header.indexOf(h) + 1
      const row = ws.getRow(2)
      const m2 = Number(row.getCell(col('area_m2')).value)
      expect(m2).toBeGreaterThan(0)
      expect(Number(row.getCell(col('area_ha')).value)).toBeCloseTo(m2 / 1e4, 9)
      expect(Number(row.getCell(col('area_mu')).value)).toBeCloseTo(m2 / (1e4 / 15), 9)
      expect(wb.getWorksheet('run')).toBeTruthy()
      // 公顷 and 亩 shown to 2 decimals (the values exact)
      expect(ws.getColumn(col('area_ha')).numFmt).toBe('#,##0.00')
      expect(ws.getColumn(col('area_mu')).numFmt).toBe('#,##0.00')
      // the provenance in words: the run, the set, every input layer with its version and checksum
      const words = wb.getWorksheet('数据来源 provenance')!
      const text = new Map<string, string>()
      words.eachRow((r, i) => { if (i > 1) text.set(String(r.getCell(1).value), String(r.getCell(2).value)) })
      expect(text.get('计算批次 run')).toMatch(new RegExp(`^#${run.id} coverage（done；`))
      expect(text.get('单元集 unit set')).toMatch(/^towns/)
      const inputs = await db.query<{ name: string; vintage: string; id: number; source_checksum: string }>("SELECT name, vintage, id, source_checksum FROM layer WHERE name IN ('redline', 'forest') AND retired_at IS NULL")
      for (const l of inputs.filter((l) => (run.inputs as { layers: { id: number }[] }).layers.some((x) => x.id === l.id))) {
        expect(text.get(`输入图层 ${l.name}@${l.vintage}`)).toContain(`版本 ${l.id}`)
        expect(text.get(`输入图层 ${l.name}@${l.vintage}`)).toContain(l.source_checksum.replace('sha256:', ''))
      }
      expect(text.get('面积 area')).toContain('1 亩 = 10 000/15 m²')
      // --labels zh: Chinese headers, 公顷 and 亩 to 2 decimals beside the exact m², the layer's display name
      const zh = ((await render(db, 'csv', x, undefined, undefined, { labels: 'zh' })).body as string).replace(/^\uFEFF/, '').trim().split('\r\n').map((l) => l.split(','))
      expect(zh[0]!.slice(0, 9)).toEqual(['单元代码', '单元名称', '单元面积（m²）', '单元面积（公顷）', '单元面积（亩）', '图层', '图层名称', '年份', '面积（m²）'])
      const plain = ((await render(db, 'csv', x)).body as string).replace(/^\uFEFF/, '').trim().split('\r\n').map((l) => l.split(','))
      expect(zh.length).toBe(plain.length)
      for (let i = 1; i < plain.length; i++) {
        const m2 = Number(plain[i]![plain[0]!.indexOf('area_m2')])
        expect(Number(zh[i]![zh[0]!.indexOf('面积（m²）')])).toBe(m2)
        expect(zh[i]![zh[0]!.indexOf('面积（公顷）')]).toBe((m2 / 1e4).toFixed(2))
        expect(zh[i]![zh[0]!.indexOf('面积（亩）')]).toBe((m2 * 15 / 1e4).toFixed(2))
        expect(zh[i]![zh[0]!.indexOf('图层名称')]).toBe({ redline: '生态保护红线', forest: '公益林' }[plain[i]![plain[0]!.indexOf('layer')]!])
      }
      const gj = JSON.parse((await render(db, 'geojson', x)).body as string)
      expect(gj.features).toHaveLength(2)
      expect(gj.features[0].properties['redline@2025_m2']).toBeGreaterThan(0)
      expect(gj.features[0].geometry.type).toBe('MultiPolygon')
      const csv = (await render(db, 'csv', x)).body as string
      expect(csv.split('\r\n')[0]).toBe('\uFEFFunit_code,unit_name,unit_area_m2,layer,vintage,area_m2,share,measure,category,features')
    }, 120_000)

    it('transitions and the SEEA extent account on boxes: each cell of the matrix is a known strip', async () => {
      const dir = tmpDir()
      // U: 0.2° × 0.1° with vertices every 0.05°, four equal strips S0..S3 (west to east)
      await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection([{ props: { code: 'U' }, geometry: poly(box(117, 30, 117.2, 30.1, 0.05)) }], 'EPSG:4490')), set: 'box', maxBytes: MAX })
      const strip = (k: number, cls: string) => ({ props: { cls }, geometry: poly(box(117 + 0.05 * k, 30, 117.05 + 0.05 * k, 30.1, 0.05)) })
      // 2020: S0 A, S1 A, S2 B ; 2023: S1 B, S2 B, S3 A  →  S0 A→none, S1 A→B, S2 B→B, S3 none→A
      await ingestLayer(db, { file: writeJson(dir, 'l20.geojson', featureCollection([strip(0, 'A'), strip(1, 'A'), strip(2, 'B')], 'EPSG:4490')), layer: 'lc', kind: 'other', vintage: '2020', categoryField: 'cls', maxBytes: MAX })
      await ingestLayer(db, { file: writeJson(dir, 'l23.geojson', featureCollection([strip(1, 'B'), strip(2, 'B'), strip(3, 'A')], 'EPSG:4490')), layer: 'lc', kind: 'other', vintage: '2023', categoryField: 'cls', maxBytes: MAX })
      const r = await change(db, 'box', 'lc', '2020', '2023')
      const q = geodesicArea(poly(box(117, 30, 117.2, 30.1, 0.05))) / 4
      const cell = (f: string | null, t: string | null) => r.transitions.filter((x) => x.from_class === f && x.to_class === t).reduce((s, x) => s + x.area_m2, 0)
      for (const [f, t] of [['A', null], ['A', 'B'], ['B', 'B'], [null, 'A']] as const) expect(Math.abs(cell(f, t) / q - 1)).toBeLessThan(1e-9)
      expect(r.transitions).toHaveLength(4)
      expect(r.transitionTotals).toHaveLength(4)
      const acc = (cls: string) => r.account.find((x) => x.class === cls)!
      // A: opening 2q, reductions 2q (to none, to B), additions q (from none), closing q
      expect(acc('A').opening_m2 / q).toBeCloseTo(2, 9)
      expect(acc('A').reductions_m2 / q).toBeCloseTo(2, 9)
      expect(acc('A').additions_m2 / q).toBeCloseTo(1, 9)
      expect(acc('A').closing_m2 / q).toBeCloseTo(1, 9)
      // B: opening q, additions q (from A), closing 2q
      expect(acc('B').additions_m2 / q).toBeCloseTo(1, 9)
      expect(acc('B').closing_m2 / q).toBeCloseTo(2, 9)
      for (const a of r.account) expect(Math.abs(a.opening_m2 + a.additions_m2 - a.reductions_m2 - a.closing_m2)).toBeLessThan(1e-6)
      const u = r.rows[0]!
      expect(u.stable_m2 / q).toBeCloseTo(2, 9) // S1 and S2 are in the layer both times
      expect(u.gained_m2 / q).toBeCloseTo(1, 9)
      expect(u.lost_m2 / q).toBeCloseTo(1, 9)
    }, 120_000)
  })
}
