// Area factors, factor-method allocation and ESV: allocation invariants as properties
// (fast-check: sums to the budget in fen, monotone in each factor, floors and caps hold,
// weights normalised), a hand-computed allocation; factors against the coverage and change
// engines and PostGIS; ESV of a hand-drawn unit against the equivalents typed in here; the
// HTTP routes and the finance workbook; config and mapping validation.
import fs from 'node:fs'
import path from 'node:path'
import type { Server } from 'node:http'
import ExcelJS from 'exceljs'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { createServer } from '../server/http/app.ts'
import { loadSettings } from '../server/settings.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { importUnits } from '../server/units/import-units.ts'
import { coverage } from '../server/stats/coverage.ts'
import { change } from '../server/stats/change.ts'
import { allocate, checkConfig, type AllocationConfig, type UnitFactors } from '../server/factors/allocate.ts'
import { computeFactors, defaultDefinitions } from '../server/factors/factors.ts'
import { runAllocation } from '../server/factors/allocation.ts'
import { checkMapping, computeEsv, loadCoefficients } from '../server/factors/esv.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { baseUrl } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })
const fen = (x: number) => Math.round(x * 100)

// ---- the allocation maths, on generated inputs -------------------------------------------
const unitsArb = (k: number) => fc.array(fc.array(fc.double({ min: 0, max: 1e9, noNaN: true }), { minLength: k, maxLength: k }), { minLength: 1, maxLength: 12 })
  .map((rows) => rows.map((vals, i): UnitFactors => ({ code: `U${String(i).padStart(2, '0')}`, name: null, values: Object.fromEntries(vals.map((v, j) => [`f${j}`, v])) })))
  .filter((us) => [...Array(k).keys()].some((j) => us.some((u) => u.values[`f${j}`]! > 0)))
const budgetArb = fc.integer({ min: 1, max: 1e12 }).map((c) => c / 100)

