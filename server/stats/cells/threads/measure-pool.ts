// Layers measured on other cores. A run of cell coverage over one tile keeps this thread
// busy with every layer in turn (read, union boundary, measure: layer-measure.ts) while
// the database, on PostgreSQL, does little; a layer that no other set needs can be
// measured anywhere. Measure workers are threads that each open their own connections to
// the same PostgreSQL database, read and measure the layers given them with the same code
// and send back only each set's sums per cell (typed arrays, moved). A worker keeps its
// own feature cache (feature-cache.ts), so a layer it measured goes to it again while it
// holds it; clearing this thread's cache clears theirs. Numbers are the same to the last
// bit whichever thread measures (same code, same inputs). Workers are started on first
// use (or by MeasurePool.start), used once they have loaded, and do not keep the
// process alive; a worker that stops or fails leaves its layers to this thread.
import { Worker } from 'node:worker_threads'
import type { Queryable } from '../../../db/db.ts'
import { DEFAULT_MEASURE_THREADS } from '../../../settings.ts'
import type { FeatureCache } from '../feature-cache.ts'
import type { Laea } from '../../../geom/laea.ts'
import { measureLayerAlone, type LayerSums, type PreparedRead } from '../layer-measure.ts'
import { cellSet, type MeasureCell } from '../measure.ts'
import { slot } from '../../../scoped.ts'
import { siblingModule } from '../../../module-url.ts'

export type LayerTask = PreparedRead & { byCategory: boolean; counting: boolean }

/** A job for a worker; `cells` only when the worker has not been sent these cells yet. */
export interface MeasureJob {
  job: number
  task: LayerTask
  server: { url: string; statementTimeoutMs: number }
  lon0: number
  lat0: number
  cells?: { tag: number; list: MeasureCell[] }
}

export interface JobDone {
  job: number
  sums?: LayerSums
  /** split reads sampled whole in the worker since its last answer */
  sampledWhole?: number
  /** why the job failed (this thread then measures the layer itself) */
  error?: string
}

/**
 * Below these a run, or a layer, stays in this thread: a worker's job costs ~10–20 ms of its
 * own (its queries, its connections' round trips, the message), more than it saves on small
 * runs. A run's work: its layers' features plus twice its cells. Measured on 2 cores
 * (scripts/bench/RESULTS.md, 2026-12-04): county 1× (6.8×10³ at 100 m) and 4× at 500 m
 * (1.1×10⁴) ran slower with a worker, 4× at 100 m (2.7×10⁴) and 16× (4.5×10⁴, 1.1×10⁵) faster.
 */
export const MIN_RUN_WORK = 20_000
export const MIN_LAYER_FEATURES = 1_000

export interface MeasurePoolOptions {
  /** measure workers (0: none) */
  threads?: number
  /** tests set the thresholds 0 to use workers on small inputs */
  minRunWork?: number
  minLayerFeatures?: number
  /** called with the worker each time a job is posted to one (tests stop it then) */
  onJobPosted?: (w: Worker) => void
  /** counts split reads a worker sampled whole (tests check them) */
  counts?: { sampledWhole: number }
  /** the runtime's feature cache: clearing it clears the workers' too */
  cache?: FeatureCache
}

class Slot {
  ready = false
  gone = false
  /** the cells last sent (their tag) */
  cellsTag = -1
  /** weight of the layers given in the current run */
  load = 0
  private jobs = new Map<number, { resolve: (s: LayerSums) => void; reject: (e: Error) => void }>()

  constructor(readonly w: Worker, private readonly pool: MeasurePool) {
    w.on('message', (m: { ready?: boolean } & Partial<JobDone>) => {
      if (m.ready) { this.ready = true; return }
      const j = this.jobs.get(m.job!)
      if (!j) return
      this.jobs.delete(m.job!)
      if (m.sampledWhole && pool.o.counts) pool.o.counts.sampledWhole += m.sampledWhole
      if (m.sums) {
        pool.measuredInWorkers++
        j.resolve(m.sums)
      } else j.reject(new Error(`measure worker: ${m.error}`))
    })
    const lost = (err: Error) => {
      this.gone = true
      pool.lost(this)
      for (const j of this.jobs.values()) j.reject(err)
      this.jobs.clear()
    }
    w.on('error', lost)
    w.on('exit', (code) => lost(new Error(`measure worker stopped (exit code ${code})`)))
  }

  /** The layer measured in this worker; if the worker stops or fails first, in this thread. */
  async measure(db: Queryable, task: LayerTask, cells: MeasureCell[], pr: Laea, server: MeasureJob['server'], signal?: AbortSignal): Promise<LayerSums> {
    signal?.throwIfAborted()
    const job = this.pool.nextJob()
    const msg: MeasureJob = { job, task, server, lon0: pr.lon0, lat0: pr.lat0 }
    if (this.cellsTag !== task.cellsTag) msg.cells = { tag: task.cellsTag, list: cells }
    const done = new Promise<LayerSums>((resolve, reject) => this.jobs.set(job, { resolve, reject }))
    // a worker with a job keeps the process alive until it answers; an idle one does not
    this.w.ref()
    const onAbort = () => this.w.postMessage({ cancel: job })
    signal?.addEventListener('abort', onAbort, { once: true })
    this.w.postMessage(msg)
    this.cellsTag = task.cellsTag
    this.pool.o.onJobPosted?.(this.w)
    try {
      return await done
    } catch {
      signal?.throwIfAborted()
      // the worker stopped, or failed (its connections refused, say): this thread measures the
      // layer itself, so that a failure of the worker alone does not fail the run (one of the
      // layer or its database fails here too, with this thread's reason)
      this.pool.measuredAfterLoss++
      return measureLayerAlone(db, task, cellSet(cells), pr, signal)
    } finally {
      signal?.removeEventListener('abort', onAbort)
      if (!this.jobs.size && !this.gone) this.w.unref()
    }
  }
}

