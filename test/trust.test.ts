// Numbers that feed money are never silently wrong (issue 24): runs read immutable versions
// (a deterministic race with a replace), imports never destroy history, degenerate files are
// refused, the audit trail, keys limited to regions, fail closed, safe CSV, right statuses.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { VectorTile } from '@mapbox/vector-tile'
import { PbfReader as Pbf } from 'pbf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db, Queryable } from '../server/db/db.ts'
import { addKey, openServer, revokeKey } from '../server/auth/keys.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { coverage } from '../server/stats/coverage.ts'
import { change } from '../server/stats/change.ts'
import { layerHistory, purgeLayer } from '../server/catalog/history.ts'
import { listAudit } from '../server/audit/audit.ts'
import { sweepSpool } from '../server/http/upload.ts'
import { neutralise } from '../server/results/csv.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })

/** A Db whose first statement reading features waits for `release`: a run paused mid-read. */
function pausingDb(db: Db) {
  let hit!: () => void
  let release!: () => void
  const paused = new Promise<void>((r) => { hit = r })
  const gate = new Promise<void>((r) => { release = r })
  let seen = 0
  const wait = async (sql: string) => {
    if (/\bfeature\b/.test(sql) && seen++ === 0) {
      hit()
      await gate
    }
  }
  const wrapped: Db = {
    ...db,
    backend: db.backend,
    server: undefined, // no worker threads: every read goes through this wrapper
    query: async (sql, params, opts) => (await wait(sql), db.query(sql, params, opts)),
    transaction: (fn) => db.transaction((tx) => fn({ query: async (sql, params, opts) => (await wait(sql), tx.query(sql, params, opts)) } as Queryable)),
    copyBinary: db.copyBinary ? async (sql, settings, opts) => (await wait(sql), db.copyBinary!(sql, settings, opts)) : undefined,
    close: () => db.close(),
  }
  return { db: wrapped, paused, release: () => release(), seen: () => seen }
}

