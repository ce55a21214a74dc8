// Runs a planned computation: records it, reports progress, honours cancellation
// (an AbortSignal in this process, or cancel_requested set by any process), and makes
// the result visible in one step when everything has been computed.
import type { Db, Queryable } from '../db/db.ts'
import { Cancelled, InputsLost, TimedOut } from '../errors.ts'
import { createRun, findReusable, getRun, inputKey, reportProgress, type RunKind, type RunRecord } from './run-store.ts'
import { forgetResult } from './result-memo.ts'
import { current, slot } from '../scoped.ts'

/** What a step can do besides querying: report progress within itself and check for cancellation. */
export interface StepContext {
  db: Queryable
  runId: number
  signal: AbortSignal
  /** fraction 0..1 of this step done; throws Cancelled when the run is to stop */
  progress(fraction: number): Promise<void>
}

export interface Step {
  label: string
  /** relative cost, for the progress fraction */
  weight: number
  run(ctx: StepContext): Promise<void>
}

export interface RunPlan {
  kind: RunKind
  params: Record<string, unknown>
  inputs: Record<string, unknown>
  steps: Step[]
  /** stored with the run: method text, layer lists, whatever readers need to label the sums */
  meta: Record<string, unknown>
}

export interface RunOptions {
  signal?: AbortSignal
  /** false: compute again even when a done run has identical inputs */
  reuse?: boolean
  onProgress?: (progress: number, stage: string) => void
  /** called when no stored run can be reused, before a new one is created: computing may
   *  need more than reading (HTTP: an analyst key once keys exist) */
  beforeCompute?: () => Promise<void>
  /** stop the run (status failed, TimedOut) after this long; 0 or absent: no limit. Checked
   *  at each progress report, so one long statement finishes first (on PostGIS servers
   *  statement_timeout bounds that; the embedded database cannot interrupt a statement). */
  timeoutMs?: number
  /** who asked (audit: key name or cli:<user>), stored on a new run as created_by */
  actor?: string
  /** called with a new run's id once its row exists, before it computes: what it looked like
   *  when accepted (HTTP answers with that, not with a state the run may already have left) */
  created?: (id: number) => Promise<void>
}

export interface StartedRun {
  id: number
  reused: boolean
  done: Promise<RunRecord>
}

const REPORT_EVERY_MS = 250

/**
 * The runs a runtime started and has not finished, so that the HTTP API can cancel one at
 * once and a service cancel all at shutdown. Cancelling also works without it, more slowly:
 * the run reads its cancel_requested flag at its next progress report.
 */
export class LiveRuns {
  private readonly controllers = new Map<number, AbortController>()
  private readonly promises = new Map<number, Promise<unknown>>()

  /** `track` false: a registry that keeps nothing (work outside any runtime) */
  constructor(private readonly track = true) {}

  add(id: number, controller: AbortController, done: Promise<unknown>): void {
    if (!this.track) return
    this.controllers.set(id, controller)
    this.promises.set(id, done)
    done.finally(() => {
      this.controllers.delete(id)
      this.promises.delete(id)
    }).catch(() => {})
  }

  cancel(id: number): boolean {
    const c = this.controllers.get(id)
    c?.abort(new Cancelled(`run ${id} was cancelled`))
    return Boolean(c)
  }

  /** Cancels every live run (shutdown) and resolves when each has recorded it. */
  async cancelAll(): Promise<number> {
    const ids = [...this.controllers.keys()]
    for (const id of ids) this.cancel(id)
    await Promise.allSettled(ids.map((id) => this.promises.get(id)))
    return ids.length
  }
}

/** The live runs of the work in progress; unbound: none kept. */
export const LIVE_RUNS = slot('live runs', new LiveRuns(false))

/** Cancels run `id` at once if the runtime of the work in progress started it. */
export const cancelLocal = (id: number): boolean => current(LIVE_RUNS).cancel(id)

/** Starts a run (or finds a reusable one) and returns its id at once; `done` settles when it ends. */
export async function startRun(db: Db, plan: RunPlan, opts: RunOptions = {}): Promise<StartedRun> {
  const key = inputKey(plan.kind, plan.params, plan.inputs)
  if (opts.reuse !== false) {
    const prev = await findReusable(db, key)
    if (prev) return { id: prev.id, reused: true, done: Promise.resolve({ ...prev, reused: true }) }
  }
  await opts.beforeCompute?.()
  const id = await createRun(db, plan.kind, plan.params, plan.inputs, key, opts.actor)
  await opts.created?.(id)
  const controller = new AbortController()
  const onAbort = () => controller.abort(new Cancelled(`run ${id} was cancelled`))
  if (opts.signal?.aborted) onAbort()
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  // the timer stops a run waiting on a server; the embedded database runs on this thread, so
  // timers wait for it: each progress report also compares the clock with the deadline
  const timeUp = () => controller.abort(new TimedOut(`run ${id} took longer than ${opts.timeoutMs} ms (ECOCENSUS_RUN_TIMEOUT_MS) and was stopped; run it with the CLI, or raise the limit`))
  const timer = opts.timeoutMs ? setTimeout(timeUp, opts.timeoutMs) : undefined
  const deadline = opts.timeoutMs ? { at: performance.now() + opts.timeoutMs, timeUp } : undefined
  const done = execute(db, id, plan, controller.signal, opts.onProgress, deadline).finally(() => {
    clearTimeout(timer)
    opts.signal?.removeEventListener('abort', onAbort)
  })
  done.catch(() => {}) // the caller may not await; the failure is recorded on the run
  current(LIVE_RUNS).add(id, controller, done)
  return { id, reused: false, done }
}

