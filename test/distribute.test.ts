// Runs distributed over worker processes (server/distribute/, docs/scale.md), on PostGIS:
// coverage, change and zonal computed by three `ecocensus worker` processes give the same
// rows, to the last bit, as one process; a worker killed with SIGKILL mid-task has its task
// taken up by another and counted once; workers join mid-run; a part that keeps failing
// fails the run with its error; cancel reaches the workers; progress aggregates. On the
// embedded database distribution is refused with a clear message.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { TaskQueue } from '../server/distribute/queue.ts'
import { BadInput, Cancelled, TaskFailed } from '../server/errors.ts'
import { createRuntime, type Runtime } from '../server/runtime.ts'
import { startRun } from '../server/runs/execute.ts'
import { requestCancel, getRun } from '../server/runs/run-store.ts'
import { loadSampleIfEmpty } from '../server/sample/load.ts'
import { ROOT } from '../server/settings.ts'
import { planCoverage, readCoverage, type CoverageOptions } from '../server/stats/coverage.ts'
import { planChange, readChange } from '../server/stats/change.ts'
import { planZonal, readZonal } from '../server/raster/zonal.ts'
import { planGep, readGep, type GepMeta } from '../server/gep/gep.ts'
import { readConfig as readGepConfig } from '../server/gep/config.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { ingestLayer, type IngestLayerOptions } from '../server/ingest/ingest-layer.ts'
import { prepareLayer } from '../server/stats/cells/read/contacts.ts'
import { writeSurveyShapefile } from '../scripts/bench/survey-shapefile.ts'
import type { RunPlan } from '../server/runs/execute.ts'
import { throwawayDatabase } from './helpers/backends.ts'
import { runCli } from './helpers/cli.ts'
import { tmpDir } from './helpers/fixtures.ts'

const URL_ = process.env.DATABASE_URL
const GRID = 'huangshan_grid_5km'
/** the sample's ~1 300 features cut into 9 tiles: 9 tasks */
const TILE_FEATURES = 150
const COVERAGE: CoverageOptions = { union: true, overlaps: 'all', categories: true }

