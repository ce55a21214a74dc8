// Recorded outputs: the sample loaded into a fresh embedded database, a fixed list of HTTP
// requests (statistics in every format, factors, allocation, ESV, vector and raster tiles,
// listings) and CLI commands; every answer is kept (binary ones as a SHA-256). Moves and
// refactors must leave every answer as recorded (issue 25: "byte-identical before and after").
//
//   node --import tsx scripts/golden/golden.ts record   # writes outputs.json.gz
//   npm run golden                                       # check: exit 1 on a difference
//
// Only what changes from one run of the same request to the next is masked: ISO timestamps,
// durations and input keys in JSON, XLSX zip dates (each sheet's cell values are kept), and
// the last bits of floating-point sums (numbers in text compare within 1e-12 relative plus
// 1e-6). Vector tiles are decoded to compare their numbers the same way.
import crypto from 'node:crypto'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import zlib from 'node:zlib'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ExcelJS from 'exceljs'
import { VectorTile } from '@mapbox/vector-tile'
import { PbfReader as Pbf } from 'pbf'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const RECORD = path.join(HERE, 'outputs.json.gz')

const SET = 'huangshan_counties'
const GRID = 'huangshan_grid_5km'
const cov = `/api/stats/coverage?units=${SET}&layers=redline,protected_area,forest,wetland&categories=true&overlaps=redline%2Bprotected_area&union=true`
const REQUESTS: (string | { post: string; body: unknown })[] = [
  '/api/layers', '/api/unit-sets', `/api/unit-sets/${SET}/units`, '/api/rasters', '/api/layers/forest/history',
  ...['json', 'csv', 'geojson', 'xlsx'].map((f) => `${cov}&format=${f}`),
  `/api/stats/coverage?units=${GRID}&layers=forest,redline&format=csv`,
  `/api/stats/coverage?units=${GRID}&union=true&format=csv`,
  ...['change', 'transitions', 'transition_totals', 'account'].map((t) => `/api/stats/change?units=${SET}&layer=forest&from=2020&to=2023&format=csv&table=${t}`),
  `/api/stats/change?units=${GRID}&layer=redline&from=2020&to=2023&format=json`,
  `/api/stats/change?units=${SET}&layer=forest&from=2020&to=2023&format=xlsx`,
  `/api/stats/zonal?units=${SET}&raster=landcover@2023&format=csv`,
  `/api/stats/zonal?units=${GRID}&raster=landcover@2020&format=json`,
  `/api/stats/raster-change?units=${SET}&from=landcover@2020&to=landcover@2023&format=csv`,
  ...['factors', 'units', 'provenance'].map((t) => `/api/factors?units=${SET}&format=csv&table=${t}`),
  `/api/factors?units=${SET}&format=xlsx`,
  { post: '/api/allocations?format=json', body: 'ALLOCATION' },
  { post: '/api/allocations?format=csv&table=allocation', body: 'ALLOCATION' },
  { post: '/api/esv?format=csv&table=esv_units', body: 'ESV' },
  { post: '/api/esv?format=json', body: 'ESV' },
  { post: '/api/gep?format=csv', body: 'GEP' },
  { post: '/api/gep?format=csv&table=units', body: 'GEP' },
  { post: '/api/gep?format=csv&table=change', body: 'GEP_COMPARE' },
  '/tiles/units:huangshan_counties.json',
  ...['6/53/26', '8/212/105', '9/424/211', '10/849/422'].flatMap((t) => [
    `/tiles/layer:forest@2023/${t}.mvt`, `/tiles/layer:redline/${t}.mvt`, `/tiles/units:${SET}/${t}.mvt`, `/tiles/change:forest@2020,2023/${t}.mvt`,
  ]),
  `/tiles/units:${SET}/8/212/105.mvt?run=1`,
  ...['8/212/105', '9/424/211', '10/849/422'].map((t) => `/tiles/raster/landcover/${t}.png?vintage=2023`),
]
const CLI: string[][] = [
  ['stats', 'coverage', '--units', SET, '--layers', 'redline,forest', '--categories', '--union', '--format', 'csv'],
  ['stats', 'change', '--units', SET, '--layer', 'redline', '--from', '2020', '--to', '2023', '--table', 'account', '--format', 'csv'],
  ['stats', 'zonal', '--units', SET, '--raster', 'landcover@2020', '--table', 'zonal', '--format', 'csv'],
  ['factors', '--units', SET, '--format', 'csv'],
  ['allocate', '--config', 'data/sample/allocation.yaml', '--format', 'csv'],
  ['layers'],
]

