// Vector tile latency and throughput on the bundled sample (黄山市: 7 counties, red line,
// protected areas, forest; two vintages) on PostGIS.
//   DATABASE_URL=postgres://postgres@127.0.0.1/postgres node --import tsx scripts/bench/tile-bench.ts
//   BENCH_TILES_PER_ZOOM=60 BENCH_CACHED_SECONDS=10 BENCH_CONNECTIONS=32 (defaults)
// The sample goes into a throwaway database on that server. Then, for every zoom 6–14 and
// source, a seeded set of tiles that hold data:
//   bare:  the same ST_AsMVT statement through a plain `pg` client (what PostGIS costs alone)
//   ours:  GET /tiles/... over loopback HTTP, uncached (each tile asked for once), measured
//          by the client: source resolution, the query, gzip, HTTP
// interleaved tile by tile after a warm-up pass, so both meet the same buffer cache. Then
// cached throughput with autocannon over all those tiles (gzip), same process.
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { openDb } from '../../server/db/open.ts'
import { createApp, createServer } from '../../server/http/app.ts'
import { loadSampleIfEmpty } from '../../server/sample/load.ts'
import { loadSettings } from '../../server/settings.ts'
import { throwawayDatabase } from '../../test/helpers/backends.ts'
import { resolveSource } from '../../server/tiles/vector-source.ts'
import { tileStatement } from '../../server/tiles/vector-tile.ts'
import { createRuntime } from '../../server/runtime.ts'
import { pct, seeded, tileOf } from './tile-math.ts'

