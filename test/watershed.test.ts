// Cross-boundary watershed compensation on the databases (server/watershed): sections found
// on the boundary between two units (and refused off it, or without a direction); series
// normalised to mg/L and refused with every bad line; a settlement of a hand-made year at a
// section between W and E — the P index (C/C0 = 0.8, 0.9, 1.1, 1.0 → P = 0.8075), the
// monthly classes, a load and the flow by hand — whose ledger sums to zero per agreement and
// whose run is reused; refusals of missing data; the HTTP routes.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { importSections, sectionsOf } from '../server/watershed/sections.ts'
import { importSeries, seriesValues } from '../server/watershed/series.ts'
import { settleBasin, settlementIndicators } from '../server/watershed/settle.ts'
import { computeFactors } from '../server/factors/factors.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const KEY = 'watershed-admin-key-1'
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })
const pt = (lon: number, lat: number, props: Record<string, unknown>) => ({ props, geometry: { type: 'Point' as const, coordinates: [lon, lat] } })
// baselines of the index; the year's means are 0.8, 0.9, 1.1 and 1.0 of them
const BASE = { codmn: 2.0, nh3n: 0.2, tp: 0.05, tn: 1.0 }
const MEAN = { codmn: 1.6, nh3n: 0.18, tp: 0.055, tn: 1.0 }

/** a year of monthly samples at S1: means exactly MEAN (March and September ± the same), flow 100 m³/s but 40 in August */
function yearCsv(drop?: number): string {
  const rows = ['section_code,datetime,indicator,value,unit,flow_m3s']
  for (let m = 1; m <= 12; m++) {
    if (m === drop) continue
    const d = m === 3 ? 1 : m === 9 ? -1 : 0
    const at = `2024-${String(m).padStart(2, '0')}-15 09:30`
    const flow = m === 8 ? 40 : 100
    rows.push(`S1,${at},codmn,${MEAN.codmn + 0.2 * d},mg/L,${flow}`)
    rows.push(`S1,${at},nh3n,${MEAN.nh3n + 0.02 * d},mg/L,${flow}`)
    rows.push(`S1,${at},tp,${(MEAN.tp + 0.005 * d) * 1000},µg/L,${flow}`)
    rows.push(`S1,${at},总氮,${MEAN.tn},mg/L,${flow}`)
    rows.push(`S1,${at},do,${m === 6 ? 2.5 : 7},mg/L,${flow}`)
  }
  return rows.join('\n') + '\n'
}

