// The HTTP API: same numbers as the library, errors with their own status, writes keyed.
import fs from 'node:fs'
import path from 'node:path'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { createApp } from '../server/http/app.ts'
import { openApi } from '../server/http/openapi.ts'
import { loadSettings } from '../server/settings.ts'
import { importUnits } from '../server/units/import-units.ts'
import { coverage } from '../server/stats/coverage.ts'
import { change } from '../server/stats/change.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { backends, snapshot } from './helpers/backends.ts'
import { writeZip } from './helpers/zip.ts'
import { baseUrl } from './helpers/http.ts'

const KEY = 'test-key-0123456789'

for (const backend of backends()) {
  describe(`HTTP API on ${backend.name}`, () => {
    let db: Db
    let server: Server
    let base: string
    beforeAll(async () => {
      db = await backend.open()
      await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'counties', maxBytes: 1 << 30 })
      const settings = { ...loadSettings({}), apiKey: KEY, maxUploadBytes: 2_000_000 }
      server = createApp({ db, settings }).listen(0, '127.0.0.1')
      base = await baseUrl(server)
    })
    afterAll(async () => {
      server?.close()
      await db?.close()
    })
    const upload = (query: string, body: Buffer, key: string | null = KEY) =>
      fetch(`${base}/api/layers?${query}`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'application/octet-stream', ...(key ? { authorization: `Bearer ${key}` } : {}) } })
    const sampleZip = () => {
      const file = path.join(fs.mkdtempSync('/tmp/eco-http-'), 'pa.zip')
      writeZip(file, Object.fromEntries(['shp', 'shx', 'dbf', 'prj', 'cpg'].map((e) => [`pa.${e}`, fs.readFileSync(path.join(SAMPLE_DIR, `layers/protected_area_2023.${e}`))])), true)
      return fs.readFileSync(file)
    }

    it('answers /healthz with the backend and PostGIS version', async () => {
      const r = await fetch(`${base}/healthz`)
      expect(r.status).toBe(200)
      expect(await r.json()).toMatchObject({ status: 'ok', backend: backend.name, postgis: expect.stringMatching(/^3\./) })
    })

    it('ingests an uploaded zip with the key, then serves the same coverage as the library, in JSON and CSV', async () => {
      const r = await upload('filename=pa.zip&name=pa&kind=protected_area&vintage=2023&category_field=类型', sampleZip())
      expect(r.status).toBe(201)
      const report = await r.json()
      expect(report).toMatchObject({ layer: 'pa', vintage: '2023', crs: 'EPSG:4527', file: 'pa.zip' })
      const layers = await (await fetch(`${base}/api/layers`)).json()
      expect(layers.map((l: { name: string }) => l.name)).toContain('pa')

      const lib = await coverage(db, 'counties', 'pa')
      const json = await (await fetch(`${base}/api/stats/coverage?units=counties&layers=pa`)).json()
      expect(json.rows).toEqual(lib.rows)
      const csvRes = await fetch(`${base}/api/stats/coverage?units=counties&layers=pa@2023&format=csv`)
      expect(csvRes.headers.get('content-type')).toMatch(/text\/csv/)
      const lines = (await csvRes.text()).trim().split('\r\n')
      expect(lines[0]).toBe('unit_code,unit_name,unit_area_m2,layer,vintage,area_m2,share,measure,category,features') // DESIGN's contract, then appended columns
      expect(lines).toHaveLength(8)
      const [code, , , layer, vintage, area, share] = lines[1]!.split(',')
      const row = lib.rows.find((x) => x.unit_code === code)!
      expect([layer, vintage, Number(area), Number(share)]).toEqual(['pa', '2023', row.area_m2, row.share])
    })

    it('serves change between vintages as the library computes it, in CSV', async () => {
      for (const v of ['2020', '2023']) await ingestLayer(db, { file: path.join(SAMPLE_DIR, `layers/redline_${v}.shp`), layer: 'redline', kind: 'redline', vintage: v, maxBytes: 1 << 30 })
      const lib = await change(db, 'counties', 'redline', '2020', '2023')
      const res = await fetch(`${base}/api/stats/change?units=counties&layer=redline&from=2020&to=2023&format=csv`)
      expect(res.status).toBe(200)
      const lines = (await res.text()).trim().split('\r\n')
      expect(lines[0]).toBe('unit_code,unit_name,layer,from_vintage,to_vintage,stable_m2,gained_m2,lost_m2,net_m2,from_m2,to_m2') // DESIGN's contract, then appended columns
      expect(lines).toHaveLength(8)
      for (const line of lines.slice(1)) {
        const [code, , layer, from, to, stable, gained, lost, net] = line.split(',')
        const row = lib.rows.find((r) => r.unit_code === code)!
        expect([layer, from, to, Number(stable), Number(gained), Number(lost), Number(net)]).toEqual(['redline', '2020', '2023', row.stable_m2, row.gained_m2, row.lost_m2, row.net_m2])
      }
      const bad = await fetch(`${base}/api/stats/change?units=counties&layer=redline&from=2020`)
      expect(bad.status).toBe(400)
      expect((await bad.json()).error.message).toMatch(/'to' is required/)
    })

    it('serves unit sets and their units as GeoJSON', async () => {
      const sets = await (await fetch(`${base}/api/unit-sets`)).json()
      expect(sets[0]).toMatchObject({ name: 'counties', kind: 'admin', unit_count: 7 })
      const fc = await (await fetch(`${base}/api/unit-sets/counties/units`)).json()
      expect(fc.features).toHaveLength(7)
      expect(fc.features[0].properties.code).toBe('341002')
    })

    it('refuses writes without a valid key (401) and leaves the database alone', async () => {
      const before = await snapshot(db)
      const none = await upload('filename=pa.zip&name=x&kind=other&vintage=2023', sampleZip(), null)
      expect(none.status).toBe(401)
      expect((await none.json()).error.message).toMatch(/needs a key with role admin or higher: send it as "Authorization: Bearer KEY"/)
      expect((await upload('filename=pa.zip&name=x&kind=other&vintage=2023', sampleZip(), 'wrong')).status).toBe(401)
      expect(await snapshot(db)).toEqual(before)
    })

    it('maps bad input to specific statuses: 400, 404, 409, 413, 415', async () => {
      const before = await snapshot(db)
      const check = async (res: Promise<Response>, status: number, re: RegExp) => {
        const r = await res
        expect(r.status).toBe(status)
        expect((await r.json()).error.message).toMatch(re)
      }
      await check(fetch(`${base}/api/stats/coverage`), 400, /'units' is required/)
      await check(fetch(`${base}/api/stats/coverage?units=counties&format=pdf`), 400, /query parameter 'format' 'pdf': must be one of csv, json, geojson, xlsx/)
      await check(fetch(`${base}/api/stats/coverage?units=a&units=b`), 400, /given once/)
      await check(fetch(`${base}/api/stats/coverage?units=x%27%3Bdrop`), 400, /query parameter 'units' .*: 1–64 letters/)
      await check(fetch(`${base}/api/stats/coverage?units=nope`), 404, /no unit set 'nope'/)
      await check(fetch(`${base}/api/stats/coverage?units=counties&layers=ghost`), 404, /no layer 'ghost'/)
      await check(fetch(`${base}/api/nothing`), 404, /no route GET \/api\/nothing/)
      await check(upload('filename=pa.zip&name=pa&kind=protected_area&vintage=2023', sampleZip()), 409, /already exists/)
      await check(upload('filename=big.zip&name=big&kind=other&vintage=2023', Buffer.alloc(2_500_000)), 413, /larger than the limit of 2000000 bytes/)
      await check(upload('filename=x.geojson&name=x&kind=other&vintage=2023', Buffer.from('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[117,30]}}]}')), 400, /is a Point; layers and units need polygons/)
      await check(upload('filename=x.kml&name=x&kind=other&vintage=2023', Buffer.from('<kml/>')), 415, /unsupported format '\.kml'/)
      await check(upload('filename=../../etc/passwd&name=x&kind=other&vintage=2023', Buffer.from('x')), 400, /query parameter 'filename'/)
      await check(upload('filename=x.geojson&name=x&kind=other&vintage=2023', Buffer.alloc(0)), 400, /the upload is empty/)
      await check(fetch(`${base}/api/unit-sets/grid`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: '{bad' }), 400, /not valid JSON/)
      expect(await snapshot(db)).toEqual(before)
    })

    it('runs: POST answers at once, progress can be polled, the result comes in every format, identical requests reuse it', async () => {
      const post = (body: object) => fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify(body) })
      const r = await post({ kind: 'coverage', units: 'counties', layers: 'pa,redline@2023', categories: true, overlaps: 'pa+redline', union: 'pa,redline', fresh: true })
      expect(r.status).toBe(202)
      const started = await r.json()
      expect(r.headers.get('location')).toBe(`/api/runs/${started.id}`)
      let run = started
      for (let i = 0; i < 600 && run.status === 'running'; i++) {
        await new Promise((res) => setTimeout(res, 100))
        run = await (await fetch(`${base}/api/runs/${started.id}`)).json()
        expect(run.progress).toBeGreaterThanOrEqual(0)
      }
      expect(run).toMatchObject({ status: 'done', progress: 1, kind: 'coverage', params: { unitSet: 'counties', overlaps: ['pa+redline'], union: ['pa', 'redline'] } })
      expect(run.inputs.layers.map((l: { name: string }) => l.name).sort()).toEqual(['pa', 'redline'])
      const csv = await (await fetch(`${base}/api/runs/${run.id}/result?format=csv`)).text()
      const lines = csv.trim().split('\r\n')
      expect(lines.filter((l) => l.includes(',overlap,'))).toHaveLength(7)
      expect(lines.filter((l) => l.includes(',union,'))).toHaveLength(7)
      const lib = await coverage(db, 'counties', { layers: 'pa,redline@2023' })
      const json = await (await fetch(`${base}/api/runs/${run.id}/result`)).json()
      // the layer rows equal a plain coverage run (there the totals are summed in another order)
      for (const row of lib.rows) {
        const got = json.rows.find((x: typeof row) => x.unit_code === row.unit_code && x.layer === row.layer && x.measure === 'layer')
        expect({ ...got, area_m2: 0, share: 0 }).toEqual({ ...row, area_m2: 0, share: 0 })
        expect(Math.abs(got.area_m2 - row.area_m2)).toBeLessThanOrEqual(1e-9 * row.unit_area_m2)
      }
      const xlsx = await fetch(`${base}/api/runs/${run.id}/result?format=xlsx`)
      expect(xlsx.headers.get('content-type')).toMatch(/spreadsheetml/)
      expect(Buffer.from(await xlsx.arrayBuffer()).subarray(0, 2).toString()).toBe('PK')
      const gj = await (await fetch(`${base}/api/runs/${run.id}/result?format=geojson`)).json()
      expect(gj.features).toHaveLength(7)
      // the same request again: the stored run answers
      const again = await post({ kind: 'coverage', units: 'counties', layers: 'pa,redline@2023', categories: true, overlaps: 'pa+redline', union: 'pa,redline' })
      expect(again.status).toBe(200)
      expect((await again.json()).id).toBe(run.id)
      expect((await fetch(`${base}/api/runs`)).status).toBe(200)
      // a done run cannot be cancelled; bad requests have their own statuses
      expect((await fetch(`${base}/api/runs/${run.id}`, { method: 'DELETE', headers: { 'x-api-key': KEY } })).status).toBe(409)
      expect((await fetch(`${base}/api/runs/abc`)).status).toBe(400)
      expect((await fetch(`${base}/api/runs/987654`)).status).toBe(404)
      expect((await post({ kind: 'magic', units: 'counties' })).status).toBe(400)
      expect((await post({ kind: 'coverage', units: 'counties', overlaps: 'pa+pa' })).status).toBe(400)
      expect((await fetch(`${base}/api/runs/${run.id}/result?format=csv&table=nope`)).status).toBe(400)
    })

    it('builds a grid over HTTP', async () => {
      const r = await fetch(`${base}/api/unit-sets/grid`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ set: 'g10', size: 10000, within: 'counties' }) })
      expect(r.status).toBe(201)
      expect((await r.json()).loaded).toBeGreaterThan(90)
    })

    it('routes every path of the OpenAPI description', async () => {
      for (const [p, ops] of Object.entries(openApi.paths)) {
        for (const method of Object.keys(ops)) {
          const r = await fetch(base + p.replace('{name}', 'counties').replace('{id}', '999999'), { method: method.toUpperCase() })
          const body = r.headers.get('content-type')?.includes('json') ? await r.json() : {}
          expect(body?.error?.message ?? '', `${method} ${p}`).not.toMatch(/no route/)
        }
      }
    })
  })
}