const ISO = /\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?/g
/** durations; the run's input key and a tile source's version (both over the inputs' ids
 *  and creation times) */
const VOLATILE = /(_ms|Ms|^elapsed.*|^ms|^input_key|^version)$/
/** (and the checkout's own path, which a few answers name in the sample's file names, as <root>) */
const HOST = /127\.0\.0\.1:\d+/g
/** an input key inside text (the run sheet of a workbook holds the run as JSON) */
const KEY_IN_TEXT = /(input_key[^0-9a-f]{1,12})[0-9a-f]{64}/g
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g
/** relative tolerance of numbers in text: the last bits of a sum depend on the order in
 *  which worker threads hand back their parts (see the closing note of issue 25) */
const REL = 1e-12
/** and absolute tolerance, in the answers' units (m²: a square millimetre): figures that are
 *  differences of large sums (transitions, SEEA additions) carry those sums' last bits */
const ABS = 1e-6

function maskJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskJson)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, VOLATILE.test(k) ? '<t>' : maskJson(x)]))
  return typeof v === 'string' ? v.replace(ISO, '<ts>').replace(HOST, '<host>').replace(KEY_IN_TEXT, '$1<key>').replaceAll(ROOT, '<root>') : v
}

/** a cell holding JSON (the run sheet's parameters and timings) as the value it holds */
function jsonIn(c: unknown): unknown {
  if (typeof c !== 'string' || !/^[[{]/.test(c)) return c
  try {
    return JSON.parse(c)
  } catch {
    return c
  }
}

interface Output { status: number; text?: string; sha256?: string }

/** An answer as kept: text with what varies between runs masked, or a binary's hash. */
async function keep(status: number, type: string, body: Buffer): Promise<Output> {
  if (type.includes('spreadsheetml')) {
    const book = new ExcelJS.Workbook()
    await book.xlsx.load(body as unknown as ArrayBuffer)
    const sheets = book.worksheets.map((s) => [s.name, s.getSheetValues().map((row) => (Array.isArray(row) ? row.map((c) => (c instanceof Date ? '<date>' : maskJson(jsonIn(c)))) : row))])
    return { status, text: JSON.stringify(sheets, null, 1) }
  }
  if (type.includes('mapbox-vector-tile') || type.includes('protobuf')) {
    const tile = new VectorTile(new Pbf(body))
    const layers = Object.entries(tile.layers).map(([name, l]) => [name, Array.from({ length: l.length }, (_, i) => {
      const f = l.feature(i)
      return { id: f.id, type: f.type, properties: f.properties, geometry: f.loadGeometry().map((ring) => ring.map((p) => [p.x, p.y])) }
    })])
    return { status, text: JSON.stringify(layers) }
  }
  if (type.includes('json')) return { status, text: JSON.stringify(maskJson(JSON.parse(body.toString('utf8'))), null, 1) }
  if (type.startsWith('text')) return { status, text: body.toString('utf8').replace(ISO, '<ts>').replaceAll(ROOT, '<root>') }
  return { status, sha256: crypto.createHash('sha256').update(body).digest('hex') }
}

/** Where two kept answers differ: undefined when equal (numbers in text within REL). */
function difference(a: Output, b: Output): string | undefined {
  if (a.status !== b.status) return `status ${a.status} → ${b.status}`
  if (a.sha256 !== b.sha256) return `bytes ${a.sha256?.slice(0, 12)} → ${b.sha256?.slice(0, 12)}`
  if (a.text === b.text) return undefined
  const [ta, tb] = [a.text ?? '', b.text ?? '']
  const [sa, sb] = [ta.replace(NUMBER, '#'), tb.replace(NUMBER, '#')]
  if (sa !== sb) {
    let i = 0
    while (sa[i] === sb[i]) i++
    return `text: …${JSON.stringify(sa.slice(Math.max(0, i - 60), i + 60))} → …${JSON.stringify(sb.slice(Math.max(0, i - 60), i + 60))}`
  }
  const [na, nb] = [ta.match(NUMBER) ?? [], tb.match(NUMBER) ?? []]
  for (let i = 0; i < na.length; i++) {
    const [x, y] = [Number(na[i]), Number(nb[i])]
    if (Math.abs(x - y) > REL * Math.max(Math.abs(x), Math.abs(y)) + ABS) return `number ${na[i]} → ${nb[i]}`
  }
  return undefined
}

/** ecocensus with the given environment: its status, output and messages */
function cli(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`ecocensus ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

/**
 * Everything through the shells only (ecocensus serve, the CLI), so that the script runs
 * unchanged on the code before and after a move: the sample loaded by `ecocensus sample`.
 */
async function collect(): Promise<Record<string, Output>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecocensus-golden-'))
  const out: Record<string, Output> = {}
  const port = await freePort()
  const env = {
    DATABASE_URL: '', ECOCENSUS_DATA_DIR: path.join(dir, 'db'), ECOCENSUS_RASTER_DIR: path.join(dir, 'rasters'),
    ECOCENSUS_TILE_CACHE_DIR: path.join(dir, 'tiles'), ECOCENSUS_PORT: String(port), ECOCENSUS_API_KEY: '',
  }
  let server: ChildProcess | undefined
  try {
    cli(['sample'], env)
    server = spawn(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), 'serve'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' })
    const base = `http://127.0.0.1:${port}`
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/readyz`).catch(() => undefined))?.ok) break
      if (i > 600 || server.exitCode !== null) throw new Error('ecocensus serve did not start')
      await new Promise((r) => setTimeout(r, 100))
    }
    const bodies: Record<string, unknown> = {
      ALLOCATION: await (await fetch(`${base}/api/allocations/example`)).json(),
      ESV: { units: SET, raster: 'landcover@2023', mapping: JSON.parse(fs.readFileSync(path.join(ROOT, 'data/sample/esv-mapping.json'), 'utf8')) },
      GEP: { units: SET, config: await (await fetch(`${base}/api/gep/example`)).json() },
    }
    bodies.GEP_COMPARE = { ...(bodies.GEP as object), compare: 2020 }
    for (const r of REQUESTS) {
      const [key, res] = typeof r === 'string'
        ? [`GET ${r}`, await fetch(base + r)]
        : [`POST ${r.post}`, await fetch(base + r.post, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bodies[r.body as string]) })]
      const body = Buffer.from(await res.arrayBuffer())
      out[key] = await keep(res.status, res.headers.get('content-type') ?? '', body)
    }
    server.kill('SIGTERM')
    await new Promise((r) => (server!.exitCode !== null ? r(null) : server!.once('exit', r)))
    for (const args of CLI) out[`cli ${args.join(' ')}`] = await keep(0, 'text/plain', cli(args, env).stdout)
    return out
  } finally {
    server?.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const mode = process.argv[2]
if (mode !== 'record' && mode !== 'check') {
  console.error('usage: golden.ts record|check')
  process.exit(2)
}
const got = await collect()
if (mode === 'record') {
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
  fs.writeFileSync(RECORD, zlib.gzipSync(JSON.stringify({ commit, outputs: got }, null, 1)))
  console.log(`${Object.keys(got).length} outputs of ${commit} recorded in ${path.relative(ROOT, RECORD)}`)
} else {
  const { commit, outputs: want } = JSON.parse(zlib.gunzipSync(fs.readFileSync(RECORD)).toString('utf8')) as { commit: string; outputs: Record<string, Output> }
  const keys = [...new Set([...Object.keys(want), ...Object.keys(got)])]
  let differ = 0
  for (const k of keys) {
    const d = !want[k] ? 'not recorded' : !got[k] ? 'missing now' : difference(want[k]!, got[k]!)
    if (d) differ++, console.log(`DIFFERENT ${k}: ${d}`)
  }
  console.log(`${keys.length - differ} of ${keys.length} outputs as recorded at ${commit} (numbers within ${REL} relative + ${ABS})`)
  process.exit(differ ? 1 : 0)
}