const url = process.env.DATABASE_URL
if (!url) {
  console.log('tile-bench: DATABASE_URL is not set; the tile benchmark measures PostGIS ST_AsMVT (skipped)')
  process.exit(0)
}
const PER_ZOOM = Number(process.env.BENCH_TILES_PER_ZOOM ?? 60)
const CACHED_S = Number(process.env.BENCH_CACHED_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const SOURCES = ['layer:redline@2023', 'layer:protected_area@2023', 'layer:forest@2023', 'units:huangshan_counties', 'change:redline@2020,2023']

const rand = seeded(20261123)

const tmp = await throwawayDatabase(url)
const db = await openDb({ url: tmp.url, dataDir: '', statementTimeoutMs: 0 })
const bare = new pg.Client({ connectionString: tmp.url })
let server: import('node:http').Server | undefined
try {
  const t0 = performance.now()
  await loadSampleIfEmpty(db, 1 << 30, () => {})
  console.log(`tile-bench on PostGIS, ${new Date().toISOString().slice(0, 10)}; sample loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  await bare.connect()
  const settings = { ...loadSettings({}), tileCacheDir: fs.mkdtempSync('/tmp/eco-tbench-') }
  const app = createApp({ db, settings })
  server = createServer({ db, settings, runtime: createRuntime(settings) }, app).listen(0, '127.0.0.1')
  await new Promise((r) => server!.once('listening', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  // tiles that hold data: candidates over the sample's extent, kept if the bare query returns bytes
  const [w, s, e, n] = [117.6, 29.4, 118.9, 30.45]
  const picked: { z: number; x: number; y: number; source: string; sql: string; params: unknown[] }[] = []
  for (let z = 6; z <= 14; z++) {
    const [x0, y0] = tileOf(z, w, n)
    const [x1, y1] = tileOf(z, e, s)
    for (const id of SOURCES) {
      const src = await resolveSource(db, id)
      const got: typeof picked = []
      for (let tries = 0; got.length < Math.ceil(PER_ZOOM / SOURCES.length) && tries < 400; tries++) {
        const x = x0 + Math.floor(rand() * (x1 - x0 + 1))
        const y = y0 + Math.floor(rand() * (y1 - y0 + 1))
        if (got.some((t) => t.x === x && t.y === y)) continue
        const { sql, params } = await tileStatement(db, src, z, x, y)
        const r = await bare.query(sql, params)
        if (r.rows[0]?.mvt?.length) got.push({ z, x, y, source: id, sql, params })
      }
      picked.push(...got)
    }
  }
  // warm-up: every statement once, so both sides meet a warm buffer cache; and our server
  // prepares its statements on each pooled connection (z3–z5 tiles, not measured)
  for (const t of picked) await bare.query(t.sql, t.params)
  const [wx, wy] = tileOf(5, 118.2, 29.9)
  for (let k = 0; k < 3; k++) {
    await Promise.all(SOURCES.flatMap((id) => Array.from({ length: 8 }, (_, i) => fetch(`${base}/tiles/${encodeURIComponent(id)}/${5 - k}/${(wx >> k) + (i % 2)}/${(wy >> k) + (i >> 2)}.mvt`).then((r) => r.arrayBuffer()))))
  }

  const byZoom = new Map<number, { bare: number[]; ours: number[]; server: number[] }>()
  const allServer: number[] = []
  const allOurs: number[] = []
  const allBare: number[] = []
  for (const t of picked) {
    const b0 = performance.now()
    await bare.query(t.sql, t.params)
    const b = performance.now() - b0
    const o0 = performance.now()
    const res = await fetch(`${base}/tiles/${encodeURIComponent(t.source)}/${t.z}/${t.x}/${t.y}.mvt`, { headers: { 'accept-encoding': 'gzip' } })
    await res.arrayBuffer()
    const o = performance.now() - o0
    if (res.status !== 200 || res.headers.get('x-tile-cache') !== 'miss') throw new Error(`tile ${t.source} ${t.z}/${t.x}/${t.y}: ${res.status} ${res.headers.get('x-tile-cache')}`)
    const st = Number(/dur=([0-9.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1])
    const zz = byZoom.get(t.z) ?? byZoom.set(t.z, { bare: [], ours: [], server: [] }).get(t.z)!
    zz.bare.push(b)
    zz.ours.push(o)
    zz.server.push(st)
    allServer.push(st)
    allBare.push(b)
    allOurs.push(o)
  }
  console.log('\n"server" is the handler\'s own time (Server-Timing: source, cache, query, gzip); "client" adds loopback HTTP and the fetch client.')
  console.log('\n| zoom | tiles | bare ST_AsMVT p50 / p95 ms | server p50 / p95 ms | client p50 / p95 ms | overhead server / client (sums) |')
  console.log('|---|---|---|---|---|---|')
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
  for (const [z, v] of byZoom) {
    console.log(`| ${z} | ${v.bare.length} | ${pct(v.bare, 50).toFixed(2)} / ${pct(v.bare, 95).toFixed(2)} | ${pct(v.server, 50).toFixed(2)} / ${pct(v.server, 95).toFixed(2)} | ${pct(v.ours, 50).toFixed(2)} / ${pct(v.ours, 95).toFixed(2)} | ${(sum(v.server) / sum(v.bare)).toFixed(2)}× / ${(sum(v.ours) / sum(v.bare)).toFixed(2)}× |`)
  }
  const hi = [...byZoom].filter(([z]) => z >= 10).flatMap(([, v]) => v.ours)
  console.log(`| all | ${allBare.length} | ${pct(allBare, 50).toFixed(2)} / ${pct(allBare, 95).toFixed(2)} | ${pct(allServer, 50).toFixed(2)} / ${pct(allServer, 95).toFixed(2)} | ${pct(allOurs, 50).toFixed(2)} / ${pct(allOurs, 95).toFixed(2)} | ${(sum(allServer) / sum(allBare)).toFixed(2)}× / ${(sum(allOurs) / sum(allBare)).toFixed(2)}× |`)
  console.log(`\nuncached p95 at z10–14 (client): ${pct(hi, 95).toFixed(2)} ms (target ≤ 50 ms); overhead over the bare query: server ${(sum(allServer) / sum(allBare)).toFixed(2)}×, client ${(sum(allOurs) / sum(allBare)).toFixed(2)}× (target ≤ 1.3×)`)

  // the HTTP floor: the same client asking for tiles that are now cached (no database)
  const floor: number[] = []
  for (const t of picked) {
    const o0 = performance.now()
    const res = await fetch(`${base}/tiles/${encodeURIComponent(t.source)}/${t.z}/${t.x}/${t.y}.mvt`, { headers: { 'accept-encoding': 'gzip' } })
    await res.arrayBuffer()
    floor.push(performance.now() - o0)
  }
  console.log(`HTTP floor (same client, cached tiles): p50 ${pct(floor, 50).toFixed(2)} ms, p95 ${pct(floor, 95).toFixed(2)} ms; overhead without it ${((sum(allOurs) - sum(floor)) / sum(allBare)).toFixed(2)}×`)

  // cached throughput: every picked tile is now in the cache
  const paths = picked.map((t) => `/tiles/${encodeURIComponent(t.source)}/${t.z}/${t.x}/${t.y}.mvt`)
  const specFile = path.join(settings.tileCacheDir, 'cannon.json')
  fs.writeFileSync(specFile, JSON.stringify({ url: base, paths, connections: CONNECTIONS, duration: CACHED_S, headers: { 'accept-encoding': 'gzip' } }))
  // autocannon in a child process: the server keeps this process's core
  const child = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'cannon.mjs'), specFile], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (c) => (out += c))
  await new Promise((r) => child.on('exit', r))
  const c = JSON.parse(out.trim().split('\n').pop()!)
  const hits = (app.locals.tileCache as { hits: number }).hits
  console.log(`\ncached: ${c.rps.toFixed(0)} tiles/s mean over ${CACHED_S} s (${CONNECTIONS} connections, ${paths.length} distinct tiles, gzip), latency p50 ${c.p50} ms p99 ${c.p99} ms, errors ${c.errors}, non-2xx ${c.non2xx}, cache hits ${hits} (target ≥ 5000 tiles/s)`)
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (server and measuring client; autocannon ran in a child process)`)
} finally {
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  await bare.end().catch(() => {})
  await db.close()
  await tmp.drop()
}
