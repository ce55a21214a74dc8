// Load: tiles, statistics reads and uploads at once, for a bounded time, against a server in
// its own process (embedded database with the sample, or DATABASE_URL). Prints per stream the
// throughput, p50/p99 latency and status codes, and the server's RSS over time.
//   node --import tsx scripts/bench/load.ts            LOAD_SECONDS=300 (default 60)
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(here, '../..')
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60)
const KEY = 'load-test-key'
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-load-'))
const port = 20000 + Math.floor(Math.random() * 20000)
const env: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_PORT: String(port), ECOCENSUS_API_KEY: KEY, ECOCENSUS_DATA_DIR: path.join(dir, 'db'), ECOCENSUS_RASTER_DIR: path.join(dir, 'r'), ECOCENSUS_MAX_UPLOAD_BYTES: String(1 << 20), ECOCENSUS_UPLOADS_PER_MINUTE: process.env.ECOCENSUS_UPLOADS_PER_MINUTE ?? '0' }
const server = spawn(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] })
let log = ''
server.stderr!.on('data', (c) => (log += c))
const base = `http://127.0.0.1:${port}`
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
try {
  for (let i = 0; i < 600 && !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 500))
  if (process.env.DATABASE_URL) {
    // a server database starts empty: load the sample through the CLI
    const r = spawn(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), 'sample'], { cwd: ROOT, env, stdio: 'inherit' })
    await new Promise((res) => r.on('exit', res))
  }
  // warm: the statistics runs exist, so reads are reads
  for (const u of ['/api/stats/coverage?units=huangshan_counties', '/api/stats/coverage?units=huangshan_grid_5km', '/api/stats/change?units=huangshan_counties&layer=redline&from=2020&to=2023']) await fetch(base + u, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.text()) // computing needs a key (analyst or admin); the stream below reads the stored runs
  const R = 6378137
  const tileOf = (z: number, lon: number, lat: number) => [Math.floor(((lon + 180) / 360) * 2 ** z), Math.floor(((Math.PI - Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360))) / (2 * Math.PI)) * 2 ** z)]
  const tiles: string[] = []
  for (const src of ['layer:redline@2023', 'layer:forest@2023', 'units:huangshan_counties', 'change:redline@2020,2023']) {
    for (let z = 7; z <= 13; z++) {
      const [x0, y1] = tileOf(z, 117.6, 29.4)
      const [x1, y0] = tileOf(z, 118.9, 30.45)
      for (let x = x0!; x <= x1!; x += Math.max(1, Math.floor((x1! - x0!) / 5))) for (let y = y0!; y <= y1!; y += Math.max(1, Math.floor((y1! - y0!) / 5))) tiles.push(`/tiles/${encodeURIComponent(src)}/${z}/${x}/${y}.mvt`)
    }
  }
  void R
  const stats = ['/api/stats/coverage?units=huangshan_counties&format=csv', '/api/stats/coverage?units=huangshan_grid_5km', '/api/stats/change?units=huangshan_counties&layer=redline&from=2020&to=2023&format=csv', '/api/layers', '/api/runs']
  const upload = path.join(dir, 'up.geojson')
  fs.writeFileSync(upload, JSON.stringify({ type: 'FeatureCollection', crs: { type: 'name', properties: { name: 'EPSG:4490' } }, features: [{ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[118.1, 29.8], [118.2, 29.8], [118.2, 29.9], [118.1, 29.9], [118.1, 29.8]]] } }] }))
  const big = path.join(dir, 'big.geojson')
  fs.writeFileSync(big, Buffer.alloc(2 << 20, 0x20)) // over the 1 MiB upload limit: 413
  const streams = [
    { name: 'tiles', spec: { url: base, paths: tiles, connections: 16, duration: SECONDS, headers: { 'accept-encoding': 'gzip' } } },
    { name: 'statistics', spec: { url: base, paths: stats, connections: 4, duration: SECONDS, headers: { authorization: `Bearer ${KEY}` } } },
    { name: 'uploads', spec: { url: base, paths: Array.from({ length: 50 }, (_, i) => `/api/layers?filename=up.geojson&name=load${i % 5}&kind=other&vintage=2024&replace=true`), connections: 1, duration: SECONDS, method: 'POST', bodyFile: upload, headers: { authorization: `Bearer ${KEY}` } } },
    { name: 'oversize uploads', spec: { url: base, paths: ['/api/layers?filename=big.geojson&name=big&kind=other&vintage=2024'], connections: 1, duration: SECONDS, method: 'POST', bodyFile: big, headers: { authorization: `Bearer ${KEY}` } } },
  ]
  const samples: [number, number][] = [[0, rss()]]
  const t0 = Date.now()
  const timer = setInterval(() => samples.push([Math.round((Date.now() - t0) / 1000), rss()]), 5000)
  const results = await Promise.all(streams.map(async (s) => {
    const f = path.join(dir, `${s.name.replace(/\W/g, '_')}.json`)
    fs.writeFileSync(f, JSON.stringify(s.spec))
    const c = spawn(process.execPath, [path.join(here, 'cannon.mjs'), f], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    await new Promise((r) => c.on('exit', r))
    return { name: s.name, ...JSON.parse(out.trim().split('\n').pop()!) }
  }))
  clearInterval(timer)
  samples.push([Math.round((Date.now() - t0) / 1000), rss()])
  console.log(`load for ${SECONDS} s on ${process.env.DATABASE_URL ? 'PostGIS' : 'the embedded database'}, ${new Date().toISOString().slice(0, 10)}\n`)
  console.log('| stream | connections | requests/s | p50 ms | p99 ms | status codes | errors |')
  console.log('|---|---|---|---|---|---|---|')
  for (const r of results) {
    const s = streams.find((x) => x.name === r.name)!.spec
    console.log(`| ${r.name} | ${s.connections} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${Object.entries(r.statusCodes).map(([k, v]) => `${k}: ${(v as { count: number }).count}`).join(', ')} | ${r.errors + r.timeouts} |`)
  }
  const mem = samples.map(([t, m]) => `${t}s ${m.toFixed(0)}`).join(', ')
  console.log(`\nserver RSS (MiB): ${mem}`)
  const half = samples.filter(([t]) => t >= SECONDS / 2).map(([, m]) => m)
  console.log(`second half: min ${Math.min(...half).toFixed(0)}, max ${Math.max(...half).toFixed(0)} MiB`)
  const bad = results.filter((r) => r.errors + r.timeouts > 0 || Object.keys(r.statusCodes).some((k) => Number(k) >= 500))
  if (bad.length) { console.log(`FAILED: ${bad.map((r) => r.name).join(', ')}; server log tail:\n${log.split('\n').slice(-20).join('\n')}`); process.exitCode = 1 }
  else console.log(`server alive: ${(await fetch(`${base}/healthz`)).status === 200}`)
} finally {
  server.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 2000))
  if (server.exitCode === null) server.kill('SIGKILL')
  fs.rmSync(dir, { recursive: true, force: true })
}