for (const backend of backends()) {
  describe(`watershed settlement on ${backend.name}`, () => {
    let db: Db
    let dir: string
    let base: string
    const servers = serverPool()
    const file = (name: string, body: string) => { const p = path.join(dir, name); fs.writeFileSync(p, body); return p }
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      await importUnits(db, {
        file: writeJson(dir, 'u.geojson', featureCollection([
          { props: { code: '340001', name: '上游县' }, geometry: poly(box(118.0, 30.0, 118.1, 30.1, 0.05)) },
          { props: { code: '340002', name: '下游县' }, geometry: poly(box(118.1, 30.0, 118.2, 30.1, 0.05)) },
        ], 'EPSG:4490')),
        set: 'pair', maxBytes: MAX,
      })
      base = await servers.start(db, { dir, settings: { apiKey: KEY } })
    }, 120_000)
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('finds a section\'s pair on the unit boundary; refuses one off every boundary or without a direction', async () => {
      // 20 m east of the shared boundary at 118.1°E: upstream given, downstream the other unit
      const east = 118.1 + 20 / (111_320 * Math.cos((30.05 * Math.PI) / 180))
      const r = await importSections(db, { file: writeJson(dir, 's.geojson', featureCollection([pt(east, 30.05, { code: 'S1', name: '界河断面', river: '界河', upstream: '340001', target_class: 'Ⅲ' })], 'EPSG:4490')), name: 'sec', vintage: '2024', units: 'pair', maxBytes: MAX })
      expect(r.sections[0]).toMatchObject({ code: 'S1', upstream: '340001', downstream: '340002', target_class: 3, water_body: 'river' })
      expect(r.sections[0]!.derived).toMatch(/downstream 340002: the other unit on the boundary within 50 m/)
      expect((await sectionsOf(db, r.id))[0]!.lon).toBeCloseTo(east, 9)
      const bad = async (features: unknown[], re: RegExp, extra = {}) =>
        expect(importSections(db, { file: writeJson(dir, 'b.geojson', featureCollection(features as never[], 'EPSG:4490')), name: 'bad', vintage: '2024', units: 'pair', maxBytes: MAX, ...extra })).rejects.toThrow(re)
      await bad([pt(118.05, 30.05, { code: 'X', upstream: '340001', downstream: '340002', target_class: 3 })], /feature 1: lies more than 50 m from every unit boundary of pair/)
      await bad([pt(east, 30.05, { code: 'X', target_class: 3 })], /lies on the boundary of 340001 and 340002; give upstream \(340001 or 340002\)/)
      await bad([pt(east, 30.05, { code: 'X', upstream: '340001', target_class: 6 })], /target_class '6' is not a class/)
      await bad([pt(east, 30.05, { code: 'X', upstream: '340009', target_class: 3 })], /340009 is not on the boundary it lies on/)
      await bad([pt(118.0, 30.05, { code: 'X', upstream: '340001', target_class: 3 })], /on the edge of pair next to 340001 only; give upstream and downstream/)
      // a table with lon and lat; the outer edge with both codes given (the downstream unit outside the set)
      const csv = await importSections(db, { file: file('s.csv', `code,lon,lat,upstream,downstream,target_class\nE1,118.0,30.05,340001,330127,2\n`), name: 'edge', vintage: '2024', units: 'pair', maxBytes: MAX })
      expect(csv.sections[0]).toMatchObject({ upstream: '340001', downstream: '330127', target_class: 2 })
      await expect(importSections(db, { file: file('s.txt', 'x'), name: 'txt', vintage: '2024', maxBytes: MAX })).rejects.toThrow(/give sections as a shapefile \(\.shp or \.zip\) or GeoJSON of points, or a \.csv\/\.xlsx table/)
      const before = await db.query('SELECT count(*)::int AS n FROM section_point')
      await bad([pt(east, 30.05, { code: 'A', upstream: '340001', target_class: 3 }), pt(118.05, 30.05, { code: 'A', upstream: '340001', target_class: 3 })], /: 1 problem, nothing imported: b\.geojson feature 2: code A is given twice \(also b\.geojson feature 1\)$/)
      expect(await db.query('SELECT count(*)::int AS n FROM section_point')).toEqual(before)
    })

    it('reads sections from a GBK point shapefile in a Gauss-Krüger zone; refuses polygons, and layers refuse points', async () => {
      const east = 118.1 + 20 / (111_320 * Math.cos((30.03 * Math.PI) / 180))
      const src = writeJson(dir, 'gk.geojson', featureCollection([pt(east, 30.03, { code: 'G1', name: '省界断面', upstream: '340002', target_class: 'III' })], 'EPSG:4490'))
      const shp = path.join(dir, 'gk.shp')
      execFileSync('ogr2ogr', ['-f', 'ESRI Shapefile', '-t_srs', 'EPSG:4527', '-lco', 'ENCODING=GBK', shp, src])
      const r = await importSections(db, { file: shp, name: 'gk', vintage: '2024', units: 'pair', maxBytes: MAX })
      expect(r.source_crs).toBe('EPSG:4527')
      expect(r.sections[0]).toMatchObject({ code: 'G1', name: '省界断面', upstream: '340002', downstream: '340001', target_class: 3 })
      // the point came back through the zone's projection to within a millimetre
      const [d] = await db.query<{ m: number }>("SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint($1, 30.03), 4490)::geography) AS m FROM section_point p JOIN section_set s ON s.id = p.set_id WHERE s.name = 'gk'", [east])
      expect(d!.m).toBeLessThan(1e-3)
      const poly = path.join(dir, 'poly.geojson')
      fs.writeFileSync(poly, JSON.stringify(featureCollection([{ props: { code: 'P' }, geometry: { type: 'Polygon', coordinates: [[[118, 30], [118.1, 30], [118.1, 30.1], [118, 30]]] } }], 'EPSG:4490')))
      execFileSync('ogr2ogr', ['-f', 'ESRI Shapefile', path.join(dir, 'poly.shp'), poly])
      await expect(importSections(db, { file: path.join(dir, 'poly.shp'), name: 'poly', vintage: '2024', maxBytes: MAX })).rejects.toThrow(/holds Polygon geometry; monitoring sections are points/)
      await expect(ingestLayer(db, { file: shp, layer: 'pts', kind: 'other', vintage: '2024', maxBytes: MAX })).rejects.toThrow(/holds Point geometry; layers and units need polygons/)
    })

    it('imports a series in mg/L (µg/L converted) and refuses bad lines, each named', async () => {
      const r = await importSeries(db, { file: file('y.csv', yearCsv()), sections: 'sec', vintage: '2024', maxBytes: MAX })
      expect([r.name, r.row_count, r.indicators.sort()]).toEqual(['sec', 60, ['codmn', 'do', 'nh3n', 'tn', 'tp']])
      const v = await seriesValues(db, r.id, Date.UTC(2024, 2, 1) - 8 * 3600_000, Date.UTC(2024, 3, 1) - 8 * 3600_000)
      expect(v.find((x) => x.indicator === 'tp')!.value).toBeCloseTo(0.06, 12)
      // 09:30 China time is 01:30 UTC
      expect(new Date(v[0]!.at).toISOString()).toBe('2024-03-15T01:30:00.000Z')
      const bad = ['section_code,datetime,indicator,value,unit', 'S9,2024-01-01,nh3n,0.1,mg/L', 'S1,2023-12-31 23:00,nh3n,0.1,mg/L', 'S1,2024-02-30,nh3n,0.1,mg/L',
        'S1,2024-03-01,nh3n,x,mg/L', 'S1,2024-03-02,nh3n,0.1,g/L', 'S1,2024-03-03,ammonia,0.1,mg/L', 'S1,2024-03-04,tp,0.1,mg/L', 'S1,2024-03-05,tp,90,µg/L', 'S1,2024-03-04,tp,0.2,mg/L'].join('\n')
      const err = await importSeries(db, { file: file('bad.csv', bad), sections: 'sec', name: 'bad', vintage: '2024', maxBytes: MAX }).then(() => '', (e: Error) => e.message)
      expect(err).toMatch(/line 2: section S9 is not one of sec@2024/)
      expect(err).toMatch(/line 3: 2023-12-31 23:00 is outside 2024, the vintage/)
      expect(err).toMatch(/line 4: datetime '2024-02-30' is not a date/)
      expect(err).toMatch(/line 5: value 'x' is not a non-negative number/)
      expect(err).toMatch(/line 6: 氨氮 in 'g\/L': give mg\/L \(or µg\/L\)/)
      expect(err).toMatch(/line 7: indicator 'ammonia' is not a GB 3838-2002 Table 1 item/)
      expect(err).toMatch(/line 9: 总磷 in 'µg\/L', but line 8 gives it in 'mg\/L'; one unit per indicator/)
      expect(err).toMatch(/line 10: 总磷 of S1 at 2024-03-04 is given twice \(also line 8\)/)
      expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM series_set WHERE name = 'bad'"))[0]!.n).toBe(0)
    })

    const agreement = (extra: object = {}) => ({
      sections: 'sec', series: 'sec@2024', period: 2024,
      agreements: [
        { section: 'S1', template: 'index', k0: 0.85, amount: 1e8, terms: Object.entries(BASE).map(([indicator, baseline]) => ({ indicator, weight: 0.25, baseline })) },
        { section: 'S1', template: 'class', at_target: 100, per_class_better: 10, per_class_worse: 1000 },
        { section: 'S1', template: 'load', indicator: 'tn', agreed_t: 3000, yuan_per_t: 100 },
        { section: 'S1', template: 'flow', target_m3s: 50, per_month_below: 7000 },
      ],
      ...extra,
    })

    it('settles the year by hand: P = 0.8075, monthly classes, the TN load, the flow; each pair sums to zero; reused', async () => {
      const r = await settleBasin(db, { agreement: agreement() })
      const ev = r.evaluation[0]!
      // period means: CODMn 1.6 (Ⅰ… Ⅱ: 1.6 ≤ 2 → Ⅰ), NH3-N 0.18 (Ⅱ), TP 0.055 (Ⅱ), DO mean (11·7 + 2.5)/12 = 6.625 (Ⅱ)
      expect([ev.class, ev.target_class, ev.compliant]).toEqual(['Ⅱ', 'Ⅲ', true])
      const up = (n: number) => r.ledger.find((l) => l.agreement === n && l.role === 'upstream')!.amount_yuan
      expect(up(1)).toBe(1e8)
      expect(r.explanation.find((e) => e.agreement === 1 && /P = /.test(e.zh))!.zh).toMatch(/= 0\.85 × 0\.95 = 0\.8075；P ≤ 1，下游补偿上游/)
      // months: June's DO 2.5 is Ⅴ (2 below the target Ⅲ); March's NH3-N 0.2 and TP 0.06 are Ⅱ; every other month Ⅱ (1 better)
      const classes = r.months.map((m) => m.class)
      expect(classes).toEqual(['Ⅱ', 'Ⅱ', 'Ⅱ', 'Ⅱ', 'Ⅱ', 'Ⅴ', 'Ⅱ', 'Ⅱ', 'Ⅱ', 'Ⅱ', 'Ⅱ', 'Ⅱ'])
      expect(up(2)).toBe(11 * (100 + 10) - 2 * 1000)
      // TN 1.0 mg/L every month: Σ days × 86 400 × flow / 10⁶ t, August at 40 m³/s
      const days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
      const tonnes = days.reduce((s, d, i) => s + (1.0 * (i === 7 ? 40 : 100) * d * 86_400) / 1e6, 0)
      expect(up(3)).toBeCloseTo(-Math.max(0, tonnes - 3000) * 100, 6)
      expect(up(4)).toBe(-7000)
      for (const n of [1, 2, 3, 4]) expect(r.ledger.filter((l) => l.agreement === n).reduce((s, l) => s + l.amount_yuan, 0)).toBe(0)
      const again = await settleBasin(db, { agreement: agreement() })
      expect(again.run.id).toBe(r.run.id)
      expect((r.run.inputs as { series: { id: number } }).series.id).toBeGreaterThan(0)
    })

    it('feeds factors: the money each unit receives (basin_net), summing to zero over the pair', async () => {
      const f = await computeFactors(db, 'pair', [{ id: 'basin', label: '流域补偿净收入', measure: 'basin_net', basin: { agreement: agreement() } }])
      const r = await settleBasin(db, { agreement: agreement() })
      const want = (u: string) => r.ledger.filter((l) => l.unit_code === u).reduce((s, l) => s + l.amount_yuan, 0)
      expect(f.values.get('340001')!.basin).toBe(want('340001'))
      expect(f.values.get('340002')!.basin).toBe(want('340002'))
      expect(f.values.get('340001')!.basin + f.values.get('340002')!.basin).toBe(0)
      expect(f.provenance.runs.map((x) => x.id)).toEqual([r.run.id])
    })

    it('feeds indicators: per unit the money, the sections it is upstream of and those that met their target', async () => {
      const r = await settleBasin(db, { agreement: agreement() })
      const x = await settlementIndicators(db, r, { units: 'pair', name: 'basin' })
      expect([x.vintage, x.source_file, x.outside]).toEqual(['2024', `settlement run ${r.run.id}`, []])
      const f = await computeFactors(db, 'pair', [
        { id: 'net', label: 'net', measure: 'value', indicators: 'basin@2024', indicator: 'basin_net_yuan', rollup: 'sum' },
        { id: 'met', label: 'met', measure: 'value', indicators: 'basin@2024', indicator: 'basin_sections_met' },
        { id: 'n', label: 'n', measure: 'value', indicators: 'basin@2024', indicator: 'basin_sections' },
      ])
      expect(f.values.get('340001')).toMatchObject({ net: r.ledger.filter((l) => l.unit_code === '340001').reduce((s, l) => s + l.amount_yuan, 0), met: 1, n: 1 })
      expect(f.values.get('340002')).toMatchObject({ met: 0, n: 0 })
      await expect(settlementIndicators(db, r, { units: 'pair', name: 'basin' })).rejects.toThrow(/already exists; pass --replace/)
    })

    it('refuses missing months, unknown sections, a missing baseline and a period without data; changes nothing', async () => {
      await importSeries(db, { file: file('gap.csv', yearCsv(5)), sections: 'sec', name: 'gap', vintage: '2024', maxBytes: MAX })
      const runs = await db.query('SELECT count(*)::int AS n FROM run')
      await expect(settleBasin(db, { agreement: agreement({ series: 'gap' }) })).rejects.toThrow(/agreement 2 \(class, section S1\): no water-quality samples in 2024-05; a settlement needs every month of 2024/)
      await expect(settleBasin(db, { agreement: { ...agreement(), agreements: [{ section: 'S7', template: 'flow', target_m3s: 1, per_month_below: 1 }] } })).rejects.toThrow(/section S7 is not in sec@2024 \(has S1\)/)
      await expect(settleBasin(db, { agreement: { ...agreement(), agreements: [{ section: 'S1', template: 'index', k0: 0.85, amount: 1, terms: [{ indicator: 'tp', weight: 1 }] }] } })).rejects.toThrow(/baseline/)
      await expect(settleBasin(db, { agreement: agreement({ period: 2023 }) })).rejects.toThrow(/section S1 has no samples in 2023/)
      await expect(settleBasin(db, { agreement: { ...agreement(), period: undefined } })).rejects.toThrow(/give the period/)
      // failed runs are recorded as failed, never as results; the refusals before a run leave none
      expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM run WHERE status = 'done'"))[0]!.n).toBe((runs[0] as { n: number }).n)
    })

    it('over HTTP: sections and series uploads (admin when keyed), the settlement as CSV', async () => {
      const auth = { authorization: `Bearer ${KEY}` }
      const s = await fetch(`${base}/api/sections?filename=s.csv&name=http&vintage=2024`, { method: 'POST', headers: auth, body: 'code,lon,lat,upstream,downstream,target_class\nH1,118.1,30.02,340001,340002,3\n' })
      expect(s.status).toBe(201)
      expect((await fetch(`${base}/api/sections?filename=s.csv&name=http2&vintage=2024`, { method: 'POST', body: 'x' })).status).toBe(401)
      const y = await fetch(`${base}/api/series?filename=y.csv&sections=http&vintage=2024`, { method: 'POST', headers: auth, body: yearCsv().replace(/^S1,/gm, 'H1,') })
      expect(y.status).toBe(201)
      const a = agreement({ sections: 'http', series: 'http' })
      a.agreements = a.agreements.map((x) => ({ ...x, section: 'H1' }))
      const res = await fetch(`${base}/api/basin/settle?format=csv&table=ledger`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ agreement: a }) })
      expect(res.status).toBe(200)
      const lines = (await res.text()).trim().split(/\r?\n/)
      expect(lines[0]).toBe('agreement,template,section_code,period,unit_code,role,counterpart,amount_yuan')
      expect(lines[1]).toBe('1,index,H1,2024,340001,upstream,340002,100000000')
      expect((await (await fetch(`${base}/api/sections`)).json()).map((x: { name: string }) => x.name)).toContain('http')
    })
  })
}
