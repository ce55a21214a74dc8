#!/usr/bin/env node
// autocannon in its own process (so the server under test keeps its core), cycling through
// a list of paths. Usage: node scripts/bench/cannon.mjs SPEC.json → one JSON line of results.
// SPEC: { url, paths: [...], connections, duration, headers, method?, bodyFile? }
import fs from 'node:fs'
import autocannon from 'autocannon'

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
let i = 0
const r = await autocannon({
  url: spec.url,
  connections: spec.connections ?? 32,
  duration: spec.duration ?? 10,
  headers: spec.headers ?? {},
  method: spec.method ?? 'GET',
  body: spec.bodyFile ? fs.readFileSync(spec.bodyFile) : undefined,
  requests: [{ setupRequest: (req) => ({ ...req, path: spec.paths[i++ % spec.paths.length] }) }],
})
console.log(JSON.stringify({
  rps: r.requests.average, total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max,
  errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, statusCodes: r.statusCodeStats, bytesPerSec: r.throughput.average,
}))