/** startRun and wait for the end; throws if the run fails or is cancelled. */
export async function runToEnd(db: Db, plan: RunPlan, opts: RunOptions = {}): Promise<RunRecord> {
  return (await startRun(db, plan, opts)).done
}

async function execute(db: Db, id: number, plan: RunPlan, signal: AbortSignal, onProgress?: (p: number, s: string) => void, deadline?: { at: number; timeUp: () => void }): Promise<RunRecord> {
  const started = performance.now()
  const total = plan.steps.reduce((s, st) => s + st.weight, 0) || 1
  let before = 0
  const timings: { step: string; ms: number }[] = []
  let lastReport = -Infinity
  try {
    for (const step of plan.steps) {
      const ctx: StepContext = {
        db,
        runId: id,
        signal,
        progress: async (fraction) => {
          const p = (before + step.weight * Math.min(1, fraction)) / total
          onProgress?.(p, step.label)
          if (deadline && !signal.aborted && performance.now() > deadline.at) deadline.timeUp()
          if (signal.aborted) throw signal.reason
          // the database hears of progress (and is asked about cancellation) at most every
          // 250 ms: each report is a committed UPDATE, which a fast loop must not wait on
          const now = performance.now()
          if (fraction > 0 && fraction < 1 && now - lastReport < REPORT_EVERY_MS) return
          lastReport = now
          const stop = await reportProgress(db, id, p, step.label)
          if (stop && !signal.aborted) throw new Cancelled(`run ${id} was cancelled`)
          if (signal.aborted) throw signal.reason
        },
      }
      await ctx.progress(0)
      const t0 = performance.now()
      await step.run(ctx)
      timings.push({ step: step.label, ms: Math.round(performance.now() - t0) })
      before += step.weight
    }
    await db.transaction(async (tx) => {
      // the inputs the run recorded must still be there as it is marked done (only an
      // admin's purge deletes versions, and it refuses while a run reads them: this is the
      // last guard, in the same transaction as 'done')
      await checkInputsKept(tx, plan)
      const rows = await tx.query<{ n: number }>(
        'SELECT ((SELECT count(*) FROM run_sum WHERE run_id = $1) + (SELECT coalesce(sum(entries), 0) FROM run_result WHERE run_id = $1))::int AS n', [id])
      await tx.query(
        `UPDATE run SET status = 'done', progress = 1, stage = 'done', meta = $2, row_count = $3,
                finished_at = now(), elapsed_ms = $4 WHERE id = $1`,
        [id, JSON.stringify({ ...plan.meta, timings }), rows[0]!.n, performance.now() - started],
      )
    })
    onProgress?.(1, 'done')
  } catch (err) {
    const timedOut = signal.reason instanceof TimedOut
    const cancelled = !timedOut && (err instanceof Cancelled || signal.aborted)
    const message = timedOut ? (signal.reason as TimedOut).message : err instanceof Error ? err.message : String(err)
    await db.query('DELETE FROM run_sum WHERE run_id = $1', [id]).catch(() => {})
    forgetResult(id)
    await db.query('DELETE FROM run_result WHERE run_id = $1', [id]).catch(() => {})
    await db.query(
      `UPDATE run SET status = $2, error = $3, finished_at = now(), elapsed_ms = $4 WHERE id = $1`,
      [id, cancelled ? 'cancelled' : 'failed', message, performance.now() - started],
    ).catch(() => {})
    await dropWork(db, id).catch(() => {})
    if (timedOut) throw signal.reason
    throw cancelled && !(err instanceof Cancelled) ? new Cancelled(`run ${id} was cancelled`) : err
  }
  await dropWork(db, id)
  return getRun(db, id)
}

/** Fails (InputsLost) unless every layer, unit set and raster version the run recorded still exists; locks them until the caller's transaction ends. */
async function checkInputsKept(tx: Queryable, plan: RunPlan): Promise<void> {
  const inputs = plan.inputs as { unitSet?: { id: number }; layers?: { id: number }[]; from?: { id: number }; to?: { id: number }; raster?: { id: number }; rasterList?: { id: number }[] }
  const raster = plan.kind === 'zonal' || plan.kind === 'zonal_change'
  const versions = [inputs.from, inputs.to].filter((v): v is { id: number } => v !== undefined)
  const want: [string, number[]][] = [
    ['unit_set', inputs.unitSet ? [inputs.unitSet.id] : []],
    ['layer', raster ? [] : [...(inputs.layers ?? []), ...versions].map((v) => v.id)],
    ['raster_layer', [...(raster ? [...(inputs.raster ? [inputs.raster] : []), ...versions] : []), ...(inputs.rasterList ?? [])].map((v) => v.id)],
  ]
  for (const [table, ids] of want) {
    if (!ids.length) continue
    const found = await tx.query<{ id: number }>(`SELECT id FROM ${table} WHERE id = ANY($1::int[]) FOR KEY SHARE`, [ids])
    const missing = ids.filter((i) => !found.some((f) => Number(f.id) === i))
    if (missing.length) throw new InputsLost(`the ${table.replace('_layer', '').replace('_', ' ')} version(s) ${missing.join(', ')} this run read were purged while it ran; its result was discarded — run it again`)
  }
}

/** The work tables of a run: needed while it runs, never after (a constant list: names, not input). */
export const WORK_TABLES = ['run_piece', 'run_member', 'run_task', 'ingest_stage'] as const

async function dropWork(db: Queryable, id: number): Promise<void> {
  for (const t of WORK_TABLES) await db.query(`DELETE FROM ${t} WHERE run_id = $1`, [id])
}
