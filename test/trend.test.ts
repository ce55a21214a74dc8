// stats trend (stats/trend.ts): a layer over three vintages on two box units, against
// areas computed independently (GeographicLib in JS, geodesic edges): areas per vintage and
// category, intervals (net = to − from = gained − lost), rates per year, totals over units;
// the CLI and HTTP give the same table; wrong vintages are refused with the reason.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Polygon, Position } from 'geojson'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { trend, vintageYear } from '../server/stats/trend.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, geodesicArea, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (ring: Position[]): Polygon => ({ type: 'Polygon', coordinates: [ring] })
// patches, each wholly inside one unit; edges densified so that every engine draws the same line
const A = poly(box(117.02, 30.02, 117.06, 30.06, 0.01)) // U1, type x
const B = poly(box(117.10, 30.02, 117.12, 30.04, 0.01)) // U1, type y
const C = poly(box(118.02, 30.02, 118.05, 30.05, 0.01)) // U2, type x
const VINTAGES: Record<string, { g: Polygon; type: string }[]> = {
  2018: [{ g: A, type: 'x' }],
  2020: [{ g: A, type: 'x' }, { g: B, type: 'y' }],
  2023: [{ g: B, type: 'y' }, { g: C, type: 'x' }],
}
const area = (v: string, unit: 'U1' | 'U2', type?: string) => VINTAGES[v]!.filter((p) => (type === undefined || p.type === type) && (unit === 'U2') === (p.g === C)).reduce((s, p) => s + geodesicArea(p.g), 0)

describe('vintage years', () => {
  it('reads years and dates; anything else is refused', () => {
    expect(vintageYear('2020')).toBe(2020)
    expect(vintageYear('2021-07-02')).toBeCloseTo(2021 + 182 / 365.25, 12)
    expect(() => vintageYear('phase2')).toThrow(/neither a year/)
  })
})