describe.skipIf(!URL_)('distributed runs on PostGIS', () => {
  const rasterDir = tmpDir()
  let tmp: { url: string; drop: () => Promise<void> }
  let db: Db
  let queue: TaskQueue
  let local: Runtime
  let distributed: Runtime
  const workers: { child: ChildProcess; log: () => string }[] = []

  /** An `ecocensus worker` process on the test database; resolves once it takes tasks. */
  const startWorker = async (env: Record<string, string> = {}, args: string[] = []) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), 'worker', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: tmp.url, ECOCENSUS_RASTER_DIR: rasterDir, ECOCENSUS_QUEUE_MAINTENANCE_S: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr!.on('data', (c) => (err += c))
    const w = { child, log: () => err }
    workers.push(w)
    for (let i = 0; i < 600 && !err.includes('taking tasks'); i++) {
      if (child.exitCode !== null) throw new Error(`worker exited: ${err}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    if (!err.includes('taking tasks')) throw new Error(`worker did not start: ${err}`)
    return w
  }
  const stopWorkers = async () => {
    const all = workers.splice(0)
    for (const w of all) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM')
    await Promise.all(all.map((w) => (w.child.exitCode !== null || w.child.signalCode !== null ? undefined : new Promise((r) => w.child.once('exit', r)))))
  }
  const inRuntime = <T>(rt: Runtime, fn: () => Promise<T>) => rt.run(fn)
  /** runs a plan to its end, fresh */
  const compute = (rt: Runtime, plan: () => Promise<RunPlan>) => inRuntime(rt, async () => (await startRun(db, await plan(), { reuse: false })).done)

  beforeAll(async () => {
    tmp = await throwawayDatabase(URL_!)
    db = await openDb({ url: tmp.url, dataDir: '' })
    await loadSampleIfEmpty(db, 1 << 30, () => {}, rasterDir)
    // the queue's expiry long: a killed worker's task is handed on by its missing heartbeat (2 s)
    queue = await TaskQueue.open({ url: tmp.url, expireSeconds: 600, retries: 2, maintenanceSeconds: 1 })
    local = createRuntime({ cells: { tileFeatures: TILE_FEATURES }, scanThreads: 1 })
    distributed = createRuntime({ cells: { tileFeatures: TILE_FEATURES }, scanThreads: 1, distributor: { queue, pollMs: 100, unitsPerTask: 100, heartbeatSeconds: 2, retries: 2 } })
  }, 240_000)

  afterAll(async () => {
    await stopWorkers()
    await local?.close()
    await distributed?.close()
    await db?.close()
    await tmp?.drop()
  }, 120_000)

  it('coverage, change and zonal over three workers equal one process to the last bit', async () => {
    // each task takes at least 200 ms, so that all three workers get some
    for (let i = 0; i < 3; i++) await startWorker({}, ['--min-task-ms', '200'])
    const one = await compute(local, () => planCoverage(db, GRID, COVERAGE))
    const many = await compute(distributed, () => planCoverage(db, GRID, COVERAGE))
    const d = (many.meta as { measured: { distributed?: { parts: number; workers: Record<string, number>; attempts: number } } }).measured.distributed
    expect(d?.parts).toBe(9)
    expect(Object.keys(d!.workers).length).toBeGreaterThanOrEqual(2)
    expect(Object.values(d!.workers).reduce((s, n) => s + n, 0)).toBe(9)
    expect((one.meta as { measured: { distributed?: unknown } }).measured.distributed).toBeUndefined()
    const a = await readCoverage(db, one)
    const b = await readCoverage(db, many)
    expect(a.rows.length).toBeGreaterThan(3000)
    expect(b.rows).toEqual(a.rows)

    const ch = () => planChange(db, GRID, 'forest', '2020', '2023', { categories: true })
    const c1 = await readChange(db, await compute(local, ch))
    const c2run = await compute(distributed, ch)
    expect((c2run.meta as { measured: { distributed?: { parts: number } } }).measured.distributed?.parts).toBeGreaterThan(1)
    const c2 = await readChange(db, c2run)
    expect(c2.rows.length).toBeGreaterThan(400)
    expect(c2.rows).toEqual(c1.rows)
    expect(c2.transitions).toEqual(c1.transitions)

    const z = () => planZonal(db, GRID, 'landcover@2023', {}, rasterDir)
    const z1 = await readZonal(db, await compute(local, z))
    const z2run = await compute(distributed, z)
    expect((z2run.meta as { distributed?: { parts: number } }).distributed?.parts).toBe(5)
    const z2 = await readZonal(db, z2run)
    expect(z2.rows.length).toBeGreaterThan(461)
    expect(z2.rows).toEqual(z1.rows)
    // the run's work rows are gone with it
    expect(await db.query('SELECT 1 FROM run_task')).toHaveLength(0)
  }, 300_000)

  it("GEP's two passes over three workers equal one process to the last bit; each worker makes the terrain itself", async () => {
    // the sample account (climate, NPP, soil retention with LS from the DEM) of the 7
    // counties, two to a task, compared with a year before (two years: four scans)
    const config = await readGepConfig(path.join(SAMPLE_DIR, 'gep.yaml'))
    const g = () => planGep(db, { units: 'huangshan_counties', config, compare: 2020 }, rasterDir)
    const one = await compute(local, g)
    const byTwo = createRuntime({ scanThreads: 1, distributor: { queue: await TaskQueue.open({ url: tmp.url, expireSeconds: 600, retries: 2, maintenanceSeconds: 1 }), pollMs: 100, unitsPerTask: 2, heartbeatSeconds: 2, retries: 2 } })
    const many = await compute(byTwo, g).finally(() => byTwo.close())
    const meta = many.meta as unknown as GepMeta
    expect(Object.keys(meta.distributed ?? {}).sort()).toEqual(['climate_2020', 'climate_2023', 'soil_2020', 'soil_2023'])
    for (const d of Object.values(meta.distributed!)) expect(d.parts).toBe(4)
    expect(new Set(Object.values(meta.distributed!).flatMap((d) => Object.keys(d.workers))).size).toBeGreaterThanOrEqual(2)
    expect((one.meta as unknown as GepMeta).distributed).toBeUndefined()
    // the stored sums, byte for byte, and the account read from them
    const body = async (id: number) => (await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [id])).map((r) => r.body)
    const [b1, b2] = [await body(one.id), await body(many.id)]
    expect(b1.join('').length).toBeGreaterThan(10_000)
    expect(b2).toEqual(b1)
    const [a1, a2] = [await readGep(db, one), await readGep(db, many)]
    expect(a1.rows.some((r) => /土壤保持|soil_retention/.test(r.item) && (r.quantity ?? 0) > 0)).toBe(true)
    expect(a2.rows).toEqual(a1.rows)
  }, 300_000)

  it('a worker killed with SIGKILL mid-task: its task is taken up by workers that join later, counted once; progress aggregates', async () => {
    await stopWorkers()
    // a slow worker alone: it holds its task 20 s, and is killed holding it
    const slow = await startWorker({}, ['--min-task-ms', '20000'])
    const started = await inRuntime(distributed, async () => startRun(db, await planCoverage(db, GRID, COVERAGE), { reuse: false }))
    const pid = slow.child.pid!
    let held: { part: number } | undefined
    for (let i = 0; i < 300 && !held; i++) {
      ;[held] = await db.query<{ part: number }>("SELECT part FROM run_task WHERE run_id = $1 AND status = 'running' AND worker LIKE $2", [started.id, `%|${pid}`])
      if (!held) await new Promise((r) => setTimeout(r, 100))
    }
    expect(held).toBeDefined()
    slow.child.kill('SIGKILL')
    // two workers join the run after the kill
    await startWorker()
    await startWorker()
    const seen: number[] = []
    const watch = setInterval(() => { getRun(db, started.id).then((r) => seen.push(r.progress), () => {}) }, 100)
    const run = await started.done.finally(() => clearInterval(watch))
    expect(run.status).toBe('done')
    const d = (run.meta as { measured: { distributed: { parts: number; attempts: number; workers: Record<string, number> } } }).measured.distributed
    expect(d.parts).toBe(9)
    // the killed worker's part had a second attempt, on another worker
    expect(d.attempts).toBeGreaterThanOrEqual(10)
    expect(Object.keys(d.workers).some((w) => w.endsWith(`|${pid}`))).toBe(false)
    expect(seen.some((p) => p > 0 && p < 1)).toBe(true)
    const one = await readCoverage(db, await compute(local, () => planCoverage(db, GRID, COVERAGE)))
    expect((await readCoverage(db, run)).rows).toEqual(one.rows)
  }, 300_000)

  it('cancel reaches the workers: queued parts are never handed out, parts in hand stop', async () => {
    await stopWorkers()
    const w = await startWorker({}, ['--min-task-ms', '30000'])
    const started = await inRuntime(distributed, async () => startRun(db, await planCoverage(db, GRID, COVERAGE), { reuse: false }))
    for (let i = 0; i < 300; i++) {
      const [r] = await db.query("SELECT 1 FROM run_task WHERE run_id = $1 AND status = 'running'", [started.id])
      if (r) break
      await new Promise((res) => setTimeout(res, 100))
    }
    const t0 = performance.now()
    await requestCancel(db, started.id)
    await expect(started.done).rejects.toBeInstanceOf(Cancelled)
    expect(performance.now() - t0).toBeLessThan(5000)
    expect((await getRun(db, started.id)).status).toBe('cancelled')
    // nothing of the run is left for a worker to take
    const open = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM ecocensus_queue.job WHERE (data->>'run')::int = $1 AND state IN ('created', 'retry', 'active')", [started.id])
    expect(open[0]!.n).toBe(0)
    // the worker let go of its part at its next look at the run (every half second), long before its 30 s
    for (let i = 0; i < 50 && !w.log().includes('let go'); i++) await new Promise((r) => setTimeout(r, 100))
    expect(w.log()).toMatch(new RegExp(`run ${started.id} part \\d+/9: let go`))
    expect(performance.now() - t0).toBeLessThan(8000)
    expect(await db.query('SELECT 1 FROM run_task WHERE run_id = $1', [started.id])).toHaveLength(0)
  }, 120_000)

  it('a part that fails on every attempt fails the run with its error', async () => {
    await stopWorkers()
    // a worker whose raster store lacks the files the coordinator's has
    await startWorker({ ECOCENSUS_RASTER_DIR: tmpDir() })
    const err = await compute(distributed, () => planZonal(db, GRID, 'landcover@2023', {}, rasterDir)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TaskFailed)
    expect(String((err as Error).message)).toMatch(/part \d+ of 5 failed after 3 attempt\(s\) on the workers: .*(no such file|ENOENT|not found)/i)
    const [run] = await db.query<{ status: string; error: string }>("SELECT status, error FROM run WHERE kind = 'zonal' ORDER BY id DESC LIMIT 1")
    expect(run!.status).toBe('failed')
    expect(run!.error).toMatch(/failed after 3 attempt/)
  }, 180_000)

  // last: the layers they add would be read by the coverage runs above
  /** a survey-like tiling in three files (rows 0–29, 30–59, 60–89 of 70 patches) */
  const surveyParts = () => {
    const dir = tmpDir()
    return [0, 1, 2].map((k) => writeSurveyShapefile(path.join(dir, `part_${k}`), 2100, { cols: 70, firstRow: 30 * k }).shp)
  }
  const ingest = (rt: Runtime, file: string[], layer: string) => inRuntime(rt, () =>
    ingestLayer(db, { file, layer, kind: 'other', vintage: '2023', categoryField: 'DLBM', maxBytes: 1 << 30, prepare: prepareLayer } satisfies IngestLayerOptions))
  /** every stored column of a layer's features but the id, in src_index order, geometry as bytes */
  const featuresOf = (layerId: number) => db.query(
    'SELECT src_index, attributes::text AS a, category, encode(ST_AsEWKB(geom), \'hex\') AS g, area_m2, zone, box_x0, box_y0, box_x1, box_y1 FROM feature WHERE layer_id = $1 ORDER BY src_index', [layerId])

  it('an import of three files staged by three workers stores the rows of a one-process import, to the last bit', async () => {
    await stopWorkers()
    for (let i = 0; i < 3; i++) await startWorker({}, ['--min-task-ms', '200'])
    const files = surveyParts()
    const one = await ingest(local, files, 'survey_one')
    const many = await ingest(distributed, files, 'survey_many')
    expect(one.loaded).toBe(6300)
    const [run] = await db.query<{ id: number; status: string; meta: { distributed: { parts: number; workers: Record<string, number> } } }>("SELECT id, status, meta FROM run WHERE kind = 'ingest' ORDER BY id DESC LIMIT 1")
    expect(run!.status).toBe('done')
    expect(run!.meta.distributed.parts).toBe(3)
    expect(Object.keys(run!.meta.distributed.workers).length).toBeGreaterThanOrEqual(2)
    const strip = (r: typeof one) => ({ ...r, layerId: 0, layer: '', areaM2: Math.round(r.areaM2) })
    expect(strip(many)).toEqual(strip(one))
    expect(many.parts!.map((p) => [p.read, p.first_index])).toEqual([[2100, 0], [2100, 2100], [2100, 4200]])
    const [a, b] = [await featuresOf(one.layerId), await featuresOf(many.layerId)]
    expect(a).toHaveLength(6300)
    expect(b).toEqual(a)
    expect(await db.query('SELECT 1 FROM ingest_stage')).toHaveLength(0)
    // a damaged record in the last file, found by the worker reading it: the import's error (400), nothing stored
    const broken = files[2]!.replace(/part_2\.shp$/, 'part_broken.shp')
    for (const ext of ['.shp', '.shx', '.dbf', '.prj', '.cpg']) if (fs.existsSync(files[2]!.replace(/\.shp$/, ext))) fs.copyFileSync(files[2]!.replace(/\.shp$/, ext), broken.replace(/\.shp$/, ext))
    // the shape type of record 1000 (29-vertex polygons: 8 + 44 + 4 + 29·16 bytes a record)
    const fd = fs.openSync(broken, 'r+')
    fs.writeSync(fd, Buffer.from([99, 0, 0, 0]), 0, 4, 100 + 999 * 520 + 8)
    fs.closeSync(fd)
    const err = await ingest(distributed, [files[0]!, broken], 'survey_broken').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BadInput)
    expect((err as Error).message).toMatch(/part_broken\.shp: record 1000 cannot be read .*damaged/)
    expect(await db.query("SELECT 1 FROM layer WHERE name = 'survey_broken'")).toHaveLength(0)
    expect(await db.query('SELECT 1 FROM ingest_stage')).toHaveLength(0)
    const [failed] = await db.query<{ status: string }>("SELECT status FROM run WHERE kind = 'ingest' ORDER BY id DESC LIMIT 1")
    expect(failed!.status).toBe('failed')
  }, 300_000)

  it('a worker killed after staging its file: the part staged again by another is stored once', async () => {
    await stopWorkers()
    // alone, it stages a file, then holds the part 20 s before it would report it done
    const slow = await startWorker({}, ['--min-task-ms', '20000'])
    const files = surveyParts()
    const importing = ingest(distributed, files, 'survey_killed')
    importing.catch(() => {})
    let staged = 0
    for (let i = 0; i < 600 && staged === 0; i++) {
      ;[{ n: staged }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM ingest_stage s JOIN run r ON r.id = s.run_id WHERE r.kind = 'ingest' AND r.status = 'running'") as [{ n: number }]
      if (!staged) await new Promise((r) => setTimeout(r, 100))
    }
    expect(staged).toBe(2100)
    slow.child.kill('SIGKILL')
    await startWorker()
    await startWorker()
    const r = await importing
    expect(r.loaded).toBe(6300)
    const [run] = await db.query<{ meta: { distributed: { attempts: number; workers: Record<string, number> } } }>("SELECT meta FROM run WHERE kind = 'ingest' ORDER BY id DESC LIMIT 1")
    expect(run!.meta.distributed.attempts).toBeGreaterThanOrEqual(4)
    expect(Object.keys(run!.meta.distributed.workers).some((w) => w.endsWith(`|${slow.child.pid}`))).toBe(false)
    const [one] = await db.query<{ id: number }>("SELECT id FROM layer WHERE name = 'survey_one'")
    expect(await featuresOf(r.layerId)).toEqual(await featuresOf(one!.id))
    expect(await db.query('SELECT 1 FROM ingest_stage')).toHaveLength(0)
  }, 300_000)
})

describe('distribution on the embedded database', () => {
  it('is refused with a clear message', () => {
    const dir = tmpDir()
    const env: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_DATA_DIR: path.join(dir, 'db'), ECOCENSUS_DISTRIBUTE: 'queue', ECOCENSUS_SAMPLE: '0' }
    delete env.DATABASE_URL
    const r = runCli(['units', 'list'], env)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/ECOCENSUS_DISTRIBUTE=queue needs a PostgreSQL server/)
    const w = runCli(['worker'], env)
    expect(w.code).toBe(2)
  }, 240_000)
})