describe('allocation (因素法) maths', () => {
  it('sums to the budget exactly, to the fen, whatever the factors, weights, coefficients and deductions', () => {
    fc.assert(fc.property(unitsArb(3), budgetArb, fc.array(fc.double({ min: 0.01, max: 5, noNaN: true }), { minLength: 3, maxLength: 3 }), fc.double({ min: 0.1, max: 3, noNaN: true }), fc.double({ min: 0, max: 1e4, noNaN: true }), (units, budget, w, coef, rate) => {
      const cfg: AllocationConfig = {
        budget, factors: w.map((weight, j) => ({ factor: `f${j}`, weight })),
        adjustments: [{ units: [units[0]!.code], coefficient: coef, reason: 'test' }],
        deductions: [{ factor: 'f2', rate_per_ha: rate, reason: 'loss' }],
      }
      let r
      try {
        r = allocate(units, cfg)
      } catch (e) {
        // the only refusal allowed here: deductions taking everything
        expect((e as Error).message).toMatch(/whole budget|zero share/)
        return
      }
      expect(r.units.reduce((s, u) => s + fen(u.amount), 0)).toBe(fen(budget))
      for (const u of r.units) {
        expect(Number(u.amount.toFixed(2))).toBe(u.amount) // whole fen
        expect(u.amount).toBeGreaterThanOrEqual(0)
      }
    }), { numRuns: 300, seed: 20261123 })
  })

  it('is monotone in each factor: a unit with more of a factor gets no less', () => {
    fc.assert(fc.property(unitsArb(2), budgetArb, fc.nat({ max: 11 }), fc.nat({ max: 1 }), fc.double({ min: 1, max: 1e8, noNaN: true }), (units, budget, pick, j, extra) => {
      const i = pick % units.length
      const cfg: AllocationConfig = { budget, factors: [{ factor: 'f0', weight: 0.6 }, { factor: 'f1', weight: 0.4 }] }
      const more = units.map((u, k) => (k === i ? { ...u, values: { ...u.values, [`f${j}`]: u.values[`f${j}`]! + extra } } : u))
      const a = allocate(units, cfg).units[i]!.amount
      const b = allocate(more, cfg).units[i]!.amount
      expect(b).toBeGreaterThanOrEqual(a - 0.01) // rounding may move one fen
    }), { numRuns: 300, seed: 7 })
  })

  it('respects floors and caps, and still sums to the budget', () => {
    fc.assert(fc.property(unitsArb(2), fc.integer({ min: 1000, max: 1e9 }), fc.double({ min: 0, max: 0.9, noNaN: true }), fc.double({ min: 1.1, max: 5, noNaN: true }), (units, budget, fl, cp) => {
      const n = units.length
      const floor = Math.floor((budget / n) * fl)
      const cap = Math.ceil((budget / n) * cp)
      const r = allocate(units, { budget, factors: [{ factor: 'f0', weight: 1 }, { factor: 'f1', weight: 1 }], floor, cap })
      for (const u of r.units) {
        expect(u.amount).toBeGreaterThanOrEqual(floor - 0.01)
        expect(u.amount).toBeLessThanOrEqual(cap + 0.01)
      }
      expect(r.units.reduce((s, u) => s + fen(u.amount), 0)).toBe(fen(budget))
    }), { numRuns: 300, seed: 11 })
  })

  it('normalises weights that do not sum to 1, with a warning, to the same result', () => {
    fc.assert(fc.property(unitsArb(2), budgetArb, fc.double({ min: 0.01, max: 100, noNaN: true }), (units, budget, scale) => {
      const a = allocate(units, { budget, factors: [{ factor: 'f0', weight: 0.25 }, { factor: 'f1', weight: 0.75 }] })
      const b = allocate(units, { budget, factors: [{ factor: 'f0', weight: 0.25 * scale }, { factor: 'f1', weight: 0.75 * scale }] })
      expect(b.units.map((u) => u.amount)).toEqual(a.units.map((u) => u.amount))
      if (Math.abs(scale - 1) > 1e-9) expect(b.warnings.join()).toMatch(/weights sum to .* normalised/)
    }), { numRuns: 200, seed: 3 })
  })

  it('a hand-computed case, explained line by line', () => {
    // budget 1000; f: A 1/2/3 (weight 0.5), B 3/0/1 (weight 0.5)
    // shares: U1 = .5×1/6 + .5×3/4 = 0.458333…, U2 = .5×2/6 = 0.166666…, U3 = .5×3/6 + .5×1/4 = 0.375
    // U3 coefficient 2 → c·s = .458333, .166667, .75 (Σ 1.375) → t = 1/3, 0.121212…, 0.545454…
    // deduction U1: 1 ha × 10 = 10 yuan; kept 323.333, 121.212, 545.454 (Σ 990) → each + 10 × kept/990
    const units: UnitFactors[] = [
      { code: 'U1', name: null, values: { A: 1, B: 3, L: 1e4 } },
      { code: 'U2', name: null, values: { A: 2, B: 0, L: 0 } },
      { code: 'U3', name: null, values: { A: 3, B: 1, L: 0 } },
    ]
    const r = allocate(units, { budget: 1000, factors: [{ factor: 'A', weight: 0.5 }, { factor: 'B', weight: 0.5 }], adjustments: [{ units: ['U3'], coefficient: 2, reason: 'national park' }], deductions: [{ factor: 'L', rate_per_ha: 10, reason: 'red line lost' }] })
    const t = [0.458333333333 / 1.375, 0.166666666667 / 1.375, 0.75 / 1.375]
    const kept = [1000 * t[0]! - 10, 1000 * t[1]!, 1000 * t[2]!]
    const want = kept.map((k) => k + (10 * k) / 990)
    r.units.forEach((u, i) => expect(u.amount).toBeCloseTo(want[i]!, 2))
    expect(r.units.reduce((s, u) => s + fen(u.amount), 0)).toBe(100000)
    expect(r.units[0]!.weighted_share).toBeCloseTo(0.458333333, 8)
    const steps = r.units[0]!.explanation.map((l) => l.step)
    expect(steps).toEqual(['factor', 'factor', 'share', 'base', 'deduction', 'redistribution', 'rounding'])
    expect(r.units[2]!.explanation.some((l) => l.step === 'coefficient' && l.text.includes('national park'))).toBe(true)
    expect(r.units[0]!.explanation.find((l) => l.step === 'deduction')!.text).toMatch(/− 10\.00: red line lost \(1\.0000 ha × 10\.00 yuan\/ha\)/)
    expect(r.units[0]!.explanation.find((l) => l.step === 'deduction')!.zh).toBe('− 10.00 元：red line lost（1.0000 公顷 × 10.00 元/公顷）')
    // every line in Chinese carries the same numbers as in English
    const numbers = (t: string) => (t.match(/\d[\d,]*(\.\d+)?%?/g) ?? []).join(' ')
    for (const l of r.units.flatMap((u) => u.explanation)) expect(numbers(l.zh), l.text).toBe(numbers(l.text))
    expect(r.warnings).toEqual([])
    // a coefficient naming codes outside the set changes nothing and says so
    const w = allocate(units, { budget: 1000, factors: [{ factor: 'A', weight: 1 }], adjustments: [{ units: ['U3', '341003'], coefficient: 2, reason: 'key area' }] })
    expect(w.warnings).toEqual(['adjustments[0] (key area): unit codes not in the unit set, so not adjusted: 341003'])
  })

  it('prints no deduction line for a loss that rounds to no money (a few mm² of sum noise)', () => {
    const units: UnitFactors[] = [
      { code: 'U1', name: null, values: { A: 1, L: 3e-7 } },
      { code: 'U2', name: null, values: { A: 1, L: 0 } },
    ]
    const c = { budget: 1000, factors: [{ factor: 'A', weight: 1 }], deductions: [{ factor: 'L', rate_per_ha: 2000, reason: 'red line lost' }] }
    const r = allocate(units, c)
    expect(r.units.flatMap((u) => u.explanation).filter((l) => l.step === 'deduction')).toEqual([])
    expect(r.units.reduce((s, u) => s + fen(u.amount), 0)).toBe(100000)
    // a loss worth a fen still shows
    const shown = allocate([{ ...units[0]!, values: { A: 1, L: 0.05 } }, units[1]!], c)
    expect(shown.units[0]!.explanation.find((l) => l.step === 'deduction')!.text).toMatch(/− 0\.01: red line lost/)
  })

  it('refuses configs it cannot follow, saying what is wrong', () => {
    const known = new Set(['a', 'b'])
    const bad = (c: unknown, re: RegExp) => expect(() => checkConfig(c, known)).toThrow(re)
    bad({ factors: [{ factor: 'a', weight: 1 }] }, /budget must be a number/)
    bad({ budget: 10.005, factors: [{ factor: 'a', weight: 1 }] }, /more than 2 decimals/)
    bad({ budget: 10, factors: [] }, /non-empty list/)
    bad({ budget: 10, factors: [{ factor: 'x', weight: 1 }] }, /unknown factor 'x' \(known: a, b\)/)
    bad({ budget: 10, factors: [{ factor: 'a', weight: -1 }] }, /weight must be a number ≥ 0/)
    bad({ budget: 10, factors: [{ factor: 'a', weight: 0 }] }, /at least one weight must be positive/)
    bad({ budget: 10, factors: [{ factor: 'a', weight: 1 }], adjustments: [{ units: ['X'], coefficient: 2 }] }, /give a reason/)
    bad({ budget: 10, factors: [{ factor: 'a', weight: 1 }], adjustments: [{ coefficient: 2, reason: 'r' }] }, /either units .* or where/)
    bad({ budget: 10, factors: [{ factor: 'a', weight: 1 }], deductions: [{ factor: 'b', reason: 'r' }] }, /rate_per_ha .* or rate_per_unit/)
    bad({ budget: 10, factors: [{ factor: 'a', weight: 1 }], floor: 5, cap: 4 }, /floor 5 is above cap 4/)
    bad({ budget: 10, factors: [{ factor: 'a', weight: 1 }], bugdet: 3 }, /unknown key 'bugdet'/)
    const units: UnitFactors[] = [{ code: 'A', name: null, values: { a: 1 } }, { code: 'B', name: null, values: { a: 1 } }]
    expect(() => allocate(units, { budget: 10, factors: [{ factor: 'a', weight: 1 }], floor: 6 })).toThrow(/floor 6 × 2 units exceeds the budget 10/)
    expect(() => allocate(units, { budget: 10, factors: [{ factor: 'a', weight: 1 }], cap: 4 })).toThrow(/cap 4 × 2 units is less than the budget 10/)
  })
})