for (const backend of backends()) {
  describe(`trend (${backend.name})`, () => {
    let db: Db
    let base: string
    const servers = serverPool()
    const dir = tmpDir()

    beforeAll(async () => {
      db = await backend.open()
      await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection([{ props: { code: 'U1' }, geometry: poly(box(117, 30, 117.2, 30.1, 0.05)) }, { props: { code: 'U2' }, geometry: poly(box(118, 30, 118.1, 30.1, 0.05)) }], 'EPSG:4490')), set: 'boxes', maxBytes: MAX })
      for (const [v, patches] of Object.entries(VINTAGES)) {
        await ingestLayer(db, { file: writeJson(dir, `f${v}.geojson`, featureCollection(patches.map((p) => ({ props: { type: p.type }, geometry: p.g })), 'EPSG:4490')), layer: 'forest', kind: 'forest', vintage: v, categoryField: 'type', maxBytes: MAX })
      }
      base = await servers.start(db, { dir, settings: { runsPerMinute: 0 } })
    })
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
    })

    it('areas per vintage and category, intervals and rates equal the independent areas; identities hold', async () => {
      const t = await trend(db, 'boxes', { layer: 'forest', categories: true })
      expect(t.vintages.map((v) => v.vintage)).toEqual(['2018', '2020', '2023'])
      expect(t.runs.map((r) => r.kind)).toEqual(['coverage', 'change', 'change'])
      for (const v of ['2018', '2020', '2023']) {
        for (const u of ['U1', 'U2'] as const) {
          const row = t.areas.find((r) => r.unit_code === u && r.vintage === v && r.category === null)!
          expect(Math.abs(row.area_m2 - area(v, u)), `${u}@${v}`).toBeLessThan(1e-6 * Math.max(1, area(v, u)) + 0.01)
          for (const type of ['x', 'y']) {
            const c = t.areas.find((r) => r.unit_code === u && r.vintage === v && r.category === type)
            expect(Math.abs((c?.area_m2 ?? 0) - area(v, u, type)), `${u}@${v}:${type}`).toBeLessThan(1e-6 * Math.max(1, area(v, u, type)) + 0.01)
          }
        }
      }
      for (const i of t.intervals) {
        const years = Number(i.to_vintage) - Number(i.from_vintage)
        expect(i.years).toBe(years)
        expect(i.net_m2).toBeCloseTo(i.to_m2 - i.from_m2, 6)
        expect(i.rate_m2_per_year).toBeCloseTo(i.net_m2 / years, 6)
        if (i.from_m2 > 0) expect(i.rate_pct_per_year!).toBeCloseTo((i.net_m2 / i.from_m2 / years) * 100, 9)
        else expect(i.rate_pct_per_year).toBeNull()
        if (i.category === null) {
          expect(i.gained_m2! - i.lost_m2!).toBeCloseTo(i.net_m2, 3)
          expect(Math.abs(i.from_m2 - area(i.from_vintage, i.unit_code as 'U1' | 'U2'))).toBeLessThan(1e-6 * i.from_m2 + 0.01)
        }
      }
      // U1 2020 → 2023: A lost, nothing gained (B stayed); U2: C gained from nothing
      const u1 = t.intervals.find((i) => i.unit_code === 'U1' && i.from_vintage === '2020' && i.category === null)!
      expect(u1.lost_m2!).toBeCloseTo(geodesicArea(A), 0)
      expect(u1.gained_m2!).toBeLessThan(0.01)
      const u2 = t.intervals.find((i) => i.unit_code === 'U2' && i.from_vintage === '2020' && i.category === null)!
      expect(u2.rate_pct_per_year).toBeNull()
      expect(u2.rate_m2_per_year).toBeCloseTo(geodesicArea(C) / 3, 0)
      // totals: the units summed
      for (const tot of t.totals) {
        const mine = t.intervals.filter((i) => i.category === tot.category && i.from_vintage === tot.from_vintage)
        expect(tot.net_m2).toBeCloseTo(mine.reduce((s, i) => s + i.net_m2, 0), 4)
      }
      // run again: the same runs are reused
      const again = await trend(db, 'boxes', { layer: 'forest', categories: true })
      expect(again.runs.map((r) => r.id)).toEqual(t.runs.map((r) => r.id))
    })

    it('HTTP gives the tables as CSV, GeoJSON properties per vintage; a chosen pair of vintages; bad vintages are 400', async () => {
      const csv = await (await fetch(`${base}/api/stats/trend?units=boxes&layer=forest&table=intervals&format=csv`)).text()
      const lines = csv.trim().split('\n')
      expect(lines[0]).toContain('rate_pct_per_year')
      expect(lines.length).toBe(1 + 2 * 2) // two units × two intervals, no categories asked
      const gj = await (await fetch(`${base}/api/stats/trend?units=boxes&layer=forest&format=geojson`)).json()
      const p = gj.features.find((f: { id: string }) => f.id === 'U1').properties
      expect(p['forest@2020_m2']).toBeCloseTo(area('2020', 'U1'), 1)
      expect(p['forest_2020_2023_net_m2']).toBeCloseTo(area('2023', 'U1') - area('2020', 'U1'), 1)
      const pair = await (await fetch(`${base}/api/stats/trend?units=boxes&layer=forest&vintages=2023,2018&table=intervals&format=json`)).json()
      expect(pair.intervals.map((i: { from_vintage: string; to_vintage: string; years: number }) => [i.from_vintage, i.to_vintage, i.years])).toEqual([['2018', '2023', 5], ['2018', '2023', 5]])
      for (const [q, msg] of [['vintages=2020', /two vintages or more/], ['vintages=2020,1999', /no vintage '1999'/], ['layer=nothing', /not in the catalogue/], ['vintages=20 20', /'vintages'/]] as const) {
        const r = await fetch(`${base}/api/stats/trend?units=boxes&layer=forest&${q}`.replace('layer=forest&layer=', 'layer='))
        expect(r.status, q).toBe(400)
        expect((await r.json()).error.message, q).toMatch(msg)
      }
    })
  })
}
