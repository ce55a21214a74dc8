// Roll-up of per-unit results to parent units (results/rollup.ts): four townships summed to
// their two counties equal the counties measured directly (1e-6) for coverage, change,
// factors and the compensation ledger; shares are recomputed, not summed; feature counts are
// left empty; GB/T 2260 prefixes give the same parents as parent codes; overlapping children
// are refused; the HTTP and CLI shells pass the level through.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { importUnits } from '../server/units/import-units.ts'
import { coverage } from '../server/stats/coverage.ts'
import { change } from '../server/stats/change.ts'
import { computeFactors, factorExport } from '../server/factors/factors.ts'
import { compensate } from '../server/ledger/compensate.ts'
import { coverageExport, changeExport } from '../server/results/tables.ts'
import { compensationExport } from '../server/results/ledger-tables.ts'
import { rolledUp, parentCode } from '../server/results/rollup.ts'
import type { Exportable } from '../server/results/export.ts'
import { unitSetId } from '../server/units/unit-set.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })
type Row = Record<string, unknown>
const rowsOf = (x: Exportable, table: string) => x.tables.find((t) => t.name === table)!.rows as Row[]

/** every numeric column of `got` equals `want`'s within 1e-6 relative, rows matched by `key` */
function sameNumbers(got: Row[], want: Row[], key: (r: Row) => string, skip: string[] = []) {
  expect(got.map(key).sort()).toEqual(want.map(key).sort())
  const byKey = new Map(want.map((r) => [key(r), r]))
  let compared = 0
  for (const g of got) {
    const w = byKey.get(key(g))!
    for (const [c, v] of Object.entries(w)) {
      if (typeof v !== 'number' || skip.includes(c)) continue
      expect(typeof g[c], `${key(g)} ${c}`).toBe('number')
      expect(Math.abs((g[c] as number) - v), `${key(g)} ${c}: ${g[c]} vs ${v}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v)))
      compared++
    }
  }
  expect(compared).toBeGreaterThan(0)
}

describe('parent codes', () => {
  it('cut GB/T 2260 codes to county, city and province', () => {
    expect(parentCode('county', '341024001', null)).toBe('341024')
    expect(parentCode('city', '341024', null)).toBe('341000')
    expect(parentCode('province', '341024001002', null)).toBe('340000')
    expect(parentCode('parent', 'x', '341000')).toBe('341000')
    expect((parentCode('parent', 'x', null) as Error).message).toMatch(/no parent code/)
    expect((parentCode('county', 'G001', null) as Error).message).toMatch(/not a GB\/T 2260 code/)
  })
})

for (const backend of backends()) {
  describe(`roll-up on ${backend.name}`, () => {
    let db: Db
    let dir: string
    const servers = serverPool()
    let base: string
    let townsId: number
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      const town = (code: string, parent: string, w: number) => ({ props: { code, name: `镇${code.slice(-3)}`, parent }, geometry: poly(box(w, 30.0, w + 0.1, 30.1, 0.05)) })
      await importUnits(db, {
        file: writeJson(dir, 't.geojson', featureCollection([town('341001001', '341001', 118.0), town('341001002', '341001', 118.1), town('341002001', '341002', 118.2), town('341002002', '341002', 118.3)], 'EPSG:4490')),
        set: 'towns', parentField: 'parent', maxBytes: MAX,
      })
      await importUnits(db, {
        file: writeJson(dir, 'c.geojson', featureCollection([
          { props: { code: '341001', name: '甲县' }, geometry: poly(box(118.0, 30.0, 118.2, 30.1, 0.05)) },
          { props: { code: '341002', name: '乙县' }, geometry: poly(box(118.2, 30.0, 118.4, 30.1, 0.05)) },
        ], 'EPSG:4490')),
        set: 'counties', maxBytes: MAX,
      })
      townsId = await unitSetId(db, 'towns')
      const ingest = (file: string, doc: unknown, layer: string, kind: string, vintage: string, categoryField?: string) =>
        ingestLayer(db, { file: writeJson(dir, file, doc), layer, kind, vintage, categoryField, maxBytes: MAX })
      // patches crossing the township (and county) boundaries, overlapping each other
      const forest = (shift: number) => featureCollection([
        { props: { 事权等级: '国家级', 村: '甲村' }, geometry: poly(box(118.05 + shift, 30.02, 118.15, 30.06, 0.01)) },
        { props: { 事权等级: '省级', 村: '乙村' }, geometry: poly(box(118.12, 30.04, 118.27, 30.08, 0.01)) },
        { props: { 事权等级: '国家级', 村: '丙村' }, geometry: poly(box(118.25, 30.01, 118.36, 30.05, 0.01)) },
      ], 'EPSG:4490')
      await ingest('f20.geojson', forest(0), 'forest', 'forest', '2020', '事权等级')
      await ingest('f23.geojson', forest(0.02), 'forest', 'forest', '2023', '事权等级')
      await ingest('w.geojson', featureCollection([{ props: { 村: '甲村' }, geometry: poly(box(118.08, 30.03, 118.31, 30.05, 0.01)) }], 'EPSG:4490'), 'wetland', 'wetland', '2023')
      base = await servers.start(db, { dir })
    }, 120_000)
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('coverage of townships summed to counties equals the counties measured (1e-6); shares recomputed; counts empty', async () => {
      const o = { layers: 'forest@2023,wetland', categories: true, union: true }
      const towns = coverageExport(await coverage(db, 'towns', o), townsId)
      const direct = coverageExport(await coverage(db, 'counties', o), await unitSetId(db, 'counties'))
      const up = await rolledUp(db, towns, 'parent')
      const key = (r: Row) => [r.unit_code, r.layer, r.measure, r.category].join('|')
      sameNumbers(rowsOf(up, 'coverage'), rowsOf(direct, 'coverage'), key, ['features'])
      expect(rowsOf(up, 'coverage').every((r) => r.features === null)).toBe(true)
      expect(rowsOf(up, 'coverage').find((r) => r.unit_code === '341001')!.unit_name).toBe('甲县')
      // prefixes give the same parents as parent codes
      const byCode = await rolledUp(db, towns, 'county')
      expect(rowsOf(byCode, 'coverage')).toEqual(rowsOf(up, 'coverage'))
    })

    it('change, factors and the compensation ledger summed to counties equal the counties measured (1e-6)', async () => {
      const cid = await unitSetId(db, 'counties')
      const key = (...cols: string[]) => (r: Row) => cols.map((c) => String(r[c])).join('|')
      sameNumbers(rowsOf(await rolledUp(db, changeExport(await change(db, 'towns', 'forest', '2020', '2023'), townsId), 'parent'), 'change'),
        rowsOf(changeExport(await change(db, 'counties', 'forest', '2020', '2023'), cid), 'change'), key('unit_code', 'layer'))
      const f = await rolledUp(db, factorExport(await computeFactors(db, 'towns'), townsId), 'parent')
      const fd = factorExport(await computeFactors(db, 'counties'), cid)
      // counts (features touching) are not additive; every other factor, shares included, is
      sameNumbers(rowsOf(f, 'factors').filter((r) => r.value_unit !== 'count'), rowsOf(fd, 'factors').filter((r) => r.value_unit !== 'count'), key('unit_code', 'factor'), ['run_id'])
      expect(rowsOf(f, 'units').find((r) => r.unit_code === '341001')!.ecological_space_share).toBeCloseTo(rowsOf(fd, 'units').find((r) => r.unit_code === '341001')!.ecological_space_share as number, 9)
      const standards = { year: 2023, rule: 'highest_once', payee_field: '村', programmes: [
        { id: 'forest', name: '公益林', layer: 'forest@2023', rate: 16, rate_unit: '元/亩·年' },
        { id: 'wetland', name: '湿地', layer: 'wetland@2023', rate: 20, rate_unit: '元/亩·年' },
      ] }
      const lt = compensationExport(await compensate(db, { units: 'towns', config: standards }), townsId)
      const ld = compensationExport(await compensate(db, { units: 'counties', config: standards }), cid)
      const up = await rolledUp(db, lt, 'parent')
      sameNumbers(rowsOf(up, 'units'), rowsOf(ld, 'units'), key('unit_code'))
      sameNumbers(rowsOf(up, 'ledger'), rowsOf(ld, 'ledger'), key('unit_code', 'programme', 'class'))
      sameNumbers(rowsOf(up, 'payees'), rowsOf(ld, 'payees'), key('unit_code', 'programme', 'payee'))
      sameNumbers(rowsOf(up, 'double'), rowsOf(ld, 'double'), key('unit_code', 'paid_by', 'also_covered_by'))
      expect(up.tables.map((t) => t.name)).not.toContain('explanation')
    })

    it('refuses children that overlap, units without parents, and GeoJSON; the shells pass the level', async () => {
      await importUnits(db, {
        file: writeJson(dir, 'o.geojson', featureCollection([
          { props: { code: '341001001', parent: '341001' }, geometry: poly(box(118.0, 30.0, 118.12, 30.1, 0.05)) },
          { props: { code: '341001002', parent: '341001' }, geometry: poly(box(118.1, 30.0, 118.2, 30.1, 0.05)) },
        ], 'EPSG:4490')),
        set: 'overlapping', parentField: 'parent', maxBytes: MAX,
      })
      const ov = coverageExport(await coverage(db, 'overlapping', { layers: 'wetland' }), await unitSetId(db, 'overlapping'))
      await expect(rolledUp(db, ov, 'parent')).rejects.toThrow(/units 341001001 and 341001002 of 341001 overlap by [0-9.]+ m²/)
      // children that do not cover their parent unit (cells not split at its boundary)
      await importUnits(db, {
        file: writeJson(dir, 'cells.geojson', featureCollection([{ props: { code: 'C1', parent: '341001' }, geometry: poly(box(118.0, 30.0, 118.15, 30.1, 0.05)) }], 'EPSG:4490')),
        set: 'cells', parentField: 'parent', maxBytes: MAX,
      })
      const cells = coverageExport(await coverage(db, 'cells', { layers: 'wetland' }), await unitSetId(db, 'cells'))
      await expect(rolledUp(db, cells, 'parent')).rejects.toThrow(/the units of 341001 cover [0-9.]+ km², but 341001 甲县 of unit set counties has [0-9.]+ km²: they do not partition it/)
      const c = coverageExport(await coverage(db, 'counties', { layers: 'wetland' }), await unitSetId(db, 'counties'))
      await expect(rolledUp(db, c, 'parent')).rejects.toThrow(/unit 341001 has no parent code/)
      const csv = await (await fetch(`${base}/api/stats/coverage?units=towns&layers=wetland&format=csv&rollup=parent`)).text()
      expect(csv.trim().split(/\r?\n/).slice(1).map((l) => l.split(',')[0])).toEqual(['341001', '341002'])
      const g = await fetch(`${base}/api/stats/coverage?units=towns&layers=wetland&format=geojson&rollup=county`)
      expect(g.status).toBe(400)
      expect((await g.json()).error.message).toMatch(/rollup gives tables/)
    })
  })
}
