// Per-unit indicators (server/indicators): a long table imported as an immutable version with
// its checksum; every bad line named and nothing stored; XLSX as CSV; indicators as factors
// (measure value, with compare for a change), in allocation weights, coefficients and
// deductions, the allocation still summing to the budget to the fen; the HTTP upload.
import fs from 'node:fs'
import path from 'node:path'
import ExcelJS from 'exceljs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { importIndicators, listIndicatorSets } from '../server/indicators/indicators.ts'
import { computeFactors } from '../server/factors/factors.ts'
import { runAllocation } from '../server/factors/allocation.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })
const POP = { A: 120_000, B: 45_000, C: 35_000 }
const KEY = 'indicator-admin-key-1'
const auth = { authorization: `Bearer ${KEY}` }

for (const backend of backends()) {
  describe(`indicators on ${backend.name}`, () => {
    let db: Db
    let dir: string
    const servers = serverPool()
    let base: string
    const csv = (name: string, text: string) => { const p = path.join(dir, name); fs.writeFileSync(p, text); return p }
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      await importUnits(db, {
        file: writeJson(dir, 'u.geojson', featureCollection(['A', 'B', 'C'].map((code, i) => ({ props: { code }, geometry: poly(box(118 + 0.1 * i, 30, 118.1 + 0.1 * i, 30.1, 0.05)) })), 'EPSG:4490')),
        set: 'abc', maxBytes: MAX,
      })
      const rows = (eqi: number[]) => ['unit_code,indicator,value,unit', ...Object.entries(POP).map(([c, p]) => `${c},population,${p},人`), ...['A', 'B', 'C'].map((c, i) => `${c},eqi,${eqi[i]},1`), 'A,output,2.5,亿元', 'B,output,0,亿元', 'C,output,1,亿元'].join('\n')
      await importIndicators(db, { file: csv('s2022.csv', rows([70, 60, 55])), name: 'stats', year: '2022', units: 'abc', maxBytes: MAX })
      await importIndicators(db, { file: csv('s2023.csv', rows([70.5, 58.5, 55])), name: 'stats', year: '2023', units: 'abc', maxBytes: MAX })
      base = await servers.start(db, { dir, settings: { apiKey: KEY } })
    }, 120_000)
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('stores a version with its checksum; a second import needs --replace and keeps the history', async () => {
      const sets = await listIndicatorSets(db)
      expect(sets.map((s) => `${s.name}@${s.vintage}`)).toEqual(['stats@2022', 'stats@2023'])
      expect(sets[1]!.indicators).toEqual({ population: '人', eqi: '1', output: '亿元' })
      expect(sets[1]!.source_checksum).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(sets[1]!.row_count).toBe(9)
      const again = csv('again.csv', 'unit_code,indicator,value,unit\nA,population,1,人\nB,population,1,人\nC,population,1,人\n')
      await expect(importIndicators(db, { file: again, name: 'stats', year: '2023', units: 'abc', maxBytes: MAX })).rejects.toThrow(/indicators 'stats' vintage 2023 already exists; pass --replace .* or give another --year/)
      const r = await importIndicators(db, { file: again, name: 'stats', year: '2023', units: 'abc', replace: true, maxBytes: MAX })
      expect(r.replaced).toBe(sets[1]!.id)
      const [old] = await db.query<{ retired: boolean; n: number }>('SELECT retired_at IS NOT NULL AS retired, (SELECT count(*)::int FROM indicator_value WHERE set_id = $1) AS n FROM indicator_set WHERE id = $1', [sets[1]!.id])
      expect(old).toEqual({ retired: true, n: 9 })
      // put the real 2023 back (a third version)
      await importIndicators(db, { file: path.join(dir, 's2023.csv'), name: 'stats', year: '2023', units: 'abc', replace: true, maxBytes: MAX })
    })

    it('refuses a table whole, naming every bad line; nothing is stored', async () => {
      const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM indicator_value')
      const bad = csv('bad.csv', ['unit_code,indicator,value,unit', 'A,population,100,人', 'Z,population,5,人', 'A,population,7,人', 'B,population,many,人', 'C,population,9,万人', '', 'C,eqi,1e3,1'].join('\n'))
      const err = await importIndicators(db, { file: bad, name: 'bad', year: '2023', units: 'abc', maxBytes: MAX }).then(() => null, (e: Error) => e.message)
      expect(err).toMatch(/^bad\.csv: 4 problems, nothing imported: /)
      expect(err).toMatch(/line 3: unit code Z is not in unit set abc/)
      expect(err).toMatch(/line 4: population of A is given twice \(also line 2\)/)
      expect(err).toMatch(/line 5: value 'many' is not a number/)
      expect(err).toMatch(/line 6: population in '万人', but line 2 gives it in '人'; one unit per indicator/)
      expect(await db.query('SELECT count(*)::int AS n FROM indicator_value')).toEqual(before)
      expect((await listIndicatorSets(db)).map((s) => s.name)).not.toContain('bad')
      await expect(importIndicators(db, { file: csv('h.csv', 'code,indicator,value\nA,x,1\n'), name: 'h', year: '2023', units: 'abc', maxBytes: MAX })).rejects.toThrow(/no column 'unit_code'/)
      await expect(importIndicators(db, { file: csv('e.csv', 'unit_code,indicator,value,unit\n'), name: 'e', year: '2023', units: 'abc', maxBytes: MAX })).rejects.toThrow(/no rows under the header/)
      await expect(importIndicators(db, { file: csv('big.csv', 'unit_code,indicator,value,unit\nA,x,1,\n'), name: 'big', year: '2023', units: 'abc', maxBytes: 10 })).rejects.toThrow(/over the limit of 10/)
    })

    it('reads XLSX like CSV, with the workbook\'s line numbers', async () => {
      const wb = new ExcelJS.Workbook()
      const ws = wb.addWorksheet('s')
      ws.addRow(['unit_code', 'indicator', 'value', 'unit'])
      ws.addRow(['A', 'score', 88, '分'])
      ws.addRow(['B', 'score', 91.5, '分'])
      ws.addRow(['C', 'score', 'n/a', '分'])
      const file = path.join(dir, 'score.xlsx')
      await wb.xlsx.writeFile(file)
      await expect(importIndicators(db, { file, name: 'perf', year: '2023', units: 'abc', maxBytes: MAX })).rejects.toThrow(/line 4: value 'n\/a' is not a number/)
      ws.getCell('C4').value = 79
      await wb.xlsx.writeFile(file)
      const r = await importIndicators(db, { file, name: 'perf', year: '2023', units: 'abc', maxBytes: MAX })
      expect(r.indicators).toEqual({ score: '分' })
    })

    it('indicators as factors (value, and change with compare); a unit without a value is refused', async () => {
      const f = await computeFactors(db, 'abc', [
        { id: 'pop', label: '人口', measure: 'value', indicators: 'stats@2023', indicator: 'population' },
        { id: 'eqi_change', label: 'EQI 变化', measure: 'value', indicators: 'stats', indicator: 'eqi', compare: '2022' },
      ])
      expect(['A', 'B', 'C'].map((c) => f.values.get(c)!.pop)).toEqual([120_000, 45_000, 35_000])
      expect(['A', 'B', 'C'].map((c) => f.values.get(c)!.eqi_change)).toEqual([0.5, -1.5, 0])
      expect(f.rows.find((r) => r.factor === 'pop')!.value_unit).toBe('人')
      expect(f.provenance.indicators.map((x) => `${x.name}@${x.vintage}`).sort()).toEqual(['stats@2022', 'stats@2023'])
      await importIndicators(db, { file: csv('part.csv', 'unit_code,indicator,value,unit\nA,gap,3,亿元\nB,gap,1,亿元\n'), name: 'fiscal', year: '2023', units: 'abc', maxBytes: MAX })
      await expect(computeFactors(db, 'abc', [{ id: 'gap', label: 'gap', measure: 'value', indicators: 'fiscal', indicator: 'gap' }])).rejects.toThrow(/indicators fiscal@2023 have no gap for unit C of abc/)
      await expect(computeFactors(db, 'abc', [{ id: 'x', label: 'x', measure: 'value', indicators: 'stats', indicator: 'gdp' }])).rejects.toThrow(/have no indicator 'gdp' \(have eqi, output, population\)/)
      await expect(computeFactors(db, 'abc', [{ id: 'x', label: 'x', measure: 'value', indicators: 'nosuch', indicator: 'gdp' }])).rejects.toThrow(/no indicators 'nosuch'/)
    })

    it('allocation weighs, adjusts and deducts by indicators and still sums to the budget to the fen', async () => {
      const budget = 1_000_000.07
      const a = await runAllocation(db, {
        units: 'abc', budget,
        definitions: [
          { id: 'pop', label: '人口', measure: 'value', indicators: 'stats@2023', indicator: 'population' },
          { id: 'eqi_change', label: 'EQI 变化', measure: 'value', indicators: 'stats@2023', indicator: 'eqi', compare: 2022 },
          { id: 'output', label: '限制类产业产值', measure: 'value', indicators: 'stats@2023', indicator: 'output' },
        ],
        factors: [{ factor: 'pop', weight: 1 }],
        adjustments: [{ where: { factor: 'eqi_change', lte: -1 }, coefficient: 0.95, reason: 'EQI 下降 ≥ 1' }],
        deductions: [{ factor: 'output', rate_per_unit: 1000, reason: '逆向关联：限制类产业产值（亿元）× 1000 元' }],
      })
      const amounts = a.allocation.units.map((u) => u.amount)
      expect(Math.round(amounts.reduce((s, x) => s + x, 0) * 100)).toBe(Math.round(budget * 100))
      // by hand: shares 0.6, 0.225, 0.175; B × 0.95, renormalised; deductions 2500 (A) and 1000 (C)
      // go back to the budget in proportion to what each keeps
      const s = [0.6, 0.225 * 0.95, 0.175]
      const t = s.map((x) => x / s.reduce((p, q) => p + q, 0))
      const before = t.map((x) => x * budget)
      const ded = [2500, 0, 1000]
      const kept = before.map((x, i) => x - ded[i]!)
      const want = kept.map((x) => x + (3500 * x) / kept.reduce((p, q) => p + q, 0))
      amounts.forEach((x, i) => expect(Math.abs(x - want[i]!)).toBeLessThanOrEqual(0.01))
      expect(a.allocation.units[1]!.coefficient).toBe(0.95)
    })

    it('uploads over HTTP (admin when keyed) and lists the versions', async () => {
      const body = fs.readFileSync(path.join(dir, 's2022.csv'))
      expect((await fetch(`${base}/api/indicators?filename=s.csv&name=upload&year=2022&units=abc`, { method: 'POST', body })).status).toBe(401)
      const r = await fetch(`${base}/api/indicators?filename=s.csv&name=upload&year=2022&units=abc`, { method: 'POST', body, headers: auth })
      expect(r.status).toBe(201)
      const v = await r.json()
      expect([v.name, v.vintage, v.row_count, v.source_file]).toEqual(['upload', '2022', 9, 's.csv'])
      const again = await fetch(`${base}/api/indicators?filename=s.csv&name=upload&year=2022&units=abc`, { method: 'POST', body, headers: auth })
      expect(again.status).toBe(409)
      const bad = await fetch(`${base}/api/indicators?filename=s.csv&name=upload2&year=2022&units=nope`, { method: 'POST', body, headers: auth })
      expect(bad.status).toBe(404)
      const list = await (await fetch(`${base}/api/indicators`)).json()
      expect(list.map((x: { name: string }) => x.name)).toContain('upload')
    })
  })
}
