// Operation: /readyz, request ids, structured access logs without keys, a config file under
// the environment, and a graceful SIGTERM (in-flight request finishes, exit 0, runs recorded).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openDb } from '../server/db/open.ts'
import { createServer, type AccessEntry } from '../server/http/app.ts'
import { loadSettings, ROOT } from '../server/settings.ts'
import { tmpDir } from './helpers/fixtures.ts'
import { baseUrl, withServer } from './helpers/http.ts'

describe('operation', () => {
  it('readyz, request ids (given or new), access entries without query strings or keys', async () => {
    const db = await openDb({ dataDir: 'memory://' })
    const entries: AccessEntry[] = []
    const server = createServer({ db, settings: { ...loadSettings({}), apiKey: 'secret-key-123' }, access: (e) => entries.push(e) }).listen(0, '127.0.0.1')
    const base = await baseUrl(server)
    try {
      const ready = await fetch(`${base}/readyz`)
      expect(ready.status).toBe(200)
      expect(await ready.json()).toEqual({ status: 'ready' })
      const mine = await fetch(`${base}/api/layers?secret=x1`, { headers: { 'x-request-id': 'abc-123', authorization: 'Bearer secret-key-123' } })
      expect(mine.headers.get('x-request-id')).toBe('abc-123')
      const fresh = await fetch(`${base}/api/layers`, { headers: { 'x-request-id': 'bad id with spaces' } })
      expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
      await fetch(`${base}/tiles/layer:none/1/0/0.mvt`)
      await new Promise((r) => setTimeout(r, 50))
      const e = entries.find((x) => x.id === 'abc-123')!
      expect(e).toMatchObject({ method: 'GET', path: '/api/layers', status: 400 }) // an unknown query parameter; logged without the query string
      expect(entries.find((x) => x.path === '/tiles/layer:none/1/0/0.mvt')!.status).toBe(404) // the tile fast path is logged too
      expect(JSON.stringify(entries)).not.toContain('secret-key-123')
      expect(JSON.stringify(entries)).not.toContain('secret=x1')
    } finally {
      await new Promise((r) => server.close(r))
      await db.close()
    }
  })

  it('an upload that does not arrive within ECOCENSUS_REQUEST_TIMEOUT_MS gets 408 and loads nothing', async () => {
    const db = await openDb({ dataDir: 'memory://' })
    const server = createServer({ db, settings: { ...loadSettings({}), apiKey: 'k-0123456789', requestTimeoutMs: 1000 } }).listen(0, '127.0.0.1')
    const { port } = new URL(await baseUrl(server))
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(Number(port), '127.0.0.1')
        let got = ''
        sock.on('data', (d) => (got += d.toString()))
        sock.on('close', () => resolve(got))
        sock.on('error', reject)
        // a 100 kB body promised, 8 bytes sent, then silence
        sock.write('POST /api/layers?filename=slow.geojson&name=slow&kind=other&vintage=2023 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k-0123456789\r\nContent-Length: 100000\r\n\r\n{"type":')
      })
      // the 408 is the limit's (nothing else answers 408); no bound on the time it took: a
      // busy machine may take longer, and the test must not depend on it
      expect(reply).toMatch(/^HTTP\/1\.1 408 /)
      expect(await db.query('SELECT count(*)::int AS n FROM layer')).toEqual([{ n: 0 }])
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    } finally {
      await new Promise((r) => server.close(r))
      await db.close()
    }
  })

  it('rate limits computations per client: 429 with Retry-After; reads are not limited', async () => {
    const db = await openDb({ dataDir: 'memory://' })
    try {
      await withServer(db, { settings: { runsPerMinute: 2 } }, async (base) => {
        const post = () => fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'coverage', units: 'none' }) })
        expect((await post()).status).toBe(404) // counted: no such unit set
        expect((await post()).status).toBe(404)
        const third = await post()
        expect(third.status).toBe(429)
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
        expect((await third.json()).error.message).toMatch(/at most 2 a minute; retry in \d+ s/)
        expect((await fetch(`${base}/api/layers`)).status).toBe(200) // reads are not limited
      })
    } finally {
      await db.close()
    }
  })

  it('a config file sets what the environment does not', () => {
    const dir = tmpDir()
    const yaml = path.join(dir, 'ecocensus.yaml')
    fs.writeFileSync(yaml, 'ECOCENSUS_PORT: 4321\nECOCENSUS_READS: keyed\nECOCENSUS_HOST: 0.0.0.0\n')
    const s = loadSettings({ ECOCENSUS_CONFIG: yaml, ECOCENSUS_HOST: '127.0.0.2' })
    expect([s.port, s.readsKeyed, s.host]).toEqual([4321, true, '127.0.0.2'])
    fs.writeFileSync(yaml, 'ECOCENSUS_PROT: 1\n')
    expect(() => loadSettings({ ECOCENSUS_CONFIG: yaml })).toThrow(/unknown setting 'ECOCENSUS_PROT'/)
    expect(() => loadSettings({ ECOCENSUS_CONFIG: path.join(dir, 'nope.json') })).toThrow(/no such file/)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('SIGTERM: readyz turns 503, the request in flight finishes, the process exits 0 and logs JSON', async () => {
    const dir = tmpDir()
    const port = 20000 + Math.floor(Math.random() * 20000)
    const env: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_DATA_DIR: path.join(dir, 'db'), ECOCENSUS_RASTER_DIR: path.join(dir, 'r'), ECOCENSUS_PORT: String(port), ECOCENSUS_SHUTDOWN_GRACE_MS: '60000' }
    delete env.DATABASE_URL
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr!.on('data', (c) => (err += c))
    const base = `http://127.0.0.1:${port}`
    try {
      for (let i = 0; i < 240 && !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 500))
      // a request that takes a while: coverage of the sample's counties, computed fresh
      const slow = fetch(`${base}/api/stats/coverage?units=huangshan_counties&fresh=true&union=true&overlaps=all`).then(async (r) => ({ status: r.status, rows: (await r.json()).rows?.length }))
      await new Promise((r) => setTimeout(r, 300))
      child.kill('SIGTERM')
      // (the embedded database computes on this thread, so the signal is seen between statements)
      let during: number | string = 200
      for (let i = 0; i < 100 && during === 200; i++) {
        await new Promise((r) => setTimeout(r, 100))
        during = await fetch(`${base}/readyz`).then((r) => r.status, () => 'refused')
      }
      expect([503, 'refused']).toContain(during)
      const res = await slow
      expect(res.status).toBe(200)
      expect(res.rows).toBeGreaterThan(7)
      const code = await new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))))
      expect(code).toBe(0)
      const json = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      expect(json.some((j) => /SIGTERM: shutting down/.test(j.msg))).toBe(true)
      expect(json.some((j) => /stopped: all requests finished/.test(j.msg))).toBe(true)
      expect(json.some((j) => j.msg === 'request' && j.path === '/api/stats/coverage' && j.status === 200)).toBe(true)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
