// Hostile files (test/fixtures/hostile/, built by scripts/hostile/build-hostile.ts) and a
// seeded fuzz of a valid shapefile: every upload gets a specific 4xx or loads, never a 5xx;
// the server stays up; a refused upload leaves the database as it was.
import fs from 'node:fs'
import path from 'node:path'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { createServer } from '../server/http/app.ts'
import { loadSettings, ROOT } from '../server/settings.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { backends, snapshot } from './helpers/backends.ts'
import { tmpDir } from './helpers/fixtures.ts'
import { writeZip } from './helpers/zip.ts'
import { baseUrl } from './helpers/http.ts'

const KEY = 'hostile-key-0123456789'
const DIR = path.join(ROOT, 'test/fixtures/hostile')
const CASES: [file: string, status: number, message: RegExp][] = [
  ['truncated-shp.zip', 400, /truncated|ends|unexpected end|short/i],
  ['record-length-lies.zip', 400, /record|length|truncated|ends/i],
  ['bitflipped-header.zip', 400, /shp|shape|header|not a/i],
  ['dbf-count-lies.zip', 400, /dbf|records|truncated/i],
  ['zip-bomb.zip', 413, /unpacks to more than/],
  ['nan-coordinates.geojson', 400, /not valid JSON/i],
  ['huge-coordinates.geojson', 400, /out of range|coordinates|outside/i],
  ['nested-collections.geojson', 400, /nest|deep|GeometryCollection|polygon/i],
  ['lying-strip-offsets.tif', 400, /strip|offset|past the end|truncated|beyond/i],
  ['absurd-dimensions.tif', 400, /2000000×2000000 pixels is not a plausible raster/],
  ['deflate-bomb.tif', 400, /blocks of 20000×20000 pixels are not plausible/],
  ['million-vertex-ring.zip', 400, /comb\.geojson: feature 1 has 1000003 vertices, more than the limit of 500000 per feature \(ECOCENSUS_MAX_FEATURE_VERTICES\)/],
]

for (const backend of backends()) {
  describe(`hostile input on ${backend.name}`, () => {
    let db: Db
    let server: Server
    let base: string
    const dir = tmpDir()
    beforeAll(async () => {
      db = await backend.open()
      const settings = { ...loadSettings({}), uploadsPerMinute: 0, apiKey: KEY, maxUploadBytes: 64 << 20, maxFileBytes: 64 << 20, rasterDir: path.join(dir, 'r'), tileCacheDir: path.join(dir, 't') }
      server = createServer({ db, settings }).listen(0, '127.0.0.1')
      base = await baseUrl(server)
    })
    afterAll(async () => {
      await new Promise((r) => server?.close(r))
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })
    const upload = (name: string, body: Buffer, layer = 'h') => /\.tif$/.test(name)
      ? fetch(`${base}/api/rasters?filename=${name}&name=${layer}&vintage=2023&kind=categorical`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: new Uint8Array(body) })
      : fetch(`${base}/api/layers?filename=${name}&name=${layer}&kind=other&vintage=2023`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: new Uint8Array(body) })

    for (const [file, status, message] of CASES) {
      it(`${file}: ${status}, a clear message, nothing loaded, server up`, async () => {
        const before = await snapshot(db)
        const r = await upload(file, fs.readFileSync(path.join(DIR, file)))
        const body = await r.json()
        expect({ status: r.status, message: body.error?.message }).toMatchObject({ status })
        expect(body.error.message).toMatch(message)
        expect(body.error.message.length).toBeLessThan(400)
        expect(await snapshot(db)).toEqual(before)
        expect((await fetch(`${base}/healthz`)).status).toBe(200)
        expect(fs.existsSync(path.join(dir, 'r')) ? fs.readdirSync(path.join(dir, 'r')).filter((f) => f.endsWith('.tif')) : []).toEqual([])
      }, 60_000)
    }

    it('seeded fuzz of a valid shapefile for a bounded time: only 201 or 4xx, never 5xx', async () => {
      const src = path.join(ROOT, 'data/sample/layers/redline_2023')
      const parts = { shp: fs.readFileSync(`${src}.shp`), shx: fs.readFileSync(`${src}.shx`), dbf: fs.readFileSync(`${src}.dbf`) }
      let seed = 20261123
      const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
      const until = Date.now() + Number(process.env.FUZZ_SECONDS ?? 15) * 1000
      const seen: Record<string, number> = {}
      let n = 0
      while (Date.now() < until) {
        const which = (['shp', 'shx', 'dbf'] as const)[Math.floor(rnd() * 3)]!
        const b = Buffer.from(parts[which])
        const mode = Math.floor(rnd() * 3)
        if (mode === 0) for (let k = 0; k < 1 + Math.floor(rnd() * 8); k++) { const i = Math.floor(rnd() * b.length); b[i] = b[i]! ^ (1 << Math.floor(rnd() * 8)) }
        const body = mode === 1 ? b.subarray(0, Math.floor(rnd() * b.length)) : b
        if (mode === 2) { const i = Math.floor(rnd() * (b.length - 4)); b.writeUInt32LE(Math.floor(rnd() * 2 ** 32), i) }
        const zip = path.join(dir, `fuzz${n}.zip`)
        writeZip(zip, { 'f.shp': which === 'shp' ? body : parts.shp, 'f.shx': which === 'shx' ? body : parts.shx, 'f.dbf': which === 'dbf' ? body : parts.dbf, 'f.prj': fs.readFileSync(`${src}.prj`) }, true)
        const before = await snapshot(db)
        const r = await upload('f.zip', fs.readFileSync(zip), `fuzz${n}`)
        const text = await r.text()
        seen[r.status] = (seen[r.status] ?? 0) + 1
        expect(r.status, `case ${n} (${which}, mode ${mode}): ${text.slice(0, 300)}`).toBeLessThan(500)
        if (r.status !== 201) expect(await snapshot(db)).toEqual(before)
        fs.rmSync(zip)
        n++
      }
      console.log(`fuzz on ${backend.name}: ${n} mutated uploads, statuses ${JSON.stringify(seen)}`)
      expect(n).toBeGreaterThan(10)
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
    }, 120_000)

    it('a zip of 10 001 entries: 400 before anything is unpacked', async () => {
      const file = path.join(dir, 'many.zip')
      writeZip(file, Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`f${i}.txt`, Buffer.from('x')])), true)
      const before = await snapshot(db)
      const r = await upload('many.zip', fs.readFileSync(file))
      expect(r.status).toBe(400)
      expect((await r.json()).error.message).toMatch(/many\.zip: 10001 entries is more than 10000/)
      expect(await snapshot(db)).toEqual(before)
    })

    it('the 10⁶-vertex ring is a policy, not a crash: with the limit raised it loads whole and valid', async () => {
      const r = await ingestLayer(db, { file: path.join(DIR, 'million-vertex-ring.zip'), layer: 'comb', kind: 'other', vintage: '2023', maxBytes: 64 << 20, maxFeatureVertices: 2_000_000 })
      expect(r.loaded).toBe(1)
      const [g] = await db.query<{ n: number; valid: boolean; area: number }>("SELECT ST_NPoints(f.geom) AS n, ST_IsValid(f.geom) AS valid, ST_Area(f.geom) AS area FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'comb'")
      expect(g!.n).toBe(1_000_003)
      expect(g!.valid).toBe(true)
      // the comb in degrees²: a 0.5° × 0.01° strip plus the 10⁶ teeth, half of 0.5° × 0.001° (shoelace: 0.0052499975)
      expect(Math.abs(g!.area - 0.0052499975)).toBeLessThan(1e-9)
    }, 300_000)
  })
}
