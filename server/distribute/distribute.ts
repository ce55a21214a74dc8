// A run's coordinator hands parts of its work to worker processes (`ecocensus worker`, any
// host with DATABASE_URL) through the job queue (queue.ts) and waits for them: one run_task
// row per part (migration 017), a queued task per part, progress the mean of the parts',
// cancellation passed on, a part that fails for good failing the run with its error. The
// parts' results are handed back in part order, so what the run adds up from them does
// not depend on which worker finished first.
import { deserialize } from 'node:v8'
import type { StepContext } from '../runs/execute.ts'
import { slot } from '../scoped.ts'
import { TaskFailed } from '../errors.ts'
import type { TaskQueue } from './queue.ts'

export interface Distributor {
  queue: TaskQueue
  /** ms between the coordinator's looks at its parts */
  pollMs: number
  /** zonal: units per task (a set of fewer runs in one process) */
  unitsPerTask: number
  /** s after which a part whose worker stopped touching its row (worker.ts: every 0.5 s) is handed to another */
  heartbeatSeconds: number
  /** attempts a part may have after its first (failures, lost workers) */
  retries: number
}

/** The distributor of the work in progress; unbound (the default, and always on the embedded database): runs compute in this process. */
export const DISTRIBUTOR = slot<Distributor | undefined>('distributor', undefined)

/** What a distributed step records in its run's meta: how many parts, who computed them, how many attempts. */
export interface DistributedMeta {
  parts: number
  attempts: number
  /** worker (host|pid) → parts it computed */
  workers: Record<string, number>
  /** ms of the slowest part, and of all parts together */
  slowestMs: number
  totalMs: number
  /** bytes of the parts' results, as stored */
  bytes: number
}

/**
 * Runs `parts` tasks of `kind` (worker/tasks.ts) for the run of `ctx` on the workers
 * and calls `take(part, result)` for each part in order once all are done.
 */
export async function distribute<T>(ctx: StepContext, d: Distributor, kind: string, spec: unknown, parts: number, take: (part: number, result: T) => void): Promise<DistributedMeta> {
  const { db, runId } = ctx
  await db.query('DELETE FROM run_task WHERE run_id = $1', [runId])
  await db.query('INSERT INTO run_task (run_id, part) SELECT $1, p FROM generate_series(0, $2 - 1) p', [runId, parts])
  const ids = await d.queue.send(Array.from({ length: parts }, (_, part) => ({ run: runId, part, parts, kind, spec })))
  await db.query('UPDATE run_task t SET job_id = j.id FROM unnest($2::text[]) WITH ORDINALITY j(id, n) WHERE t.run_id = $1 AND t.part = j.n - 1', [runId, ids])
  let finished = false
  try {
    let lastStates = 0
    for (;;) {
      const rows = await db.query<{ part: number; status: string; progress: number; error: string | null; attempts: number; idle: number; worker: string | null }>(
        'SELECT part, status, progress, error, attempts, worker, extract(epoch FROM now() - updated_at)::float8 AS idle FROM run_task WHERE run_id = $1', [runId])
      const done = rows.filter((r) => r.status === 'done').length
      await ctx.progress(rows.reduce((s, r) => s + (r.status === 'done' ? 1 : Math.min(0.99, r.progress)), 0) / parts)
      if (done === parts) break
      // the queue's word on the parts still open, every few seconds: failed for good (retries
      // used up, by errors or by expiries of killed workers), or cancelled by someone else
      if (performance.now() - lastStates > 2000) {
        lastStates = performance.now()
        const open = rows.filter((r) => r.status !== 'done')
        // a part whose worker stopped beating (killed, its host gone) goes to another at once,
        // not after the queue's expiry; its old job is withdrawn
        for (const r of open.filter((x) => x.status === 'running' && x.idle > d.heartbeatSeconds)) {
          if (r.attempts > d.retries) throw new TaskFailed(`part ${r.part + 1} of ${parts} lost its worker on each of ${r.attempts} attempts (last ${r.worker}); is a worker running out of memory?`)
          const [again] = await d.queue.send([{ run: runId, part: r.part, parts, kind, spec }])
          const moved = await db.query(
            `UPDATE run_task SET status = 'queued', job_id = $3, progress = 0, error = $4, updated_at = now()
              WHERE run_id = $1 AND part = $2 AND status = 'running' AND now() - updated_at > make_interval(secs => $5) RETURNING part`,
            [runId, r.part, again, `worker ${r.worker} stopped answering`, d.heartbeatSeconds])
          if (!moved.length) { await d.queue.cancel([again!]); continue }
          await d.queue.cancel([ids[r.part]!])
          ids[r.part] = again!
        }
        // parts in hand with a live heartbeat need no word from the queue
        const waiting = open.filter((r) => r.status === 'queued')
        const states = await d.queue.states(waiting.map((r) => ids[r.part]!))
        for (const r of waiting) {
          const s = states.get(ids[r.part]!)
          if (!s || (s.state !== 'failed' && s.state !== 'cancelled')) continue
          // the row may have been written done between the two reads
          const [again] = await db.query<{ status: string }>('SELECT status FROM run_task WHERE run_id = $1 AND part = $2', [runId, r.part])
          if (again?.status === 'done') continue
          const why = r.error ?? messageOf(s.output) ?? `the job was ${s.state}`
          throw new TaskFailed(`part ${r.part + 1} of ${parts} failed after ${r.attempts} attempt(s) on the workers: ${why}`)
        }
      }
      await new Promise((res) => setTimeout(res, d.pollMs))
    }
    finished = true
  } finally {
    // cancelled, failed or timed out: the parts not yet taken are never handed out, and
    // workers computing one stop at their next look at the run (worker.ts)
    if (!finished) await d.queue.cancel(ids).catch(() => {})
  }
  const meta: DistributedMeta = { parts, attempts: 0, workers: {}, slowestMs: 0, totalMs: 0, bytes: 0 }
  for (let part = 0; part < parts; part++) {
    const [row] = await db.query<{ body: Buffer; worker: string; attempts: number; ms: number }>('SELECT body, worker, attempts, ms FROM run_task WHERE run_id = $1 AND part = $2', [runId, part])
    meta.attempts += row!.attempts
    meta.workers[row!.worker] = (meta.workers[row!.worker] ?? 0) + 1
    meta.slowestMs = Math.max(meta.slowestMs, row!.ms)
    meta.totalMs += row!.ms
    meta.bytes += row!.body.length
    take(part, deserialize(row!.body) as T)
  }
  meta.slowestMs = Math.round(meta.slowestMs)
  meta.totalMs = Math.round(meta.totalMs)
  return meta
}

function messageOf(output: unknown): string | undefined {
  const o = output as { message?: unknown; value?: { message?: unknown } } | null
  const m = o?.message ?? o?.value?.message
  return typeof m === 'string' ? m : undefined
}