export interface Elsewhere {
  measure(task: LayerTask, cells: MeasureCell[], pr: Laea, signal?: AbortSignal): Promise<LayerSums>
}

/**
 * The measure workers of a runtime (server/runtime.ts); the cell engine finds the pool bound
 * for its run with current(MEASURE_POOL).
 */
export class MeasurePool {
  readonly threads: number
  readonly minRunWork: number
  readonly minLayerFeatures: number
  /** layers measured by workers so far, and by this thread after their worker stopped or failed (tests check both) */
  measuredInWorkers = 0
  measuredAfterLoss = 0
  private jobs = 0
  private readonly slots: Slot[] = []
  /** the worker that measured a layer (its feature-cache key) last, and holds it */
  private readonly homes = new Map<string, Slot>()
  private readonly unsubscribe: () => void

  constructor(readonly o: MeasurePoolOptions = {}) {
    const n = o.threads ?? DEFAULT_MEASURE_THREADS
    if (!(Number.isInteger(n) && n >= 0)) throw new Error(`measure threads ${o.threads}: give a whole number ≥ 0`)
    this.threads = n
    this.minRunWork = o.minRunWork ?? MIN_RUN_WORK
    this.minLayerFeatures = o.minLayerFeatures ?? MIN_LAYER_FEATURES
    this.unsubscribe = n && o.cache ? o.cache.onClear(() => {
      this.homes.clear()
      for (const s of this.slots) s.w.postMessage({ clear: true })
    }) : () => {}
  }

  nextJob(): number {
    return ++this.jobs
  }

  lost(slot: Slot): void {
    const i = this.slots.indexOf(slot)
    if (i >= 0) this.slots.splice(i, 1)
    for (const [id, home] of this.homes) if (home === slot) this.homes.delete(id)
  }

  /** Starts the measure workers (a service does so at start, so that its first runs can use them). */
  start(): void {
    while (this.slots.length < this.threads) {
      const w = new Worker(siblingModule(import.meta.url, 'measure-worker', { thread: true }), { execArgv: [] })
      this.slots.push(new Slot(w, this))
      // after the listeners, which ref the worker's port: an idle worker does not keep the process alive
      w.unref()
    }
  }

  /** Resolves once every measure worker has loaded (tests, benchmarks; a service need not wait). */
  async whenStarted(): Promise<void> {
    this.start()
    while (this.slots.some((s) => !s.ready)) await new Promise((r) => setTimeout(r, 20))
  }

  /** Stops the measure workers (later runs start new ones). */
  async stop(): Promise<void> {
    await Promise.all([...this.slots].map((s) => s.w.terminate()))
  }

  /** Stops the workers and no longer follows the feature cache. */
  async close(): Promise<void> {
    this.unsubscribe()
    await this.stop()
  }

  /**
   * Which of `layers` (prepared, measured alone; `weight`: features) to give to which ready
   * worker, of a run whose layers weigh `total` in all, over `cells` cells. A layer a worker
   * measured before goes to it again (it holds the layer); the others, largest first, each to
   * whichever of this thread and the workers has least. Empty on a database only this thread
   * can reach (PGlite), and for runs under minRunWork.
   */
  elsewhere(db: Queryable, candidates: { id: number; weight: number; key: string }[], total: number, cells: number): Map<number, Elsewhere> {
    const out = new Map<number, Elsewhere>()
    const server = (db as { server?: MeasureJob['server'] }).server
    const layers = candidates.filter((l) => l.weight >= this.minLayerFeatures)
    // (without the runtime's feature cache the cells' tags would not tell cells apart: no workers)
    if (!server || !this.threads || !this.o.cache || !layers.length || total + 2 * cells < this.minRunWork) return out
    this.start()
    const ready = this.slots.slice(0, this.threads).filter((s) => s.ready && !s.gone)
    if (!ready.length) return out
    for (const s of ready) s.load = 0
    // this thread: the layers it must measure, and the run's own work
    let here = total - layers.reduce((s, l) => s + l.weight, 0) + 0.1 * total
    const give = (l: { id: number; key: string }, s: Slot) => {
      this.homes.set(l.key, s)
      out.set(l.id, { measure: (task, cells, pr, signal) => s.measure(db, task, cells, pr, server, signal) })
    }
    const rest = []
    for (const l of layers) {
      const home = this.homes.get(l.key)
      if (home && ready.includes(home)) {
        home.load += l.weight
        give(l, home)
      } else rest.push(l)
    }
    for (const l of rest.sort((a, b) => b.weight - a.weight)) {
      const s = ready.reduce((a, b) => (b.load < a.load ? b : a))
      if (s.load < here) {
        s.load += l.weight
        give(l, s)
      } else {
        here += l.weight
        this.homes.delete(l.key)
      }
    }
    return out
  }
}

/** The measure pool of the work in progress; unbound: none (every layer measured in this thread). */
export const MEASURE_POOL = slot('measure pool', new MeasurePool({ threads: 0 }))