for (const backend of backends()) {
  describe(`trust on ${backend.name}`, () => {
    let db: Db
    let dir: string
    const servers = serverPool()
    const start = async (env: Record<string, string> = {}) => {
      return servers.start(db, { env, dir })
    }
    const layerFile = (name: string, boxes: number[][]) => writeJson(dir, name, featureCollection(boxes.map((b) => ({ props: { 类型: 'a' }, geometry: poly(box(b[0]!, b[1]!, b[2]!, b[3]!)) })), 'EPSG:4490'))
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      // two units; the second's name is a formula a spreadsheet would run
      await importUnits(db, {
        file: writeJson(dir, 'u.geojson', featureCollection([
          { props: { code: '341021', name: '歙县', parent: '3410' }, geometry: poly(box(118.0, 30.0, 118.1, 30.1)) },
          { props: { code: '341024', name: '=HYPERLINK("http://x","y")', parent: '3410' }, geometry: poly(box(118.1, 30.0, 118.2, 30.1)) },
        ], 'EPSG:4490')), set: 'u', parentField: 'parent', maxBytes: MAX,
      })
      await ingestLayer(db, { file: layerFile('l1.geojson', [[118.02, 30.02, 118.05, 30.05], [118.12, 30.02, 118.16, 30.06]]), layer: 'l', kind: 'redline', vintage: '2023', maxBytes: MAX })
    })
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('a run paused mid-read while its layer is replaced returns the old version exactly, and records it', async () => {
      const reference = await coverage(db, 'u', { layers: 'l' }, { reuse: false })
      const oldId = reference.layers[0]!.id
      const p = pausingDb(db)
      const running = coverage(p.db, 'u', { layers: 'l' }, { reuse: false })
      await p.paused
      // the replace: a different layer under the same name and vintage
      const r = await ingestLayer(db, { file: layerFile('l2.geojson', [[118.0, 30.0, 118.08, 30.08]]), layer: 'l', kind: 'redline', vintage: '2023', replace: true, maxBytes: MAX })
      expect(r.retiredId).toBe(oldId)
      p.release()
      const raced = await running
      expect(p.seen()).toBeGreaterThan(0)
      expect(raced.run.status).toBe('done')
      expect(raced.layers[0]!.id).toBe(oldId)
      expect(raced.rows).toEqual(reference.rows)
      // the next run reads the new version, which differs
      const after = await coverage(db, 'u', { layers: 'l' }, { reuse: false })
      expect(after.layers[0]!.id).toBe(r.layerId)
      expect(after.rows.find((x) => x.unit_code === '341021')!.area_m2).not.toBeCloseTo(reference.rows.find((x) => x.unit_code === '341021')!.area_m2, 0)
      // history: both versions, the old one retired and still readable
      const h = await layerHistory(db, 'l')
      expect(h.map((v) => [v.id, v.status])).toEqual([[oldId, 'retired'], [r.layerId, 'current']])
      expect(h[0]!.runs).toBeGreaterThanOrEqual(2)
      const [n] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM feature WHERE layer_id = $1', [oldId])
      expect(n!.n).toBe(2)
      // the retired version stays addressable by id
      const again = await coverage(db, 'u', { layers: `l#${oldId}` }, { reuse: false })
      expect(again.rows).toEqual(reference.rows)
      await expect(coverage(db, 'u', { layers: `l#${oldId},l` })).rejects.toThrow(/two versions of l@2023/)
    })

    it('the sample\'s change tables and SEEA accounts add up as printed', async () => {
      const sample = path.resolve('data/sample')
      await importUnits(db, { file: path.join(sample, 'huangshan-counties.geojson'), set: 'hs', parentField: 'parent_code', maxBytes: MAX })
      for (const v of ['2020', '2023']) await ingestLayer(db, { file: path.join(sample, `layers/forest_${v}.shp`), layer: 'sample_forest', kind: 'forest', vintage: v, categoryField: '事权等级', maxBytes: MAX })
      const r = await change(db, 'hs', 'sample_forest', '2020', '2023')
      expect(r.rows.length).toBe(7)
      for (const x of r.rows) {
        expect(x.stable_m2).toBeGreaterThanOrEqual(0)
        expect(x.stable_m2).toBeLessThanOrEqual(Math.min(x.from_m2, x.to_m2))
        expect(Math.min(x.gained_m2, x.lost_m2)).toBeGreaterThanOrEqual(0)
        expect(Math.abs(x.from_m2 + x.gained_m2 - x.lost_m2 - x.to_m2)).toBeLessThanOrEqual(1e-9 * x.to_m2)
      }
      expect(r.account.length).toBeGreaterThan(7)
      for (const a of r.account) {
        expect(Math.min(a.additions_m2, a.reductions_m2)).toBeGreaterThanOrEqual(0)
        expect(Math.abs(a.opening_m2 + a.additions_m2 - a.reductions_m2 - a.closing_m2)).toBeLessThanOrEqual(1e-9 * Math.max(1, a.closing_m2))
      }
    }, 300_000)

    it('a file whose only polygon has no area is refused and replaces nothing; --allow-empty stores it', async () => {
      const flat = writeJson(dir, 'flat.geojson', featureCollection([{ geometry: poly([[118.0, 30.0], [118.05, 30.0], [118.1, 30.0], [118.0, 30.0]]) }], 'EPSG:4490'))
      const before = await layerHistory(db, 'l')
      await expect(ingestLayer(db, { file: flat, layer: 'l', kind: 'redline', vintage: '2023', replace: true, maxBytes: MAX })).rejects.toThrow(/no polygon area to import .* layer 'l' vintage 2023 was not changed/)
      expect(await layerHistory(db, 'l')).toEqual(before)
      const base = await start({ ECOCENSUS_API_KEY: 'admin-secret-key-for-tests-0123456789' })
      const up = await fetch(`${base}/api/layers?filename=flat.geojson&name=l&kind=redline&vintage=2023&replace=true`, { method: 'POST', headers: { 'x-api-key': 'admin-secret-key-for-tests-0123456789' }, body: fs.readFileSync(flat) })
      expect(up.status).toBe(400)
      expect((await up.json()).error.message).toMatch(/no polygon area/)
      expect(await layerHistory(db, 'l')).toEqual(before)
      const e = await ingestLayer(db, { file: flat, layer: 'empty', kind: 'other', vintage: '2023', allowEmpty: true, maxBytes: MAX })
      expect(e.loaded).toBe(0)
    })

    it('purge deletes only retired versions, with the runs that read them, and is refused for a current one', async () => {
      const h = await layerHistory(db, 'l')
      const current = h.find((v) => v.status === 'current')!
      await expect(purgeLayer(db, 'l', { id: current.id })).rejects.toThrow(/is current; only retired versions can be purged/)
      const r = await purgeLayer(db, 'l', {})
      expect(r.purged.map((v) => v.id)).toEqual(h.filter((v) => v.status === 'retired').map((v) => v.id))
      expect(r.runsDeleted.length).toBeGreaterThanOrEqual(2)
      expect((await layerHistory(db, 'l')).map((v) => v.id)).toEqual([current.id])
    })

    it('concurrent imports of one name and vintage: one 201, the others 409, one version stored', async () => {
      const key = 'admin-secret-key-for-tests-0123456789'
      const base = await start({ ECOCENSUS_API_KEY: key })
      const body = fs.readFileSync(layerFile('c.geojson', [[118.03, 30.03, 118.04, 30.04]]))
      const rs = await Promise.all([1, 2, 3, 4].map(() => fetch(`${base}/api/layers?filename=c.geojson&name=conc&kind=forest&vintage=2024`, { method: 'POST', headers: { 'x-api-key': key }, body })))
      expect(rs.map((r) => r.status).sort()).toEqual([201, 409, 409, 409])
      for (const r of rs.filter((x) => x.status === 409)) expect((await r.json()).error.code).toBe('conflict')
      expect((await layerHistory(db, 'conc')).length).toBe(1)
    })

    it('CSV: a BOM, formula-like text neutralised, numbers kept as numbers', async () => {
      expect(neutralise('=HYPERLINK("http://x","y")')).toBe('\'=HYPERLINK("http://x","y")')
      for (const s of ['+1+1', '-2+3', '@SUM(A1)', '\tx', '\rx', "=cmd|' /C calc'!A0"]) expect(neutralise(s)).toBe(`'${s}`)
      for (const s of ['-1', '+2.5', '-3e-4', '歙县', 'a=b']) expect(neutralise(s)).toBe(s)
      const base = await start()
      const bytes = Buffer.from(await (await fetch(`${base}/api/stats/coverage?units=u&layers=l&format=csv`)).arrayBuffer())
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]) // UTF-8 BOM (fetch's text() would hide it)
      const lines = bytes.toString('utf8').slice(1).trim().split('\r\n')
      expect(lines[0]!.startsWith('unit_code,unit_name,')).toBe(true)
      const evil = lines.find((l) => l.startsWith('341024,'))!
      expect(evil).toContain('"\'=HYPERLINK(""http://x"",""y"")"')
      const [unitArea, layer, vintage, area] = evil.slice(evil.lastIndexOf('"') + 2).split(',')
      expect([layer, vintage]).toEqual(['l', '2023'])
      expect(Number(unitArea)).toBeGreaterThan(0)
      expect(area).toMatch(/^[0-9.e+-]+$/) // areas stay plain numbers, not neutralised text
    })

    it('keys limited to regions see, tile and compute only their units; allocations need the whole set', async () => {
      const a = await addKey(db, 'shexian', 'analyst', ['341021'])
      const b = await addKey(db, 'qimen', 'analyst', ['341024'])
      const none = await addKey(db, 'elsewhere', 'analyst', ['4401'])
      const base = await start()
      const get = (url: string, key: string) => fetch(`${base}${url}`, { headers: { 'x-api-key': key } })
      for (const [k, code] of [[a.key, '341021'], [b.key, '341024']] as const) {
        const r = await get('/api/stats/coverage?units=u&layers=l&format=json', k)
        expect(r.status).toBe(200)
        expect(r.headers.get('cache-control')).toMatch(/private/)
        const rows = (await r.json()).rows as { unit_code: string }[]
        expect([...new Set(rows.map((x) => x.unit_code))]).toEqual([code])
        const csv = await (await get('/api/stats/coverage?units=u&layers=l&format=csv', k)).text()
        expect(csv.trim().split('\r\n').slice(1).map((l) => l.split(',')[0])).toEqual([code])
        const units = await (await get('/api/unit-sets/u/units', k)).json()
        expect(units.features.map((f: { id: string }) => f.id)).toEqual([code])
        // unit tiles: only the key's unit (a z9 tile reaching both units)
        const t = await get('/tiles/units:u/9/423/211.mvt', k)
        expect(t.status).toBe(200)
        expect(t.headers.get('cache-control')).toMatch(/private/)
        const tile = new VectorTile(new Pbf(new Uint8Array(await t.arrayBuffer())))
        const codes = Array.from({ length: tile.layers.units!.length }, (_, i) => tile.layers.units!.feature(i).properties.code)
        expect(codes).toEqual([code])
      }
      const anonTile = new VectorTile(new Pbf(new Uint8Array(await (await fetch(`${base}/tiles/units:u/9/423/211.mvt`)).arrayBuffer())))
      expect(anonTile.layers.units!.length).toBe(2)
      // a set with none of the key's units: 403 for reads, runs and results
      expect((await get('/api/stats/coverage?units=u&layers=l', none.key)).status).toBe(403)
      const run = await fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': none.key }, body: JSON.stringify({ kind: 'coverage', units: 'u', layers: 'l' }) })
      expect(run.status).toBe(403)
      // an allocation shares a budget over the whole set: refused for a key of one county
      const alloc = await fetch(`${base}/api/allocations`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': a.key }, body: JSON.stringify({ units: 'u', budget: 1000, factors: [{ factor: 'l_m2', weight: 1 }] }) })
      expect(alloc.status).toBe(403)
      expect((await alloc.json()).error.message).toMatch(/reaches beyond this key's regions/)
      // a regional key cannot change the shared catalogue
      const admin = await addKey(db, 'county-admin', 'admin', ['341021'])
      const up = await fetch(`${base}/api/layers?filename=c.geojson&name=x&kind=forest&vintage=2024`, { method: 'POST', headers: { 'x-api-key': admin.key }, body: '{}' })
      expect(up.status).toBe(403)
      for (const k of ['shexian', 'qimen', 'elsewhere', 'county-admin']) await revokeKey(db, k)
    })

    it('fail closed: after every key is revoked anonymous computation stays refused until an admin opens the server', async () => {
      const base = await start()
      const k = await addKey(db, 'temp', 'analyst')
      await revokeKey(db, 'temp')
      const post = () => fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'coverage', units: 'u', layers: 'l', fresh: true }) })
      expect((await post()).status).toBe(401)
      expect((await fetch(`${base}/api/stats/coverage?units=u&layers=l&fresh=true`)).status).toBe(401)
      expect((await fetch(`${base}/api/stats/coverage?units=u&layers=l`, { headers: { 'x-api-key': k.key } })).status).toBe(401)
      await openServer(db)
      expect([200, 202]).toContain((await post()).status)
    })

    it('every computation route is rate-limited, fresh GETs included; 1e308 budgets are refused before any run', async () => {
      const base = await start({ ECOCENSUS_RUNS_PER_MINUTE: '2' })
      const fresh = () => fetch(`${base}/api/stats/coverage?units=u&layers=l&fresh=true`)
      const statuses = [(await fresh()).status, (await fresh()).status, (await fresh()).status]
      expect(statuses).toEqual([200, 200, 429])
      const runs = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run'))[0]!.n
      const before = await runs()
      const base2 = await start()
      const r = await fetch(`${base2}/api/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 'u', budget: 1e308, factors: [{ factor: 'l_m2', weight: 1 }] }) })
      expect(r.status).toBe(400)
      expect((await r.json()).error.message).toMatch(/implausibly large/)
      expect(await runs()).toBe(before)
    })

    it('change tables and the SEEA account add up as printed, also for near-coincident edges', async () => {
      const e = 1e-10 // degrees: far below survey precision, within the overlays' snapping
      await ingestLayer(db, { file: writeJson(dir, 'f20.geojson', featureCollection([
        { props: { c: 'x' }, geometry: poly(box(118.02, 30.02, 118.15, 30.07, 0.01)) },
        { props: { c: 'y' }, geometry: poly(box(118.16, 30.01, 118.19, 30.03)) },
      ], 'EPSG:4490')), layer: 'f', kind: 'forest', vintage: '2020', categoryField: 'c', maxBytes: MAX })
      await ingestLayer(db, { file: writeJson(dir, 'f23.geojson', featureCollection([
        { props: { c: 'x' }, geometry: poly(box(118.02 + e, 30.02 - e, 118.15 - e, 30.07 + e, 0.01)) },
        { props: { c: 'x' }, geometry: poly(box(118.16, 30.01, 118.19, 30.03)) },
      ], 'EPSG:4490')), layer: 'f', kind: 'forest', vintage: '2023', categoryField: 'c', maxBytes: MAX })
      const base = await start()
      const rows = (await (await fetch(`${base}/api/stats/change?units=u&layer=f&from=2020&to=2023&format=json`)).json()).rows as Record<string, number>[]
      const account = (await (await fetch(`${base}/api/stats/change?units=u&layer=f&from=2020&to=2023&format=json`)).json()).account as Record<string, number>[]
      expect(rows.length).toBe(2)
      for (const r of rows) {
        expect(r.stable_m2).toBeGreaterThanOrEqual(0)
        expect(r.stable_m2).toBeLessThanOrEqual(Math.min(r.from_m2!, r.to_m2!))
        expect(r.gained_m2).toBeGreaterThanOrEqual(0)
        expect(r.lost_m2).toBeGreaterThanOrEqual(0)
        expect(r.from_m2! + r.gained_m2! - r.lost_m2!).toBeCloseTo(r.to_m2!, 6)
        expect(r.net_m2).toBe(r.gained_m2! - r.lost_m2!)
      }
      expect(account.length).toBeGreaterThan(2)
      for (const a of account) {
        expect(a.additions_m2).toBeGreaterThanOrEqual(0)
        expect(a.reductions_m2).toBeGreaterThanOrEqual(0)
        expect(a.opening_m2! + a.additions_m2! - a.reductions_m2!).toBeCloseTo(a.closing_m2!, 6)
      }
      // unit 341021 holds only the near-coincident class-x patch: what changed is the 1e-10°
      // shift (~1e-5 m × perimeter), not hectares
      const shx = rows.find((r) => (r as unknown as { unit_code: string }).unit_code === '341021')!
      expect(shx.gained_m2! + shx.lost_m2!).toBeLessThan(1)
    })

    it('security headers; keyed raster tiles are private', async () => {
      const base = await start()
      const r = await fetch(`${base}/`)
      expect(r.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
      expect(r.headers.get('x-frame-options')).toBeTruthy()
    })

    it('uploads stream to a spool folder that is removed; a too-large upload is 413; dead processes\' spools are swept', async () => {
      const key = 'admin-secret-key-for-tests-0123456789'
      const base = await start({ ECOCENSUS_API_KEY: key, ECOCENSUS_MAX_UPLOAD_BYTES: '1000' })
      const spools = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`ecocensus-up-${process.pid}-`))
      const big = Buffer.alloc(5000, 32)
      const r = await fetch(`${base}/api/layers?filename=big.geojson&name=big&kind=forest&vintage=2024`, { method: 'POST', headers: { 'x-api-key': key }, body: big })
      expect(r.status).toBe(413)
      // chunked, no Content-Length: refused as the bytes arrive
      const stream = new ReadableStream({ start(c) { for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(1000)); c.close() } })
      const r2 = await fetch(`${base}/api/layers?filename=big.geojson&name=big&kind=forest&vintage=2024`, { method: 'POST', headers: { 'x-api-key': key }, body: stream, duplex: 'half' } as RequestInit)
      expect(r2.status).toBe(413)
      expect(spools()).toEqual([])
      const stale = path.join(os.tmpdir(), 'ecocensus-up-999999999-abc')
      fs.mkdirSync(stale, { recursive: true })
      fs.writeFileSync(path.join(stale, 'x.zip'), 'x')
      expect(sweepSpool()).toBeGreaterThanOrEqual(1)
      expect(fs.existsSync(stale)).toBe(false)
    })

    it('the audit trail names the actor, action, inputs and outcome of writes, runs, allocations and exports', async () => {
      const rows = await listAudit(db, { limit: 1000 })
      const has = (action: RegExp, outcome: RegExp) => rows.some((r) => action.test(r.action) && outcome.test(r.outcome))
      expect(has(/^POST \/api\/layers$/, /^ok$/)).toBe(true)
      expect(has(/^POST \/api\/layers$/, /no polygon area/)).toBe(true)
      expect(has(/^POST \/api\/layers$/, /already exists|in progress/)).toBe(true)
      expect(has(/^GET \/api\/stats\/coverage$/, /^ok$/)).toBe(true)
      expect(has(/^POST \/api\/runs$/, /^ok$/)).toBe(true)
      expect(has(/^POST \/api\/allocations$/, /implausibly large/)).toBe(true)
      const up = rows.find((r) => r.action === 'POST /api/layers' && r.outcome === 'ok')!
      expect(up.actor).toBe('key:settings-key')
      expect(up.target).toBe('layer conc@2024')
      expect(up.inputs).toMatchObject({ name: 'conc', vintage: '2024' })
      const scoped = rows.find((r) => r.actor === 'key:shexian')!
      expect(scoped.key_id).toBeGreaterThan(0)
      // no key text ever reaches the trail
      expect(JSON.stringify(rows)).not.toContain('admin-secret-key-for-tests')
      const base = await start({ ECOCENSUS_API_KEY: 'admin-secret-key-for-tests-0123456789' })
      expect((await fetch(`${base}/api/audit`)).status).toBe(401)
      const api = await (await fetch(`${base}/api/audit?action=allocations`, { headers: { 'x-api-key': 'admin-secret-key-for-tests-0123456789' } })).json()
      expect(api.length).toBeGreaterThan(0)
      expect(api.every((r: { action: string }) => r.action.includes('allocations'))).toBe(true)
    })
  })
}
