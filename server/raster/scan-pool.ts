// Zonal jobs on all cores: a big job is cut into parts by unit (north to south, balanced by
// the units' sizes) and each part is scanned by a worker thread that reads only the raster
// rows its units meet. Every unit is computed whole in one thread, with the same bands as a
// single-threaded scan, so the sums are the same to the last bit either way. Small jobs
// stay in the calling thread (starting work in another thread costs more than it saves).
// Workers are started on first use, kept for later jobs, and do not keep the process alive.
import { Worker } from 'node:worker_threads'
import * as errors from '../errors.ts'
import { DEFAULT_SCAN_THREADS } from '../settings.ts'
import { slot } from '../scoped.ts'
import { lonLatToPixels, runJob, type JobResult, type JobUnits, type ZonalGrid, type ZonalJob } from './zonal-job.ts'
import type { ScanOptions } from './zonal-scan.ts'
import { siblingModule } from '../module-url.ts'
import { packUnits, unpackSums } from './thread-codec.ts'

export interface ScanPoolOptions {
  /** worker threads for big jobs; 1 = scan in the calling thread only */
  threads: number
  /** jobs over rasters of fewer pixels than this stay in the calling thread */
  minPixels: number
}

interface Task { job: ZonalJob; onProgress: (f: number) => void; resolve: (r: JobResult) => void; reject: (e: unknown) => void; worker?: Worker; settled?: boolean }

/**
 * Scan workers (threads; 1 = scan in the calling thread only) and the raster size below
 * which a job stays in the calling thread (tests set minPixels 0 to force threads). One pool
 * per runtime (server/runtime.ts); zonal runs find it with current(SCAN_POOL).
 */
export class ScanPool {
  readonly options: ScanPoolOptions
  private readonly idle: Worker[] = []
  /** workers told to terminate: never handed another part */
  private readonly dying = new WeakSet<Worker>()
  private readonly queue: Task[] = []
  private started = 0

  constructor(o: Partial<ScanPoolOptions> = {}) {
    this.options = { threads: DEFAULT_SCAN_THREADS, minPixels: 1 << 24, ...o }
    if (!(Number.isInteger(this.options.threads) && this.options.threads >= 1)) throw new errors.BadInput(`scan threads ${o.threads}: give a whole number ≥ 1`)
  }

  private spawn(): Worker {
    // the entry registers tsx's loader itself, so it runs the same under `node`, tsx and vitest;
    // workerData must be an object: the web-worker package (loaded by geotiff) destructures it
    // in any thread that is not the main one
    const w = new Worker(siblingModule(import.meta.url, 'scan-worker', { thread: true }), { execArgv: [], workerData: {} })
    w.unref()
    this.started++
    return w
  }

  private dispatch(): void {
    const { idle, dying, queue } = this
    while (queue.length && (idle.length || this.started < this.options.threads)) {
      const task = queue.shift()!
      const w = idle.pop() ?? this.spawn()
      task.worker = w
      const done = () => {
        task.settled = true
        w.off('message', onMessage)
        w.off('error', onError)
        w.off('exit', onExit)
      }
      const onMessage = (m: { progress?: number; result?: JobResult; packedSums?: Float64Array; error?: { name: string; message: string } }) => {
        if (m.progress !== undefined) return task.onProgress(m.progress)
        done()
        // a worker told to stop may still deliver what it had finished: it leaves the pool anyway
        if (dying.has(w)) this.started--
        else idle.push(w)
        if (m.result) {
          try {
            task.resolve(m.packedSums ? { ...m.result, sums: unpackSums(task.job.accumulator, m.packedSums, m.result.inside.length) } : m.result)
          } catch (err) {
            task.reject(err)
          }
        } else task.reject(revive(m.error!))
        this.dispatch()
      }
      const onError = (err: Error) => {
        done()
        this.started--
        task.reject(err)
        this.dispatch()
      }
      const onExit = (code: number) => onError(new Error(`scan worker stopped (exit code ${code})`))
      w.on('message', onMessage)
      w.on('error', onError)
      w.on('exit', onExit)
      // the units as one array (thread-codec.ts): cloned at memory speed
      const packed = packUnits(task.job.units)
      w.postMessage({ ...task.job, units: packed }, [packed.shape.buffer, packed.coords.buffer])
    }
  }

  /** worker threads started and not stopped */
  get workers(): number {
    return this.started
  }

  /**
   * Starts now the workers a job over a raster of `pixels` pixels will be given, so that
   * their start (~0.3 s: a thread, its modules) overlaps what the caller does before the
   * job (reading its units). Idle workers do not keep the process alive.
   */
  warm(pixels: number): void {
    if (this.options.threads < 2 || pixels < this.options.minPixels) return
    while (this.started < this.options.threads) this.idle.push(this.spawn())
  }

