// The compensation ledger (server/ledger): the hand case (100 亩 of public-welfare
// forest at 16 元/亩, 30 亩 of it in a wetland at 20 元/亩) on rectangles whose ellipsoidal
// areas are solved here with GeographicLib; overlapping programmes, categories, ownership and
// payees on two units against the plain PostGIS way (chained ST_Union / ST_Difference,
// ST_Area on geography) under every rule; the money identities; the HTTP route and workbook;
// refusals of bad standards.
import fs from 'node:fs'
import path from 'node:path'
import ExcelJS from 'exceljs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { importUnits } from '../server/units/import-units.ts'
import { compensate, type CompensationResult } from '../server/ledger/compensate.ts'
import { MU_M2, type Standards } from '../server/ledger/config.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, geodesicArea, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })
const ring = (pts: number[][]) => [...pts, pts[0]!]
const areaOf = (pts: number[][]) => geodesicArea(poly(ring(pts)))

/** the longitude east of `w` at which the rectangle w…x × s…n has `target` m² (bisection) */
function solveEast(w: number, s: number, n: number, target: number): number {
  let lo = w, hi = w + 0.01
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2
    if (areaOf([[w, s], [mid, s], [mid, n], [w, n]]) < target) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

// the hand case: wetland w…x (30 亩) is the western part of forest w…e (100 亩)
const W0 = 118.02, S0 = 30.02, N0 = 30.0225
const X0 = solveEast(W0, S0, N0, 30 * MU_M2)
const E0 = (() => { let lo = X0, hi = X0 + 0.01; for (let i = 0; i < 200; i++) { const m = (lo + hi) / 2; if (areaOf([[X0, S0], [m, S0], [m, N0], [X0, N0]]) < 70 * MU_M2) lo = m; else hi = m } return (lo + hi) / 2 })()

const std = (rule: Standards['rule'], programmes: object[], extra: object = {}) => ({ year: 2023, rule, programmes, ...extra })
const handProgrammes = [
  { id: 'forest', name: '公益林', layer: 'hforest@2023', rate: 16, rate_unit: '元/亩·年' },
  { id: 'wetland', name: '湿地', layer: 'hwetland@2023', rate: 20, rate_unit: '元/亩·年' },
]

// overlapping programmes on two units W (118.0–118.1) and E (118.1–118.2)
const programmes = [
  { id: 'forest_collective', name: '国家级公益林（集体）', layer: 'forest@2023', categories: ['国家级'], ownership_field: '权属', ownership_values: ['集体'], rate: 16, rate_unit: '元/亩·年' },
  { id: 'forest_provincial', name: '省级公益林', layer: 'forest@2023', categories: ['省级'], rate: 15, rate_unit: '元/亩·年' },
  { id: 'wetland', name: '湿地', layer: 'wetland@2023', rate: 20, rate_unit: '元/亩·年' },
  { id: 'farmland', name: '永久基本农田', layer: 'farmland@2023', categories: ['0101'], rate: 150, rate_unit: '元/公顷·年' },
]

for (const backend of backends()) {
  describe(`compensation ledger on ${backend.name}`, () => {
    let db: Db
    let dir: string
    const servers = serverPool()
    let base: string
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      const ingest = (file: string, doc: unknown, layer: string, kind: string, categoryField?: string) =>
        ingestLayer(db, { file: writeJson(dir, file, doc), layer, kind, vintage: '2023', categoryField, maxBytes: MAX })
      await importUnits(db, {
        file: writeJson(dir, 'u.geojson', featureCollection([
          { props: { code: '341001', name: '西', parent: '341000' }, geometry: poly(box(118.0, 30.0, 118.1, 30.1, 0.02)) },
          { props: { code: '341002', name: '东', parent: '341000' }, geometry: poly(box(118.1, 30.0, 118.2, 30.1, 0.02)) },
        ], 'EPSG:4490')),
        set: 'two', parentField: 'parent', maxBytes: MAX,
      })
      // the hand case: forest with a vertex where the wetland's edge meets it, so both share it
      await ingest('hf.geojson', featureCollection([{ props: { 村: '甲村' }, geometry: poly(ring([[W0, S0], [X0, S0], [E0, S0], [E0, N0], [X0, N0], [W0, N0]])) }], 'EPSG:4490'), 'hforest', 'forest')
      await ingest('hw.geojson', featureCollection([{ props: { 村: '甲村' }, geometry: poly(ring([[W0, S0], [X0, S0], [X0, N0], [W0, N0]])) }], 'EPSG:4490'), 'hwetland', 'wetland')
      await ingest('f.geojson', featureCollection([
        { props: { 事权等级: '国家级', 权属: '集体', 村: '东坑村' }, geometry: poly(box(118.02, 30.02, 118.12, 30.06, 0.01)) },
        { props: { 事权等级: '国家级', 权属: '国有', 村: '西溪村' }, geometry: poly(box(118.03, 30.055, 118.07, 30.07, 0.01)) },
        // another village's collective forest overlapping the first: within the programme it counts once
        { props: { 事权等级: '国家级', 权属: '集体', 村: '南屏村' }, geometry: poly(box(118.10, 30.04, 118.14, 30.065, 0.01)) },
        { props: { 事权等级: '省级', 权属: '国有', 村: '北岸村' }, geometry: poly(box(118.08, 30.04, 118.16, 30.08, 0.01)) },
      ], 'EPSG:4490'), 'forest', 'forest', '事权等级')
      await ingest('w.geojson', featureCollection([
        { props: { 湿地类型: '河流湿地', 村: '东坑村' }, geometry: poly(box(118.05, 30.03, 118.11, 30.07, 0.01)) },
      ], 'EPSG:4490'), 'wetland', 'wetland', '湿地类型')
      await ingest('a.geojson', featureCollection([
        { props: { 地类编码: '0101', 村: '上庄村' }, geometry: poly(box(118.0, 30.05, 118.06, 30.09, 0.01)) },
        { props: { 地类编码: '0103', 村: '上庄村' }, geometry: poly(box(118.0, 30.0, 118.2, 30.01, 0.01)) },
      ], 'EPSG:4490'), 'farmland', 'farmland', '地类编码')
      base = await servers.start(db, { dir })
    }, 120_000)
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('the hand case: 100 亩 forest at 16 元/亩, 30 亩 of it wetland at 20 元/亩', async () => {
      expect(areaOf([[W0, S0], [X0, S0], [E0, S0], [E0, N0], [X0, N0], [W0, N0]]) / MU_M2).toBeCloseTo(100, 7)
      const once = await compensate(db, { units: 'two', config: std('highest_once', handProgrammes) })
      const unit = (r: CompensationResult) => r.units.find((u) => u.unit_code === '341001')!
      expect(unit(once).amount_yuan).toBeCloseTo(1720, 6)
      expect(unit(once).amount_if_sum_yuan).toBeCloseTo(2200, 6)
      expect(unit(once).double_counted_m2 / MU_M2).toBeCloseTo(30, 6)
      expect(unit(once).double_counted_yuan).toBeCloseTo(480, 6)
      const [pair] = once.pairs
      expect(once.pairs).toHaveLength(1)
      expect([pair!.paid_by, pair!.also_covered_by, pair!.rate]).toEqual(['wetland', 'forest', 16])
      const forest = once.rows.find((r) => r.programme === 'forest')!
      expect(forest.claimed_m2 / MU_M2).toBeCloseTo(100, 6)
      expect(forest.paid_m2 / MU_M2).toBeCloseTo(70, 6)
      expect(forest.excluded_m2 / MU_M2).toBeCloseTo(30, 6)
      const sum = await compensate(db, { units: 'two', config: std('sum', handProgrammes) })
      expect(unit(sum).amount_yuan).toBeCloseTo(2200, 6)
      expect(unit(sum).double_counted_yuan).toBeCloseTo(480, 6)
      // listed first pays: the forest pays all 100 亩, the wetland nothing
      const first = await compensate(db, { units: 'two', config: std('first_listed', handProgrammes) })
      expect(unit(first).amount_yuan).toBeCloseTo(1600, 6)
      expect(first.pairs[0]!.yuan).toBeCloseTo(600, 6)
      // in words, both languages
      const lines = once.explanation.filter((e) => e.unit_code === '341001')
      expect(lines.map((l) => l.zh).join('\n')).toMatch(/公益林：图斑面积 100\.00 亩；其中 30\.00 亩已由湿地（20 元\/亩·年）补偿，按“就高不就低、不重复”不再补偿（避免 480\.00 元）；补偿 70\.00 亩 × 16 元\/亩·年 = 1,120\.00 元/)
      expect(lines.at(-1)!.en).toMatch(/total 1,720\.00 yuan .*2,200\.00 yuan: 30\.00 mu and 480\.00 yuan of double payment avoided/)
      expect(unit(once).amount_yuan).toBe(once.rows.filter((r) => r.unit_code === '341001').reduce((s, r) => s + r.amount_yuan, 0))
    })

    /** the plain PostGIS way: each programme's features dissolved and clipped, minus the programmes before it */
    async function reference(order: typeof programmes, unit: string): Promise<Map<string, { claimed: number; paid: number }>> {
      const out = new Map<string, { claimed: number; paid: number }>()
      const footprint = `(SELECT ST_Intersection(ST_Union(f.geom), (SELECT geom FROM unit WHERE code = $1))
        FROM feature f JOIN layer l ON l.id = f.layer_id
        WHERE l.name = $2 AND ($3::text[] IS NULL OR f.category = ANY($3)) AND ($4::text IS NULL OR f.attributes->>$4 = ANY($5::text[])))`
      const earlier: typeof programmes = []
      for (const p of order) {
        const args = [unit, p.layer.split('@')[0], p.categories ?? null, p.ownership_field ?? null, p.ownership_values ?? null]
        const [c] = await db.query<{ a: number | null }>(`SELECT ST_Area(${footprint}::geography) AS a`, args)
        let paid = Number(c!.a ?? 0)
        if (earlier.length) {
          const others = earlier.map((q, i) => `(SELECT ST_Intersection(ST_Union(f.geom), (SELECT geom FROM unit WHERE code = $1)) FROM feature f JOIN layer l ON l.id = f.layer_id
            WHERE l.name = $${6 + 4 * i} AND ($${7 + 4 * i}::text[] IS NULL OR f.category = ANY($${7 + 4 * i})) AND ($${8 + 4 * i}::text IS NULL OR f.attributes->>$${8 + 4 * i} = ANY($${9 + 4 * i}::text[])))`)
          const [d] = await db.query<{ a: number | null }>(
            `SELECT ST_Area(ST_Difference(${footprint}, ST_Union(ARRAY[${others.join(', ')}]))::geography) AS a`,
            [...args, ...earlier.flatMap((q) => [q.layer.split('@')[0], q.categories ?? null, q.ownership_field ?? null, q.ownership_values ?? null])],
          )
          paid = Number(d!.a ?? 0)
        }
        out.set(p.id, { claimed: Number(c!.a ?? 0), paid })
        earlier.push(p)
      }
      return out
    }

    it('exclusive areas under each rule equal the plain PostGIS way (1e-6); money identities hold', async () => {
      const byRate = [...programmes].sort((a, b) => b.rate / (b.rate_unit.includes('亩') ? MU_M2 : 1e4) - a.rate / (a.rate_unit.includes('亩') ? MU_M2 : 1e4))
      for (const [rule, order] of [['highest_once', byRate], ['first_listed', programmes]] as const) {
        const r = await compensate(db, { units: 'two', config: std(rule, programmes) })
        for (const unit of ['341001', '341002']) {
          const ref = await reference(order, unit)
          for (const p of programmes) {
            const rows = r.rows.filter((x) => x.unit_code === unit && x.programme === p.id)
            const claimed = rows.reduce((s, x) => s + x.claimed_m2, 0)
            const paid = rows.reduce((s, x) => s + x.paid_m2, 0)
            const want = ref.get(p.id)!
            expect(Math.abs(claimed - want.claimed)).toBeLessThanOrEqual(1e-6 * Math.max(1, want.claimed))
            expect(Math.abs(paid - want.paid)).toBeLessThanOrEqual(1e-6 * Math.max(1, want.paid))
          }
          const u = r.units.find((x) => x.unit_code === unit)!
          // Σ under sum − Σ under the rule = the double-counted money
          expect(u.amount_if_sum_yuan - u.amount_yuan).toBeCloseTo(u.double_counted_yuan, 6)
          expect(u.double_counted_yuan).toBeCloseTo(r.pairs.filter((x) => x.unit_code === unit).reduce((s, x) => s + x.yuan, 0), 6)
          // payees add up to their programme
          for (const p of programmes) {
            const paid = r.rows.filter((x) => x.unit_code === unit && x.programme === p.id).reduce((s, x) => s + x.amount_yuan, 0)
            const payees = r.payees.filter((x) => x.unit_code === unit && x.programme === p.id).reduce((s, x) => s + x.amount_yuan, 0)
            expect(payees).toBeCloseTo(paid, 6)
          }
        }
      }
      // the collective forest of two villages: each hectare once, with its first feature's village
      const r = await compensate(db, { units: 'two', config: std('highest_once', programmes, { payee_field: '村' }) })
      const villages = r.payees.filter((x) => x.programme === 'forest_collective').map((x) => x.payee).sort()
      expect([...new Set(villages)]).toEqual(['东坑村', '南屏村'])
      // the state-owned national forest is in no programme: outside the ownership filter
      const [own] = await db.query<{ a: number }>("SELECT ST_Area(f.geom::geography) AS a FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'forest' AND f.attributes->>'权属' = '国有' AND f.category = '国家级'")
      expect(own!.a).toBeGreaterThan(0)
      // sum: every programme pays all it claims
      const s = await compensate(db, { units: 'two', config: std('sum', programmes) })
      for (const x of s.rows) expect(x.paid_m2).toBe(x.claimed_m2)
      for (const u of s.units) expect(u.amount_yuan).toBeCloseTo(u.amount_if_sum_yuan, 6)
      const once = await compensate(db, { units: 'two', config: std('highest_once', programmes) })
      for (const u of s.units) {
        const o = once.units.find((x) => x.unit_code === u.unit_code)!
        expect(u.amount_yuan - o.amount_yuan).toBeCloseTo(o.double_counted_yuan, 6)
      }
    })

    it('the run records its inputs, is reused, and refuses bad standards with the reason', async () => {
      const a = await compensate(db, { units: 'two', config: std('highest_once', handProgrammes) })
      const b = await compensate(db, { units: 'two', config: std('highest_once', handProgrammes) })
      expect(b.run.id).toBe(a.run.id)
      expect((a.run.inputs as { layers: { use: string }[] }).layers.map((l) => l.use)).toEqual(['forest', 'wetland'])
      const bad = async (programmesOrDoc: unknown, re: RegExp) => expect(compensate(db, { units: 'two', config: Array.isArray(programmesOrDoc) ? std('highest_once', programmesOrDoc) : programmesOrDoc })).rejects.toThrow(re)
      await bad([{ ...programmes[1], categories: ['市级'] }], /has no 事权等级 市级 \(has 国家级, 省级\)/)
      await bad([{ ...programmes[0], ownership_field: '所有权' }], /ownership_field '所有权' is not an attribute of layer forest@2023/)
      await bad([{ ...programmes[0], rate_unit: '元/平方米' }], /rate_unit.*元\/亩·年/)
      await bad([programmes[0], programmes[0]], /listed twice/)
      await bad([{ ...programmes[0], layer: 'nosuch' }], /no layer 'nosuch'/)
      await bad({ year: 2023, rule: 'cheapest', programmes }, /rule.*highest_once, first_listed, sum/)
      await bad([{ ...programmes[0], ownership_values: undefined }], /ownership_field and ownership_values go together/)
    })

    it('serves the ledger over HTTP as CSV and as a workbook a reviewer can read', async () => {
      const res = await fetch(`${base}/api/compensation?format=csv&table=ledger`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 'two', config: std('highest_once', handProgrammes) }) })
      expect(res.status).toBe(200)
      const csv = await res.text()
      expect(csv.split(/\r?\n/)[0]).toBe('unit_code,unit_name,programme,programme_name,class,year,rate,rate_unit,claimed_m2,excluded_m2,paid_m2,amount_yuan,claimed_yuan')
      expect(res.headers.get('x-run-id')).toMatch(/^\d+$/)
      const x = await fetch(`${base}/api/compensation?format=xlsx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 'two', config: std('highest_once', handProgrammes) }) })
      expect(x.status).toBe(200)
      const wb = new ExcelJS.Workbook()
      await wb.xlsx.load(Buffer.from(await x.arrayBuffer()) as never)
      expect(wb.worksheets.map((s) => s.name)).toEqual(['补偿汇总 units', '补偿明细 ledger', '补偿对象 payees', '重复计补 double', '计算说明 explanation', '补偿标准 standards', '数据来源 provenance'])
      const prov = wb.getWorksheet('数据来源 provenance')!
      const text = prov.getSheetValues().flat().join(' ')
      expect(text).toMatch(/hforest@2023/)
      expect(text).toMatch(/就高不就低/)
      const bad = await fetch(`${base}/api/compensation`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 'two', config: std('highest_once', [{ ...handProgrammes[0], rate: -1 }]) }) })
      expect(bad.status).toBe(400)
      expect((await bad.json()).error.message).toMatch(/rate/)
    })
  })
}
