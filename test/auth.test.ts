// API keys and roles: keys stored only as digests; reader < analyst < admin enforced on the
// routes; revoked and unknown keys refused; a server without keys refuses catalogue writes;
// reads keyed by configuration (API and vector tiles); the CLI manages keys.
import { runCli } from './helpers/cli.ts'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { loadSettings } from '../server/settings.ts'
import { addKey, digestOf, listKeys, revokeKey } from '../server/auth/keys.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { serverPool } from './helpers/http.ts'

const MAX = 1 << 30
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })

for (const backend of backends()) {
  describe(`keys and roles on ${backend.name}`, () => {
    let db: Db
    let dir: string
    const servers = serverPool()
    const keys: Record<string, string> = {}
    const start = async (env: Record<string, string> = {}) => {
      return servers.start(db, { env, dir })
    }
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection([{ props: { code: 'A' }, geometry: poly(box(118.0, 30.0, 118.1, 30.1)) }], 'EPSG:4490')), set: 'u', maxBytes: MAX })
      await ingestLayer(db, { file: writeJson(dir, 'l.geojson', featureCollection([{ geometry: poly(box(118.02, 30.02, 118.05, 30.05)) }], 'EPSG:4490')), layer: 'l', kind: 'redline', vintage: '2023', maxBytes: MAX })
    })
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('a server without keys refuses catalogue writes (403) but lets runs start', async () => {
      const base = await start()
      const r = await fetch(`${base}/api/unit-sets/grid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ set: 'g', size: 5000, within: 'u' }) })
      expect(r.status).toBe(403)
      expect((await r.json()).error.message).toMatch(/writes are disabled/)
      const run = await fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'coverage', units: 'u' }) })
      expect([200, 202]).toContain(run.status)
      expect((await (await fetch(`${base}/api/config`)).json()).writes).toBe(false)
    })

    it('stores digests only, and enforces reader < analyst < admin', async () => {
      for (const role of ['reader', 'analyst', 'admin']) keys[role] = (await addKey(db, `${role}-1`, role)).key
      const stored = JSON.stringify(await db.query('SELECT * FROM api_key'))
      for (const k of Object.values(keys)) {
        expect(k).toMatch(/^eco_[A-Za-z0-9_-]{43}$/)
        expect(stored).not.toContain(k)
        expect(stored).toContain(digestOf(k))
      }
      await expect(addKey(db, 'reader-1', 'admin')).rejects.toThrow(/exists/)
      await expect(addKey(db, 'x', 'root')).rejects.toThrow(/role 'root' is not one of reader, analyst, admin/)
      const base = await start()
      const grid = (key?: string) => fetch(`${base}/api/unit-sets/grid`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify({ set: 'g', size: 5000, within: 'u', replace: true }) })
      const run = (key?: string) => fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) }, body: JSON.stringify({ kind: 'coverage', units: 'u', fresh: true }) })
      expect((await grid()).status).toBe(401)
      expect((await grid(keys.reader)).status).toBe(403)
      const an = await grid(keys.analyst)
      expect(an.status).toBe(403)
      expect((await an.json()).error.message).toBe('this route needs role admin; the key has role analyst')
      expect((await grid(keys.admin)).status).toBe(201)
      expect((await run()).status).toBe(401)
      expect((await run(keys.reader)).status).toBe(403)
      expect([200, 202]).toContain((await run(keys.analyst)).status)
      expect((await grid('eco_not-a-key')).status).toBe(401)
      // reads stay public
      expect((await fetch(`${base}/api/layers`)).status).toBe(200)
      // revoked: refused at once
      await revokeKey(db, 'admin-1')
      const rv = await grid(keys.admin)
      expect(rv.status).toBe(401)
      expect((await rv.json()).error.message).toMatch(/unknown or revoked/)
      expect((await listKeys(db)).find((k) => k.name === 'admin-1')!.revoked_at).not.toBeNull()
      await expect(revokeKey(db, 'admin-1')).rejects.toThrow(/no active key/)
    })

    it('GET routes that would start a new run need an analyst key once keys exist; a stored result is a read', async () => {
      // a second layer: coverage of every layer now has inputs no stored run has
      await ingestLayer(db, { file: writeJson(dir, 'm.geojson', featureCollection([{ geometry: poly(box(118.03, 30.03, 118.07, 30.06)) }], 'EPSG:4490')), layer: 'm', kind: 'forest', vintage: '2023', maxBytes: MAX })
      const base = await start()
      const overlaps = `${base}/api/stats/coverage?units=u&overlaps=all&format=csv`
      const before = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run'))[0]!.n
      const anon = await fetch(overlaps)
      expect(anon.status).toBe(401)
      expect((await anon.json()).error.message).toMatch(/needs a key with role analyst/)
      expect((await fetch(overlaps, { headers: { 'x-api-key': keys.reader! } })).status).toBe(403)
      expect((await fetch(`${base}/api/factors?units=u`)).status).toBe(401)
      expect((await fetch(`${base}/api/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 'u', budget: 100, factors: [{ factor: 'l_m2', weight: 1 }] }) })).status).toBe(401)
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run'))[0]!.n).toBe(before) // refused before a run was created
      const computed = await fetch(overlaps, { headers: { 'x-api-key': keys.analyst! } })
      expect(computed.status).toBe(200)
      const again = await fetch(overlaps) // the stored run: a read, public here
      expect(again.status).toBe(200)
      expect(again.headers.get('x-run-id')).toBe(computed.headers.get('x-run-id'))
      expect(await again.text()).toBe(await computed.text())
      expect((await fetch(`${overlaps}&fresh=true`)).status).toBe(401) // recomputing is computing
      // factors and allocations: once an analyst has computed the runs they read, anyone may read them
      expect((await fetch(`${base}/api/factors?units=u`, { headers: { 'x-api-key': keys.analyst! } })).status).toBe(200)
      expect((await fetch(`${base}/api/factors?units=u`)).status).toBe(200)
      const alloc = await fetch(`${base}/api/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 'u', budget: 100, factors: [{ factor: 'l_m2', weight: 1 }] }) })
      expect(alloc.status).toBe(200)
    })

    it('keyed reads: API and vector tiles need a reader key; /healthz stays open', async () => {
      const base = await start({ ECOCENSUS_READS: 'keyed' })
      expect((await fetch(`${base}/api/layers`)).status).toBe(401)
      expect((await fetch(`${base}/tiles/layer:l/10/847/421.mvt`)).status).toBe(401)
      expect((await fetch(`${base}/api/layers`, { headers: { 'x-api-key': keys.reader! } })).status).toBe(200)
      expect([200, 204]).toContain((await fetch(`${base}/tiles/layer:l/10/847/421.mvt`, { headers: { 'x-api-key': keys.reader! } })).status)
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
      expect(() => loadSettings({ ECOCENSUS_READS: 'sometimes' })).toThrow(/public or keyed/)
    })
  })
}

describe('keys from the CLI', () => {
  it('adds (printing the key once), lists without the key, revokes', async () => {
    const dataDir = path.join(tmpDir(), 'db')
    const env: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_DATA_DIR: dataDir }
    delete env.DATABASE_URL
    const cli = (...args: string[]) => { const r = runCli(args, env); return { status: r.code, stdout: r.out, stderr: r.err } }
    let r = cli('keys', 'add', '--name', 'survey-team', '--role', 'admin')
    expect(r.status).toBe(0)
    const key = r.stdout.trim()
    expect(key).toMatch(/^eco_/)
    expect(r.stderr).toMatch(/not shown again/)
    r = cli('keys', 'list')
    expect(r.stdout).toMatch(/^1\tsurvey-team\tadmin\t\*\teco_.{4}…\t.*\tactive$/m)
    expect(r.stdout).not.toContain(key)
    expect(cli('keys', 'revoke', 'survey-team').status).toBe(0)
    expect(cli('keys', 'list').stdout).toMatch(/\trevoked /)
    r = cli('keys', 'add', '--name', 'x', '--role', 'root')
    expect(r.status).not.toBe(0)
    const db = await openDb({ dataDir })
    try {
      expect(JSON.stringify(await db.query('SELECT * FROM api_key'))).not.toContain(key)
    } finally {
      await db.close()
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true })
    }
  }, 180_000)
})
