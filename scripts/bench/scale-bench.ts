// Distributed runs (server/distribute/, docs/scale.md), on PostGIS:
//   A. real tasks: coverage of the generated county (county-gen.ts, ×BENCH_SCALE_COUNTY,
//      default 64 ≈ 1.7×10⁵ features, five layers) on a 500 m grid, cut into tiles of
//      BENCH_SCALE_TILE features (default 10 000): in this process (the one-process run) and
//      distributed over 1 and 2 `ecocensus worker` processes started cold for each run.
//      Arms interleaved (one, 1 worker, 2 workers, then the reverse), each run --fresh;
//      every distributed run's rows compared with the one-process run's, bit for bit.
//      Per task: its time on the worker, features read, bytes of its stored result.
//   B. the queue alone: a run of ~BENCH_SCALE_TASKS (64) small tiles (county ×1), each task
//      throttled to take BENCH_SCALE_TASK_MS (default 1000) on its worker
//      (`worker --min-task-ms`), over 1, 2, 4, 8 and 16 workers: tasks per second
//      against 1 worker's times the workers. These workers open 3 database connections each
//      (ECOCENSUS_DB_CONNECTIONS; 16 × (3 + 2 for the queue) fit PostgreSQL's default 100).
//   C. ingest: BENCH_SCALE_FILES (4) survey-like shapefiles (survey-shapefile.ts) of
//      BENCH_SCALE_INGEST (50 000) features each, loaded as one layer version in this process
//      and staged by 1 and 2 workers (ingest/stage-parts.ts), arms interleaved; every
//      version's rows (all columns, geometry as EWKB) compared with the first one-process one.
//   D. GEP: the sample account (data/sample/gep.yaml: climate, NPP, soil retention with LS
//      from the DEM, ~2.7×10⁶ px of 100 m) of the sample's 5 km grid, BENCH_SCALE_GEP_UNITS
//      (60) cells a task: in this process and over 1 and 2 workers (each makes the terrain
//      itself); the stored sums compared byte for byte.
//   DATABASE_URL=postgres://… node --import tsx scripts/bench/scale-bench.ts
//   BENCH_SCALE_PARTS=C,D: only those parts (default A,B,C,D).
// Not in `npm run bench` (it starts up to 16 worker processes; ~10 minutes).
import { performance } from 'node:perf_hooks'
import { openDb } from '../../server/db/open.ts'
import type { Db } from '../../server/db/db.ts'
import { TaskQueue } from '../../server/distribute/queue.ts'
import type { DistributedMeta } from '../../server/distribute/distribute.ts'
import { createRuntime, type Runtime } from '../../server/runtime.ts'
import { startRun } from '../../server/runs/execute.ts'
import { loadSettings } from '../../server/settings.ts'
import { planCoverage, readCoverage } from '../../server/stats/coverage.ts'
import { buildGrid } from '../../server/units/build-grid.ts'
import { generateCounty } from './county-gen.ts'
import { startWorkers } from './workers.ts'
import { writeSurveyShapefile } from './survey-shapefile.ts'
import { ingestLayer } from '../../server/ingest/ingest-layer.ts'
import { prepareLayer } from '../../server/stats/cells/read/contacts.ts'
import { loadSampleIfEmpty, SAMPLE_DIR } from '../../server/sample/load.ts'
import { planGep, type GepMeta } from '../../server/gep/gep.ts'
import { readConfig as readGepConfig } from '../../server/gep/config.ts'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const url = process.env.DATABASE_URL
if (!url) {
  console.log('scale-bench: needs DATABASE_URL (a PostGIS database it may load data into); skipped')
  process.exit(0)
}
const scale = Number(process.env.BENCH_SCALE_COUNTY ?? 64)
const tileFeatures = Number(process.env.BENCH_SCALE_TILE ?? 10_000)
const taskMs = Number(process.env.BENCH_SCALE_TASK_MS ?? 1000)
const wantTasks = Number(process.env.BENCH_SCALE_TASKS ?? 64)
const files = Number(process.env.BENCH_SCALE_FILES ?? 4)
const perFile = Number(process.env.BENCH_SCALE_INGEST ?? 50_000)
const gepUnits = Number(process.env.BENCH_SCALE_GEP_UNITS ?? 60)
const partsToRun = new Set((process.env.BENCH_SCALE_PARTS ?? 'A,B,C,D').split(','))

