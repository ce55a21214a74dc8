// Alerts (alerts/): rules over a layer's three vintages and a continuous raster's two, on two
// box units. Which units alert is known in advance; the values equal the trend's; the lost
// and gained patches have the areas GeographicLib gives the patches we drew; the evaluation
// is a run (reused when nothing changed); CLI and HTTP answer; bad rules are refused.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Polygon, Position } from 'geojson'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { ingestRaster } from '../server/raster/ingest-raster.ts'
import { evaluateAlerts } from '../server/alerts/alerts.ts'
import { checkRules } from '../server/alerts/rules.ts'
import { trend } from '../server/stats/trend.ts'
import { GEOKEYS, writeGeoTiff } from '../scripts/raster/write-geotiff.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, geodesicArea, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (ring: Position[]): Polygon => ({ type: 'Polygon', coordinates: [ring] })
const A = poly(box(117.02, 30.02, 117.06, 30.06, 0.01)) // U1: 2018, 2020; gone in 2023
const B = poly(box(117.10, 30.02, 117.12, 30.04, 0.01)) // U1: 2020, 2023
const C = poly(box(118.02, 30.02, 118.05, 30.05, 0.01)) // U2: new in 2023
const VINTAGES: Record<string, Polygon[]> = { 2018: [A], 2020: [A, B], 2023: [B, C] }

const RULES = {
  units: 'boxes',
  rules: [
    { id: 'redline_loss', name: '生态保护红线面积减少', layer: 'redline', measure: 'lost_m2', op: '>', value: 1000 },
    { id: 'redline_gain', layer: 'redline', measure: 'gained_m2', op: '>', value: 1000, intervals: 'latest' },
    { id: 'redline_drop_pct', layer: 'redline', measure: 'net_pct', op: '<=', value: -50 },
    { id: 'fvc_down', raster: 'fvc', measure: 'mean_diff', op: '<', value: -0.05 },
  ],
}

