// `ecocensus worker`: takes tasks of distributed runs from the queue (queue.ts), computes
// each (tasks.ts) and writes its result into the run's run_task row — once: a part already
// done (a copy of a task whose first worker was presumed dead but finished) writes nothing.
// While it computes it touches the part's row every half second (its heartbeat) and stops
// when the run was cancelled, failed or finished without it, or the part went to another
// worker.
import os from 'node:os'
import { serialize } from 'node:v8'
import type { Db } from '../db/db.ts'
import { Cancelled } from '../errors.ts'
import type { StepContext } from '../runs/execute.ts'
import type { QueuedJob, TaskQueue } from '../distribute/queue.ts'
import { TASKS, type TaskHere } from './tasks.ts'

export interface WorkerOptions {
  /** tasks computed at once */
  concurrency: number
  /** every task takes at least this long (measuring the queue's own throughput: docs/scale.md) */
  minTaskMs?: number
  /** this host's raster store (the coordinator's paths are read relative to it) */
  rasterDir: string
  log?: (line: string) => void
}

export const WORKER_NAME = `${os.hostname()}|${process.pid}`
const LOOK_MS = 500
const KEPT_RUNS = 2

/** Starts taking tasks; answers a function that stops taking them and waits for those in hand. */
export async function startWorker(db: Db, queue: TaskQueue, o: WorkerOptions): Promise<() => Promise<void>> {
  // what tasks keep of a run for its next task here (a reading plan, units): the last few runs'
  const memos = new Map<number, Map<string, unknown>>()
  const memoOf = (run: number) => {
    let m = memos.get(run)
    if (!m) {
      memos.set(run, (m = new Map()))
      for (const old of memos.keys()) if (memos.size > KEPT_RUNS) memos.delete(old)
    }
    return m
  }
  return queue.work(o.concurrency, (job) => computeTask(db, job, { memo: memoOf(job.data.run), rasterDir: o.rasterDir, db }, o))
}

async function runState(db: Db, id: number): Promise<'go' | 'stop'> {
  const [r] = await db.query<{ status: string; cancel_requested: boolean }>('SELECT status, cancel_requested FROM run WHERE id = $1', [id])
  return r && r.status === 'running' && !r.cancel_requested ? 'go' : 'stop'
}

/**
 * The heartbeat of a part in hand: its row touched (the coordinator hands a part whose row
 * stays untouched to another worker, distribute.ts); 'stop' when the run is cancelled or
 * over, or the part is no longer this worker's (done, or handed to another meanwhile).
 */
async function beat(db: Db, run: number, part: number): Promise<'go' | 'stop'> {
  const [r] = await db.query<{ go: boolean }>(
    `UPDATE run_task t SET updated_at = now() WHERE run_id = $1 AND part = $2 AND status = 'running' AND worker = $3
      RETURNING (SELECT r.status = 'running' AND NOT r.cancel_requested FROM run r WHERE r.id = t.run_id) AS go`, [run, part, WORKER_NAME])
  return r?.go ? 'go' : 'stop'
}

async function computeTask(db: Db, job: QueuedJob, here: TaskHere, o: WorkerOptions): Promise<void> {
  const { run, part, parts, kind, spec } = job.data
  const task = TASKS[kind]
  if (!task) throw new Error(`task kind '${kind}' is not known to this worker (${WORKER_NAME}): run the same ecocensus version everywhere`)
  if ((await runState(db, run)) === 'stop') return
  const taken = await db.query<{ attempts: number }>(
    `UPDATE run_task SET status = 'running', worker = $3, attempts = attempts + 1, progress = 0, updated_at = now()
      WHERE run_id = $1 AND part = $2 AND status <> 'done' RETURNING attempts`, [run, part, WORKER_NAME])
  if (!taken.length) return // done already, or the run's work is gone
  const started = performance.now()
  o.log?.(`run ${run} part ${part + 1}/${parts} (${kind}), attempt ${taken[0]!.attempts}`)
  const controller = new AbortController()
  const look = setInterval(() => {
    beat(db, run, part).then((s) => { if (s === 'stop') controller.abort(new Cancelled(`run ${run} stopped, or its part ${part + 1} is no longer this worker's`)) }, () => {})
  }, LOOK_MS)
  let lastReport = 0
  const ctx: StepContext = {
    db,
    runId: run,
    signal: controller.signal,
    progress: async (f) => {
      if (controller.signal.aborted) throw controller.signal.reason
      const now = performance.now()
      if (now - lastReport < LOOK_MS) return
      lastReport = now
      await db.query("UPDATE run_task SET progress = $3, updated_at = now() WHERE run_id = $1 AND part = $2 AND status = 'running'", [run, part, Math.min(1, Math.max(0, f))])
    },
  }
  try {
    const result = await task(ctx, spec, part, parts, here)
    const wait = (o.minTaskMs ?? 0) - (performance.now() - started)
    if (wait > 0) await sleep(wait, controller.signal)
    await db.query(
      `UPDATE run_task SET status = 'done', progress = 1, body = $3, ms = $4, worker = $5, error = NULL, updated_at = now()
        WHERE run_id = $1 AND part = $2 AND status <> 'done'`,
      [run, part, serialize(result), performance.now() - started, WORKER_NAME])
  } catch (err) {
    if (controller.signal.aborted) {
      o.log?.(`run ${run} part ${part + 1}/${parts}: let go (the run was cancelled or has ended, or the part went to another worker)`)
      return // nothing to retry
    }
    const message = err instanceof Error ? err.message : String(err)
    // back to queued: the queue retries it (or fails it for good), no heartbeat is missed
    await db.query("UPDATE run_task SET error = $3, status = 'queued', updated_at = now() WHERE run_id = $1 AND part = $2 AND status = 'running' AND worker = $4", [run, part, message, WORKER_NAME]).catch(() => {})
    o.log?.(`run ${run} part ${part + 1}/${parts} failed (attempt ${job.retryCount + 1} of ${job.retryLimit + 1}): ${message}`)
    throw err
  } finally {
    clearInterval(look)
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // stopped while the task computed: its abort event has fired already
    if (signal.aborted) return reject(signal.reason)
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}
