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
//   DATABASE_URL=postgres://… node --import tsx scripts/bench/scale-bench.ts
// Not in `npm run bench` (it starts up to 16 worker processes; ~5 minutes).
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

const url = process.env.DATABASE_URL
if (!url) {
  console.log('scale-bench: needs DATABASE_URL (a PostGIS database it may load data into); skipped')
  process.exit(0)
}
const scale = Number(process.env.BENCH_SCALE_COUNTY ?? 64)
const tileFeatures = Number(process.env.BENCH_SCALE_TILE ?? 10_000)
const taskMs = Number(process.env.BENCH_SCALE_TASK_MS ?? 1000)
const wantTasks = Number(process.env.BENCH_SCALE_TASKS ?? 64)

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

// B. the queue alone
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
await one.close()
await dist.close()
await qrt.close()
await db.close()