for (const backend of backends()) {
  describe(`alerts (${backend.name})`, () => {
    let db: Db
    let base: string
    const servers = serverPool()
    const dir = tmpDir()
    const rasterDir = path.join(dir, 'rasters')

    beforeAll(async () => {
      db = await backend.open()
      await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection([{ props: { code: 'U1' }, geometry: poly(box(117, 30, 117.2, 30.1, 0.05)) }, { props: { code: 'U2' }, geometry: poly(box(118, 30, 118.1, 30.1, 0.05)) }], 'EPSG:4490')), set: 'boxes', maxBytes: MAX })
      for (const [v, patches] of Object.entries(VINTAGES)) {
        await ingestLayer(db, { file: writeJson(dir, `r${v}.geojson`, featureCollection(patches.map((g) => ({ geometry: g })), 'EPSG:4490')), layer: 'redline', kind: 'redline', vintage: v, maxBytes: MAX })
      }
      // FVC 0.8 everywhere in 2020; in 2023 0.7 west of 117.5°E (all of U1), 0.8 east (U2)
      for (const [v, west] of [['2020', 0.8], ['2023', 0.7]] as const) {
        const file = path.join(dir, `fvc${v}.tif`)
        writeGeoTiff(file, { width: 1300, height: 120, type: 'float32', transform: [116.95, 0.001, 0, 30.11, 0, -0.001], geoKeys: GEOKEYS.epsg(4490, true), nodata: -1 }, (_b, _r, c) => (116.95 + (c + 0.5) * 0.001 < 117.5 ? west : 0.8))
        await ingestRaster(db, { file, name: 'fvc', vintage: v, kind: 'continuous', rasterDir })
      }
      base = await servers.start(db, { dir, settings: { runsPerMinute: 0, rasterDir } })
    })
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
    })

    it('alerts exactly where the ground says, with the trend\'s values and the patches drawn', async () => {
      const r = await evaluateAlerts(db, { units: 'boxes', rules: RULES }, rasterDir)
      expect(r.run.kind).toBe('alerts')
      expect(r.alerts.map((a) => `${a.rule} ${a.unit_code} ${a.from_vintage}→${a.to_vintage}`)).toEqual([
        'fvc_down U1 2020→2023',
        'redline_drop_pct U1 2020→2023', // A lost, B kept: −80 %
        'redline_gain U2 2020→2023',
        'redline_loss U1 2020→2023',
      ])
      // loss: 2 units × 2 intervals; gain: the latest only; pct: not where there was nothing (U2); fvc: 2 units
      expect(r.checked).toBe(4 + 2 + 2 + 2)
      const t = await trend(db, 'boxes', { layer: 'redline', vintages: ['2018', '2020', '2023'] })
      const i = t.intervals.find((x) => x.unit_code === 'U1' && x.from_vintage === '2020' && x.category === null)!
      const loss = r.alerts.find((a) => a.rule === 'redline_loss')!
      expect(loss.value).toBe(i.lost_m2)
      expect(loss.source_run).toBe(t.runs.find((x) => x.kind === 'change' && x.vintages[0] === '2020')!.id)
      expect(r.alerts.find((a) => a.rule === 'redline_drop_pct')!.value).toBeCloseTo((i.net_m2 / i.from_m2) * 100, 9)
      // the patches: A lost in U1, C gained in U2, with the areas of the polygons we drew
      const lost = r.patches.features.filter((f) => f.properties.rule === 'redline_loss')
      expect(lost.length).toBe(1)
      expect(lost[0]!.properties.side).toBe('lost')
      expect(Math.abs(lost[0]!.properties.area_m2 - geodesicArea(A)) / geodesicArea(A)).toBeLessThan(1e-6)
      expect(Math.abs(loss.patch_m2 - loss.value) / loss.value).toBeLessThan(1e-6)
      const gained = r.patches.features.filter((f) => f.properties.rule === 'redline_gain')
      expect(gained.map((f) => f.properties.side)).toEqual(['gained'])
      expect(Math.abs(gained[0]!.properties.area_m2 - geodesicArea(C)) / geodesicArea(C)).toBeLessThan(1e-6)
      // the raster rule: means from the raster-change run, 0.8 → 0.7 over all of U1
      const fvc = r.alerts.find((a) => a.rule === 'fvc_down')!
      expect(fvc.mean_from!).toBeCloseTo(0.8, 6)
      expect(fvc.mean_to!).toBeCloseTo(0.7, 6)
      expect(fvc.value).toBeCloseTo(-0.1, 6)
      // the same rules on the same inputs: the same run
      const again = await evaluateAlerts(db, { units: 'boxes', rules: RULES }, rasterDir)
      expect(again.run.id).toBe(r.run.id)
      const fresh = await evaluateAlerts(db, { units: 'boxes', rules: RULES }, rasterDir, { reuse: false })
      expect(fresh.run.id).not.toBe(r.run.id)
      // computed again from new runs: the same alerts, only the source runs are new
      const strip = (xs: typeof r.alerts) => xs.map(({ source_run: _s, ...a }) => a)
      expect(strip(fresh.alerts)).toEqual(strip(r.alerts))
    })

    it('HTTP: the alerts as CSV and as units with counts; the patches as GeoJSON; bad rules are 400', async () => {
      const res = await fetch(`${base}/api/alerts?format=csv`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules: RULES }) })
      expect(res.status).toBe(200)
      const runId = Number(res.headers.get('x-run-id'))
      const csv = (await res.text()).trim().split('\n')
      expect(csv.length).toBe(1 + 4)
      const units = await (await fetch(`${base}/api/runs/${runId}/result?format=geojson`)).json()
      expect(units.features.find((f: { id: string }) => f.id === 'U1').properties).toMatchObject({ alerts: 3, alert_rules: 'fvc_down,redline_drop_pct,redline_loss' })
      const patches = await (await fetch(`${base}/api/alerts/${runId}/patches`)).json()
      expect(patches.features.length).toBe(1 + 1 + 1) // loss, drop pct (the same ground), gain
      for (const [rules, msg] of [
        [{ rules: [{ id: 'x', layer: 'redline', raster: 'fvc', measure: 'lost_m2', op: '>', value: 1 }] }, /either layer or raster/],
        [{ rules: [{ id: 'x', layer: 'redline', measure: 'mean_diff', op: '>', value: 1 }] }, /a layer rule measures/],
        [{ rules: [{ id: 'x', layer: 'redline', measure: 'lost_m2', op: '!=', value: 1 }] }, /rules\[0\]\.op/],
        [{ rules: [{ id: 'x', layer: 'nothing', measure: 'lost_m2', op: '>', value: 1 }] }, /not in the catalogue/],
        [{ rules: [{ id: 'x', layer: 'redline', measure: 'lost_m2', op: '>', value: 1, vintages: ['2023'] }] }, /two vintages/],
      ] as const) {
        const bad = await fetch(`${base}/api/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 'boxes', rules }) })
        expect(bad.status, JSON.stringify(rules)).toBe(400)
        expect((await bad.json()).error.message).toMatch(msg)
      }
    })
  })
}

describe('alert rules', () => {
  it('a rules file is checked whole before anything runs', () => {
    expect(() => checkRules({ rules: [] })).toThrow(/at least one rule/)
    expect(() => checkRules({ rules: [{ id: 'a', layer: 'x', measure: 'lost_m2', op: '>', value: 1 }, { id: 'a', layer: 'y', measure: 'lost_m2', op: '>', value: 1 }] })).toThrow(/id used twice/)
    expect(() => checkRules({ rules: [{ id: 'a', layer: 'x', band: 2, measure: 'lost_m2', op: '>', value: 1 }] })).toThrow(/band applies to raster rules/)
    expect(checkRules({ rules: [{ id: 'a', layer: 'x', measure: 'lost_m2', op: '>', value: '5' }] }).rules[0]!.intervals).toBe('consecutive')
    expect(fs.existsSync(path.join(import.meta.dirname, '..', 'docs', 'alerts.md'))).toBe(true)
  })
})