const db = await openDb({ url, dataDir: 'memory://', statementTimeoutMs: 0 })
const queue = await TaskQueue.open({ url, expireSeconds: 900, retries: 1, maintenanceSeconds: 10 })
const settings = loadSettings()

const workers = (n: number, args: string[] = [], env: Record<string, string> = {}) => startWorkers(url, n, args, env)

type Measured = { featuresRead: number; tiles: number; ms: { read: number }; distributed?: DistributedMeta }
async function run(rt: Runtime, set: string, layers: string): Promise<{ s: number; rows: unknown[]; measured: Measured }> {
  const t = performance.now()
  const r = await rt.run(async () => (await startRun(db, await planCoverage(db, set, { layers }), { reuse: false })).done)
  const s = (performance.now() - t) / 1000
  const rows = (await readCoverage(db, r)).rows
  return { s, rows, measured: (r.meta as { measured: Measured }).measured }
}

const same = (a: unknown[], b: unknown[]) => JSON.stringify(a) === JSON.stringify(b)
const median = (xs: number[]) => { const o = [...xs].sort((a, b) => a - b); return (o[(o.length - 1) >> 1]! + o[o.length >> 1]!) / 2 }

async function county(db: Db, s: number, prefix: string) {
  const c = await generateCounty(db, { scale: s, prefix })
  const set = `${prefix}g500`
  await buildGrid(db, { set, sizeM: 500, bbox: c.bbox, replace: true })
  return { set, layers: c.layers.map((l) => l.name).join(','), features: c.layers.reduce((x, l) => x + l.features, 0), cells: (await db.query<{ n: number }>('SELECT unit_count AS n FROM unit_set WHERE name = $1', [set]))[0]!.n }
}

