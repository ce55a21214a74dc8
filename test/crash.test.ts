// Crash safety: the server is killed with SIGKILL during an import and during a statistics
// run, on the embedded database and on PostGIS. After a restart the import has left nothing,
// the run is marked failed (interrupted) with no partial results, and runs again to the end.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../server/settings.ts'
import { throwawayDatabase } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'

const KEY = 'crash-test-key'
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })

/** n small 33-vertex polygons on a lattice over 118–118.5°E, 30–30.5°N */
function manyPolygons(n: number) {
  const side = Math.ceil(Math.sqrt(n))
  const step = 0.5 / side
  const feats = []
  for (let k = 0; k < n; k++) {
    const cx = 118 + ((k % side) + 0.5) * step
    const cy = 30 + (Math.floor(k / side) + 0.5) * step
    const ring = Array.from({ length: 32 }, (_, i) => [cx + 0.4 * step * Math.cos((i * Math.PI) / 16), cy + 0.4 * step * Math.sin((i * Math.PI) / 16)])
    feats.push({ props: { k }, geometry: poly([...ring, ring[0]!]) })
  }
  return featureCollection(feats, 'EPSG:4490')
}

const targets: { name: string; setup: () => Promise<{ env: Record<string, string>; done: () => Promise<void> }> }[] = [
  { name: 'embedded', setup: async () => { const d = path.join(tmpDir(), 'db'); return { env: { ECOCENSUS_DATA_DIR: d }, done: async () => fs.rmSync(path.dirname(d), { recursive: true, force: true }) } } },
]
if (process.env.DATABASE_URL) {
  const url = process.env.DATABASE_URL
  targets.push({ name: 'postgis', setup: async () => { const t = await throwawayDatabase(url); return { env: { DATABASE_URL: t.url }, done: t.drop } } })
}

for (const target of targets) {
  describe(`kill -9 on ${target.name}`, () => {
    const dir = tmpDir()
    let env: Record<string, string>
    let done: () => Promise<void>
    let child: ChildProcess | undefined
    let base = ''
    const startServer = async () => {
      const port = 20000 + Math.floor(Math.random() * 20000)
      const e: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_PORT: String(port), ECOCENSUS_SAMPLE: '0', ECOCENSUS_API_KEY: KEY, ECOCENSUS_RASTER_DIR: path.join(dir, 'r'), ...env }
      if (!env.DATABASE_URL) delete e.DATABASE_URL
      child = spawn(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), 'serve'], { cwd: ROOT, env: e, stdio: ['ignore', 'ignore', 'pipe'] })
      let err = ''
      child.stderr!.on('data', (c) => (err += c))
      base = `http://127.0.0.1:${port}`
      for (let i = 0; i < 240; i++) {
        if (child.exitCode !== null) throw new Error(`server exited: ${err}`)
        if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) return err
        await new Promise((r) => setTimeout(r, 500))
      }
      throw new Error(`server did not start: ${err}`)
    }
    const kill9 = async () => {
      const c = child!
      c.kill('SIGKILL')
      await new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once('exit', r)))
    }
    /** GET as JSON; a connection reset by a keep-alive race (the embedded database keeps the
     *  server's thread busy) is retried, but only while the server process is alive */
    const getJson = async (url: string) => {
      for (let i = 0; ; i++) {
        try {
          return await (await fetch(url)).json()
        } catch (err) {
          if (i >= 5 || child?.exitCode !== null || child?.signalCode) throw err
          await new Promise((r) => setTimeout(r, 200))
        }
      }
    }
    const upload = (name: string, file: string) => fetch(`${base}/api/layers?filename=${path.basename(file)}&name=${name}&kind=other&vintage=2023`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: fs.readFileSync(file) })
    afterAll(async () => {
      if (child && child.exitCode === null) await kill9()
      await done?.()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('an import killed half-way leaves nothing; a run killed half-way is marked failed and runs again', async () => {
      ;({ env, done } = await target.setup())
      await startServer()
      const units = writeJson(dir, 'units.geojson', featureCollection([{ props: { code: 'A' }, geometry: poly(box(118.0, 30.0, 118.5, 30.5, 0.05)) }], 'EPSG:4490'))
      expect((await fetch(`${base}/api/unit-sets?filename=units.geojson&set=area`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: fs.readFileSync(units) })).status).toBe(201)
      const small = writeJson(dir, 'small.geojson', manyPolygons(4000))
      expect((await upload('small', small)).status).toBe(201)

      // 1. an import of 40 000 polygons, killed 3 s after the upload began
      const big = writeJson(dir, 'big.geojson', manyPolygons(40000))
      const t0 = Date.now()
      const pending = upload('big', big).then((r) => r.status, () => 'connection lost')
      await new Promise((r) => setTimeout(r, 3000))
      expect(await Promise.race([pending, new Promise((r) => setTimeout(() => r('still importing'), 10))])).toBe('still importing')
      await kill9()
      expect(await pending).toBe('connection lost')
      const killedAfter = Date.now() - t0

      await startServer()
      const layers = await (await fetch(`${base}/api/layers`)).json()
      expect(layers.map((l: { name: string }) => l.name)).toEqual(['small'])

      // 2. a coverage run on a 500 m grid, killed while it runs
      const grid = await fetch(`${base}/api/unit-sets/grid`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ set: 'km', size: 500, within: 'area' }) })
      expect(grid.status).toBe(201)
      const started = await (await fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ kind: 'coverage', units: 'km', layers: 'small' }) })).json()
      // 202: started and not finished when the answer left; killed at once
      expect(started.status).toBe('running')
      await kill9()
      let run = started
      const log = await startServer()
      expect(log).toMatch(new RegExp(`marked 1 interrupted run\\(s\\) failed: ${started.id}`))
      run = await getJson(`${base}/api/runs/${started.id}`)
      expect(run.status).toBe('failed')
      expect(run.error).toMatch(/^interrupted: the process running it stopped/)
      expect((await fetch(`${base}/api/runs/${started.id}/result`)).status).toBe(400)
      // and again, to the end
      const again = await (await fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ kind: 'coverage', units: 'km', layers: 'small' }) })).json()
      expect(again.id).not.toBe(started.id)
      for (let i = 0; i < 600 && run.status !== 'done'; i++) {
        await new Promise((r) => setTimeout(r, 200))
        run = await getJson(`${base}/api/runs/${again.id}`)
        if (run.status === 'failed') throw new Error(run.error)
      }
      expect(run.status).toBe('done')
      const csv = await (await fetch(`${base}/api/runs/${again.id}/result?format=csv`)).text()
      expect(csv.trim().split('\r\n').length).toBeGreaterThan(100)
      console.log(`${target.name}: import killed ${killedAfter} ms after upload began; run ${started.id} killed right after its 202, rerun ${again.id} done`)
      await kill9()
    }, 600_000)
  })
}