// ---- factors and ESV on the databases ----------------------------------------------------
for (const backend of backends()) {
  describe(`factors and ESV on ${backend.name}`, () => {
    let db: Db
    let dir: string
    let server: Server
    let base: string
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      const ingest = (file: string, fcDoc: unknown, layer: string, kind: string, vintage: string, categoryField?: string) =>
        ingestLayer(db, { file: writeJson(dir, file, fcDoc), layer, kind, vintage, categoryField, maxBytes: MAX })
      await importUnits(db, {
        file: writeJson(dir, 'u.geojson', featureCollection([
          { props: { code: 'W', name: '西' }, geometry: poly(box(118.0, 30.0, 118.1, 30.1, 0.02)) },
          { props: { code: 'E', name: '东' }, geometry: poly(box(118.1, 30.0, 118.2, 30.1, 0.02)) },
        ], 'EPSG:4490')),
        set: 'two', maxBytes: MAX,
      })
      await ingest('r20.geojson', featureCollection([{ geometry: poly(box(118.05, 30.02, 118.15, 30.08, 0.01)) }], 'EPSG:4490'), 'redline', 'redline', '2020')
      await ingest('r23.geojson', featureCollection([{ geometry: poly(box(118.06, 30.02, 118.15, 30.08, 0.01)) }], 'EPSG:4490'), 'redline', 'redline', '2023')
      await ingest('pa.geojson', featureCollection([
        { props: { 类型: '国家公园' }, geometry: poly(box(118.01, 30.01, 118.04, 30.04, 0.01)) },
        { props: { 类型: '自然保护区' }, geometry: poly(box(118.03, 30.03, 118.12, 30.05, 0.01)) },
        { props: { 类型: '森林公园' }, geometry: poly(box(118.16, 30.06, 118.18, 30.09, 0.01)) },
      ], 'EPSG:4490'), 'pa', 'protected_area', '2023', '类型')
      // land cover by class code: W is class 3 (forest) west of 118.03 and 11 (water) east of it
      await ingest('lc.geojson', featureCollection([
        { props: { code: '3' }, geometry: poly(box(118.0, 30.0, 118.03, 30.1, 0.01)) },
        { props: { code: '11' }, geometry: poly(box(118.03, 30.0, 118.1, 30.1, 0.01)) },
        { props: { code: '20' }, geometry: poly(box(118.1, 30.0, 118.2, 30.1, 0.01)) },
      ], 'EPSG:4490'), 'landcover', 'other', '2023', 'code')
      server = createServer({ db, settings: { ...loadSettings({}), rasterDir: path.join(dir, 'r'), tileCacheDir: path.join(dir, 't') } }).listen(0, '127.0.0.1')
      base = await baseUrl(server)
    }, 120_000)
    afterAll(async () => {
      await new Promise((r) => server?.close(r))
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('default factors by kind equal the coverage and change engines and PostGIS', async () => {
      const defs = await defaultDefinitions(db)
      const ids = defs.map((d) => d.id)
      for (const id of ['redline_m2', 'redline_share', 'redline_lost_m2', 'pa_m2', 'pa_count', 'pa_national_park_m2', 'pa_nature_reserve_m2', 'pa_natural_park_m2', 'ecological_space_m2']) expect(ids).toContain(id)
      expect(defs.find((d) => d.id === 'pa_natural_park_m2')!.categories).toEqual(['森林公园'])
      const f = await computeFactors(db, 'two')
      const cov = await coverage(db, 'two', { layers: 'redline@2023,pa@2023', categories: true })
      const chg = await change(db, 'two', 'redline', '2020', '2023')
      for (const u of ['W', 'E']) {
        const v = f.values.get(u)!
        const row = (layer: string, measure = 'layer', category: string | null = null) => cov.rows.find((r) => r.unit_code === u && r.layer === layer && r.measure === measure && r.category === category)
        expect(v.redline_m2).toBeCloseTo(row('redline')!.area_m2, 6)
        expect(v.redline_share).toBeCloseTo(row('redline')!.share, 12)
        expect(v.pa_m2).toBeCloseTo(row('pa')!.area_m2, 6)
        expect(v.pa_national_park_m2).toBeCloseTo(row('pa', 'category', '国家公园')?.area_m2 ?? 0, 6)
        expect(v.redline_lost_m2).toBeCloseTo(chg.rows.find((r) => r.unit_code === u)!.lost_m2, 6)
        // and independently: PostGIS geography area of the red line clipped to the unit
        const [pg] = await db.query<{ a: number }>("SELECT ST_Area(ST_Intersection(f.geom, u.geom)::geography) AS a FROM feature f JOIN layer l ON l.id = f.layer_id, unit u WHERE l.name = 'redline' AND l.vintage = '2023' AND u.code = $1", [u])
        expect(Math.abs(v.redline_m2! - Number(pg!.a)) / Number(pg!.a)).toBeLessThan(1e-9)
      }
      // red line 2020 minus 2023 is the strip 118.05–118.06, all in W
      expect(f.values.get('E')!.redline_lost_m2).toBeCloseTo(0, 3)
      expect(f.values.get('W')!.redline_lost_m2).toBeGreaterThan(0)
      // the national park (118.01–118.04) and the reserve (part) are in W; the forest park in E
      expect(f.values.get('E')!.pa_national_park_m2).toBe(0)
      expect(f.values.get('E')!.pa_natural_park_m2).toBeGreaterThan(0)
      expect(f.values.get('W')!.pa_count).toBe(2)
      // provenance: the runs and the layer versions with checksums
      expect(f.provenance.runs.map((r) => r.kind).sort()).toEqual(['change', 'coverage'])
      expect(f.provenance.layers.every((l) => l.source_checksum.startsWith('sha256:'))).toBe(true)
      expect(f.rows.find((r) => r.factor === 'redline_lost_m2')!.source).toBe('redline@2020→2023')
    })

    it('ESV of a hand-drawn unit equals Σ ha × equivalents × V with the table typed in here', async () => {
      const coefficients = loadCoefficients()
      const mapping = checkMapping({ classes: { 3: 'mixed_forest', 11: 'water', 20: null } }, coefficients)
      const e = await computeEsv(db, 'two', { layer: 'landcover', mapping, coefficients, equivalentValue: 3000, rasterDir: '' })
      // 谢高地 2015: mixed forest 0.31+0.71+0.37+2.35+7.03+1.99+3.51+2.86+0.22+2.60+1.14 = 23.09; water … = 125.61
      const [a] = await db.query<{ forest: number; water: number }>(`SELECT ST_Area(ST_Intersection(ST_MakeEnvelope(118.0, 30.0, 118.03, 30.1, 4490), geom)::geography) AS forest,
        ST_Area(ST_Intersection(ST_MakeEnvelope(118.03, 30.0, 118.1, 30.1, 4490), geom)::geography) AS water FROM unit WHERE code = 'W'`)
      const want = (Number(a!.forest) / 1e4) * 23.09 * 3000 + (Number(a!.water) / 1e4) * 125.61 * 3000
      const got = e.unitRows.find((r) => r.unit_code === 'W')!.total_yuan as number
      expect(Math.abs(got - want) / want).toBeLessThan(1e-6) // segmentised boxes: PostGIS areas of the same polygons
      // hydrological regulation of water: 102.24 equivalents per ha
      const hydro = e.rows.find((r) => r.unit_code === 'W' && r.service === 'hydrological_regulation')!.value_yuan
      const hydroWant = (Number(a!.forest) / 1e4) * 3.51 * 3000 + (Number(a!.water) / 1e4) * 102.24 * 3000
      expect(Math.abs(hydro - hydroWant) / hydroWant).toBeLessThan(1e-6)
      expect(e.unitRows.find((r) => r.unit_code === 'E')!.total_yuan).toBe(0) // class 20: no value
      expect(e.totals.at(-1)!.value_yuan).toBeCloseTo(got, 3)
      // mapping errors
      expect(() => checkMapping({ classes: { 3: 'jungle' } }, coefficients)).toThrow(/unknown ecosystem type 'jungle'/)
      expect(() => checkMapping({ classes: { 1: { paddy: 0.5, dry_farmland: 0.4 } } }, coefficients)).toThrow(/fractions sum to 0.9/)
      await expect(computeEsv(db, 'two', { layer: 'landcover', mapping: checkMapping({ classes: { 3: 'mixed_forest' } }, coefficients), coefficients, equivalentValue: 3000, rasterDir: '' })).rejects.toThrow(/no entry for class\(es\) 11, 20/)
    })

    it('allocates through HTTP: amounts sum to the budget, explanations, workbook sheets; bad configs are 400', async () => {
      const config = {
        units: 'two', budget: 1000000.01,
        factors: [{ factor: 'redline_m2', weight: 0.5 }, { factor: 'pa_m2', weight: 0.3 }, { factor: 'ecological_space_m2', weight: 0.2 }],
        adjustments: [{ where: { factor: 'pa_national_park_m2', gt: 0 }, coefficient: 1.2, reason: 'national park' }],
        deductions: [{ factor: 'redline_lost_m2', rate_per_ha: 100, reason: 'red line lost' }],
      }
      const res = await fetch(`${base}/api/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) })
      expect(res.status).toBe(200)
      const body = await res.json()
      const amounts = body.allocation.units.map((u: { amount: number }) => u.amount)
      expect(amounts.reduce((s: number, a: number) => s + fen(a), 0)).toBe(100000001)
      const lib = await runAllocation(db, config)
      expect(amounts).toEqual(lib.allocation.units.map((u) => u.amount))
      expect(body.allocation.units[0].explanation.length).toBeGreaterThan(4)
      const csv = await (await fetch(`${base}/api/allocations?format=csv&table=explanation`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) })).text()
      expect(csv.split('\r\n')[0]).toBe('unit_code,unit_name,line,step,text,amount')
      const book = await fetch(`${base}/api/allocations?format=xlsx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) })
      const wb = new ExcelJS.Workbook()
      await wb.xlsx.load(Buffer.from(await book.arrayBuffer()) as never)
      expect(wb.worksheets.map((w) => w.name)).toEqual(['units', 'factors', 'allocation', 'explanation', 'parameters', 'provenance'])
      const units = wb.getWorksheet('units')!
      const head = (units.getRow(1).values as string[]).slice(1)
      expect(head).toContain('redline_ha')
      expect(head).toContain('redline_mu')
      const amountCol = (wb.getWorksheet('allocation')!.getRow(1).values as string[]).indexOf('amount')
      const sheetAmounts = [2, 3].map((r) => wb.getWorksheet('allocation')!.getRow(r).getCell(amountCol).value as number)
      expect(sheetAmounts).toEqual(amounts) // numbers, not text
      const f = await fetch(`${base}/api/factors?units=two&format=csv`)
      expect((await f.text()).split('\r\n')[0]).toBe('unit_code,unit_name,unit_area_m2,factor,label,value,value_unit,source,run_id')
      const bad = async (cfg: unknown, re: RegExp) => {
        const r = await fetch(`${base}/api/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cfg) })
        expect(r.status).toBe(400)
        expect((await r.json()).error.message).toMatch(re)
      }
      await bad({ ...config, factors: [{ factor: 'nope', weight: 1 }] }, /unknown factor 'nope'/)
      await bad({ ...config, units: undefined }, /allocation config: 'units' is required/)
      await bad({ ...config, budget: 'lots' }, /allocation config: 'budget' 'lots': must be a number of yuan/)
      const r404 = await fetch(`${base}/api/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...config, units: 'nowhere' }) })
      expect(r404.status).toBe(404)
    })
  })
}