// A. real tasks
if (partsToRun.has('A')) {
const t0 = performance.now()
const big = await county(db, scale, `sc${scale}_`)
const [size] = await db.query<{ b: number; n: number }>("SELECT pg_total_relation_size('feature')::float8 AS b, (SELECT count(*) FROM feature)::float8 AS n")
console.log(`scale bench, ${new Date().toISOString().slice(0, 10)}, PostGIS: county ×${scale}, ${big.features} features, ${big.cells} cells of 500 m; generated in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
console.log(`feature table: ${(size!.b / size!.n).toFixed(0)} bytes a feature with its indexes (${size!.n} features of generated counties in this database)`)
const one = createRuntime({ ...settings, cells: { tileFeatures } })
const dist = createRuntime({ ...settings, cells: { tileFeatures }, distributor: { queue, pollMs: 100, unitsPerTask: 2000, heartbeatSeconds: 30, retries: 1 } })
const times: Record<string, number[]> = { one: [], w1: [], w2: [] }
const tasks: string[] = []
let reference: unknown[] | undefined
for (const arm of ['one', 'w1', 'w2', 'w2', 'w1', 'one']) {
  if (arm === 'one') {
    const r = await run(one, big.set, big.layers)
    times.one!.push(r.s)
    if (reference && !same(reference, r.rows)) throw new Error('two one-process runs differ')
    reference = r.rows
    continue
  }
  const w = await workers(arm === 'w1' ? 1 : 2)
  const r = await run(dist, big.set, big.layers)
  await w.stop()
  times[arm]!.push(r.s)
  const d = r.measured.distributed!
  if (reference && !same(reference, r.rows)) throw new Error(`the distributed run (${arm}) differs from the one-process run`)
  tasks.push(`| ${arm === 'w1' ? 1 : 2} | ${d.parts} | ${(d.totalMs / d.parts).toFixed(0)} | ${(r.measured.ms.read / d.parts).toFixed(0)} | ${d.slowestMs} | ${Math.round(r.measured.featuresRead / d.parts)} | ${Math.round(r.measured.featuresRead / (d.totalMs / 1000))} | ${Math.round(d.bytes / d.parts / 1024)} | ${d.attempts} | ${w.startS.toFixed(1)} |`)
}
console.log(`rows: ${reference!.length}, every distributed run equal to the one-process run (JSON of the rows compared)`)
console.log('| run | median s | runs s |')
console.log('|---|---|---|')
for (const [k, v] of Object.entries(times)) console.log(`| ${k === 'one' ? 'one process' : `${k.slice(1)} worker(s)`} | ${median(v).toFixed(2)} | ${v.map((x) => x.toFixed(2)).join(', ')} |`)
console.log('| workers | tasks | mean task ms | of it waiting for reads | slowest task ms | features read per task | features/s per task | result KiB per task | attempts | workers ready s |')
console.log('|---|---|---|---|---|---|---|---|---|---|')
for (const t of tasks) console.log(t)
await one.close()
await dist.close()
}

// B. the queue alone
if (partsToRun.has('B')) {
const small = await county(db, 1, 'sc1_')
const per = Math.max(1, Math.floor(small.features / wantTasks))
const qrt = createRuntime({ ...settings, cells: { tileFeatures: per }, distributor: { queue, pollMs: 100, unitsPerTask: 2000, heartbeatSeconds: 30, retries: 1 } })
console.log(`\nqueue throughput: tasks throttled to ${taskMs} ms each (worker --min-task-ms)`)
console.log('| workers | tasks | run s | tasks/s | linear (1 worker × n) | efficiency | whole rounds of tasks, s |')
console.log('|---|---|---|---|---|---|---|')
let base = 0
for (const n of [1, 2, 4, 8, 16]) {
  const w = await workers(n, ['--min-task-ms', String(taskMs)], { ECOCENSUS_DB_CONNECTIONS: '3' })
  const r = await run(qrt, small.set, small.layers)
  await w.stop()
  const d = r.measured.distributed!
  const rate = d.parts / r.s
  if (n === 1) base = rate
  // n workers need at least ⌈tasks / n⌉ task times: the floor the run can reach
  console.log(`| ${n} | ${d.parts} | ${r.s.toFixed(2)} | ${rate.toFixed(2)} | ${(base * n).toFixed(2)} | ${((100 * rate) / (base * n)).toFixed(0)} % | ${(Math.ceil(d.parts / n) * taskMs / 1000).toFixed(0)} |`)
}
await qrt.close()
}

const distributor = (unitsPerTask = 2000) => ({ queue, pollMs: 100, unitsPerTask, heartbeatSeconds: 30, retries: 1 })
const armName = (arm: string) => (arm === 'one' ? 'one process' : `${arm.slice(1)} worker(s)`)

// C. ingest of several files
if (partsToRun.has('C')) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scale-ingest-'))
  const cols = 250
  const rowsPer = Math.ceil(perFile / cols)
  const shp = Array.from({ length: files }, (_, k) => writeSurveyShapefile(path.join(dir, `part_${k}`), perFile, { cols, firstRow: k * rowsPer }).shp)
  const total = files * perFile
  console.log(`\ningest: ${files} survey-like shapefiles of ${perFile} features (${(shp.reduce((b, f) => b + fs.statSync(f).size, 0) / 2 ** 20).toFixed(0)} MiB of .shp), one layer version`)
  const one = createRuntime({ ...settings })
  const dist = createRuntime({ ...settings, distributor: distributor() })
  const digest = async (layerId: number) => (await db.query<{ d: string }>(
    `SELECT md5(string_agg(src_index || '|' || attributes::text || '|' || coalesce(category, '') || '|' || encode(ST_AsEWKB(geom), 'hex') || '|' || area_m2::text || '|' || zone, ',' ORDER BY src_index)) AS d
       FROM feature WHERE layer_id = $1`, [layerId]))[0]!.d
  const times: Record<string, number[]> = { one: [], w1: [], w2: [] }
  const tasks: string[] = []
  let reference: string | undefined
  let k = 0
  for (const arm of ['one', 'w1', 'w2', 'w2', 'w1', 'one']) {
    const w = arm === 'one' ? undefined : await workers(arm === 'w1' ? 1 : 2)
    const t = performance.now()
    const r = await (arm === 'one' ? one : dist).run(() => ingestLayer(db, { file: shp, layer: `scale_ingest_${k++}`, kind: 'other', vintage: '2023', categoryField: 'DLBM', maxBytes: 2 ** 32, prepare: prepareLayer }))
    const sec = (performance.now() - t) / 1000
    await w?.stop()
    times[arm]!.push(sec)
    if (r.loaded !== total) throw new Error(`${arm}: ${r.loaded} of ${total} features stored`)
    const d = await digest(r.layerId)
    if (reference && d !== reference) throw new Error(`${arm}: the stored rows differ from the one-process import's`)
    reference ??= d
    if (arm !== 'one') {
      const [run] = await db.query<{ meta: { distributed: DistributedMeta }; timings: unknown }>("SELECT meta FROM run WHERE kind = 'ingest' ORDER BY id DESC LIMIT 1")
      const m = run!.meta.distributed
      const steps = (run!.meta as unknown as { timings: { step: string; ms: number }[] }).timings
      tasks.push(`| ${arm.slice(1)} | ${m.parts} | ${(m.totalMs / m.parts / 1000).toFixed(1)} | ${Math.round(perFile / (m.totalMs / m.parts / 1000))} | ${(steps.find((x) => x.step === 'store')!.ms / 1000).toFixed(1)} | ${m.attempts} | ${w!.startS.toFixed(1)} |`)
    }
  }
  console.log(`every version's ${total} rows equal the first one-process import's (md5 over all columns, geometry as EWKB)`)
  console.log('| run | median s | features/s | runs s |')
  console.log('|---|---|---|---|')
  for (const [a, v] of Object.entries(times)) console.log(`| ${armName(a)} | ${median(v).toFixed(1)} | ${Math.round(total / median(v))} | ${v.map((x) => x.toFixed(1)).join(', ')} |`)
  console.log('| workers | tasks (files) | mean task s | features/s per task | store step s (moving the staged rows, contacts) | attempts | workers ready s |')
  console.log('|---|---|---|---|---|---|---|')
  for (const t of tasks) console.log(t)
  await one.close()
  await dist.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

// D. GEP
if (partsToRun.has('D')) {
  const rasterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scale-rasters-'))
  // the sample in its own raster store, for this process and the workers alike
  if (!(await loadSampleIfEmpty(db, 1 << 30, () => {}, rasterDir))) throw new Error('part D needs a database without the sample (its rasters go to a fresh raster store)')
  // the tables and population name counties: not units of the grid
  const config = { ...(await readGepConfig(path.join(SAMPLE_DIR, 'gep.yaml')) as Record<string, unknown>), tables: [], population: undefined }
  const one = createRuntime({ ...settings })
  const dist = createRuntime({ ...settings, distributor: distributor(gepUnits) })
  const times: Record<string, number[]> = { one: [], w1: [], w2: [] }
  const tasks: string[] = []
  let reference: string | undefined
  let px = 0
  for (const arm of ['one', 'w1', 'w2', 'w2', 'w1', 'one']) {
    const w = arm === 'one' ? undefined : await workers(arm === 'w1' ? 1 : 2, [], { ECOCENSUS_RASTER_DIR: rasterDir })
    const t = performance.now()
    const r = await (arm === 'one' ? one : dist).run(async () => (await startRun(db, await planGep(db, { units: 'huangshan_grid_5km', config }, rasterDir), { reuse: false })).done)
    const sec = (performance.now() - t) / 1000
    await w?.stop()
    times[arm]!.push(sec)
    const body = (await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [r.id])).map((x) => x.body).join('')
    if (reference && body !== reference) throw new Error(`${arm}: the GEP sums differ from the one-process run's`)
    reference ??= body
    const meta = r.meta as unknown as GepMeta
    px = meta.grid.width * meta.grid.height
    if (arm !== 'one') {
      for (const [pass, m] of Object.entries(meta.distributed!)) tasks.push(`| ${arm.slice(1)} | ${pass} | ${m.parts} | ${(m.totalMs / m.parts / 1000).toFixed(2)} | ${(m.slowestMs / 1000).toFixed(2)} | ${Math.round(m.bytes / m.parts / 1024)} | ${m.attempts} |`)
    } else console.log(`one process, stages ms: ${JSON.stringify(meta.stages)}`)
  }
  console.log(`\nGEP of the sample's 5 km grid, model grid ${px} px; every run's sums equal the first one-process run's (run_result bodies compared)`)
  console.log('| run | median s | runs s |')
  console.log('|---|---|---|')
  for (const [a, v] of Object.entries(times)) console.log(`| ${armName(a)} | ${median(v).toFixed(1)} | ${v.map((x) => x.toFixed(1)).join(', ')} |`)
  console.log('| workers | pass | tasks | mean task s (a worker\'s first includes its terrain) | slowest s | result KiB per task | attempts |')
  console.log('|---|---|---|---|---|---|---|')
  for (const t of tasks) console.log(t)
  await one.close()
  await dist.close()
}
await db.close()
