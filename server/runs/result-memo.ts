// The result documents this runtime has just written (run_result), kept for a moment so that
// reading a run right after computing it — what every coverage request does — does not fetch
// and parse megabytes of JSON it still holds. A done run's result never changes; a run that
// fails after writing has its memo dropped with its rows (execute.ts). Other processes read
// the database. Bounded by entries, oldest out first. Per runtime, and a runtime has one
// database: run ids of two databases in one process (a test's PGlite and PostgreSQL) never
// meet here.
import { current, slot } from '../scoped.ts'

/** [unit id, key, …values]: coverage's and change's [unit, key, area, count], zonal's [unit, key, statistics] */
type Entry = [string, string, ...unknown[]]

const MAX_ENTRIES = 2_000_000

/** One runtime's memo (server/runtime.ts); a size of 0 keeps nothing. */
export class ResultMemo {
  private readonly memo = new Map<number, { entries: Entry[]; weight: number }>()
  private held = 0

  constructor(readonly maxEntries = MAX_ENTRIES) {}

  /** `weight`: what one entry counts for against maxEntries (an entry of many values, as zonal's per-class statistics, counts more). */
  remember(runId: number, entries: Entry[], weight = 1): void {
    const w = entries.length * weight
    if (w > this.maxEntries / 2) return
    this.forget(runId)
    this.memo.set(runId, { entries, weight: w })
    this.held += w
    for (const [id, e] of this.memo) {
      if (this.held <= this.maxEntries) break
      this.memo.delete(id)
      this.held -= e.weight
    }
  }

  recall(runId: number): Entry[] | undefined {
    return this.memo.get(runId)?.entries
  }

  forget(runId: number): void {
    const e = this.memo.get(runId)
    if (!e) return
    this.memo.delete(runId)
    this.held -= e.weight
  }
}

/** The memo of the work in progress; unbound: none (results read from the database). */
export const RESULT_MEMO = slot('result memo', new ResultMemo(0))

export const rememberResult = (runId: number, entries: Entry[], weight = 1): void => current(RESULT_MEMO).remember(runId, entries, weight)
export const recallResult = <E extends Entry = Entry>(runId: number): E[] | undefined => current(RESULT_MEMO).recall(runId) as E[] | undefined
export const forgetResult = (runId: number): void => current(RESULT_MEMO).forget(runId)