  private inWorker(job: ZonalJob, onProgress: (f: number) => void): { result: Promise<JobResult>; stop: () => void } {
    let task!: Task
    const result = new Promise<JobResult>((resolve, reject) => {
      task = { job, onProgress, resolve, reject }
      this.queue.push(task)
      this.dispatch()
    })
    const stop = () => {
      const q = this.queue.indexOf(task)
      if (q >= 0) this.queue.splice(q, 1)
      // a worker busy with a cancelled part is stopped, not waited for (once the part is done,
      // its worker may be busy with another job's part: that one is left alone)
      if (task.worker && !task.settled && !this.dying.has(task.worker)) {
        this.dying.add(task.worker)
        void task.worker.terminate()
      }
    }
    return { result, stop }
  }

  /**
   * Runs a zonal job: in worker threads when it is big enough and threads are allowed, else
   * here. Progress is the mean of the parts'; a progress callback that throws (cancelled,
   * out of time) stops every part.
   */
  async run(job: ZonalJob, o: ScanOptions = {}): Promise<JobResult> {
    const pixels = job.grid.width * job.grid.height
    const parts = Math.min(this.options.threads, Math.floor(job.units.ids.length / 2))
    if (parts < 2 || pixels < this.options.minPixels) return runJob(job, o)
    const groups = splitUnits(job.units, parts, job.grid)
    const fractions = new Array<number>(groups.length).fill(0)
    let failed: unknown
    let reporting = Promise.resolve()
    const runs = groups.map((units, i) => this.inWorker({ ...job, units }, (f) => {
      fractions[i] = f
      const mean = fractions.reduce((s, x) => s + x, 0) / fractions.length
      reporting = reporting.then(() => o.progress?.(mean)).catch((err) => {
        if (failed === undefined) failed = err
        for (const r of runs) r.stop()
      })
    }))
    if (o.signal) {
      if (o.signal.aborted) for (const r of runs) r.stop()
      o.signal.addEventListener('abort', () => { for (const r of runs) r.stop() }, { once: true })
    }
    let results: JobResult[]
    try {
      results = await Promise.all(runs.map((r) => r.result))
    } catch (err) {
      for (const r of runs) r.stop()
      await reporting
      throw failed ?? o.signal?.reason ?? err
    }
    await reporting
    if (failed !== undefined) throw failed
    return {
      inside: results.flatMap((r) => r.inside),
      sums: results.flatMap((r) => r.sums),
      outside: results.flatMap((r) => r.outside),
      pixels: results.reduce((s, r) => s + r.pixels, 0),
      threads: results.length,
    }
  }

  /** Stops the workers (tests, shutdown); later jobs start new ones. */
  async close(): Promise<void> {
    const all = this.idle.splice(0)
    this.started -= all.length
    await Promise.all(all.map((w) => w.terminate()))
  }
}

/** The scan pool of the work in progress; unbound: scan in the calling thread. */
export const SCAN_POOL = slot('scan pool', new ScanPool({ threads: 1 }))

/** The app's error classes survive the thread boundary (a broken block is still a 400). */
function revive(e: { name: string; message: string }): Error {
  const Cls = (errors as unknown as Record<string, new (m: string) => Error>)[e.name]
  return Cls && e.name !== 'AppError' ? new Cls(e.message) : Object.assign(new Error(e.message), { name: e.name })
}

/**
 * Units cut into `parts` groups of consecutive units by the raster row of their box centre
 * (so each part reads a band of rows, and neighbouring parts share about one unit's height),
 * balanced by box area.
 */
export function splitUnits(units: JobUnits, parts: number, grid: ZonalGrid): JobUnits[] {
  const n = units.ids.length
  const b = units.boxes
  const centres = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    centres[2 * i] = (b[4 * i]! + b[4 * i + 2]!) / 2
    centres[2 * i + 1] = (b[4 * i + 1]! + b[4 * i + 3]!) / 2
  }
  const rows = centreRows(centres, grid)
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => rows[x]! - rows[y]! || x - y)
  const size = (i: number) => (b[4 * i + 2]! - b[4 * i]!) * (b[4 * i + 3]! - b[4 * i + 1]!) + 1e-12
  const total = order.reduce((s, i) => s + size(i), 0)
  const out: JobUnits[] = []
  let k = 0
  let sum = 0
  for (let p = 0; p < parts && k < n; p++) {
    const take: number[] = []
    const goal = (total * (p + 1)) / parts
    // at least one unit per part, and one left for each part still to come
    for (; k < n - (parts - 1 - p) && (take.length === 0 || p === parts - 1 || sum < goal); k++) {
      take.push(order[k]!)
      sum += size(order[k]!)
    }
    const boxes = new Float64Array(4 * take.length)
    take.forEach((i, j) => boxes.set(b.subarray(4 * i, 4 * i + 4), 4 * j))
    out.push({ ids: take.map((i) => units.ids[i]!), polygons: take.map((i) => units.polygons[i]!), boxes })
  }
  return out
}

/** Raster rows of lon/lat points (NaN sorts last: such units end up in the last part). */
function centreRows(ll: Float64Array, g: ZonalGrid): Float64Array {
  const px = new Float64Array(ll.length)
  lonLatToPixels(g)(ll, px)
  const rows = new Float64Array(ll.length / 2)
  for (let i = 0; i < rows.length; i++) rows[i] = Number.isFinite(px[2 * i + 1]) ? px[2 * i + 1]! : Infinity
  return rows
}

