// The result documents this runtime has just written (run_result), kept for a moment so that
// reading a run right after computing it — what every coverage request does — does not fetch
// and parse megabytes of JSON it still holds. A done run's result never changes; a run that
// fails after writing has its memo dropped with its rows (execute.ts). Other processes read
// the database. Bounded by entries, oldest out first. Per runtime, and a runtime has one
// database: run ids of two databases in one process (a test's PGlite and PostgreSQL) never
// meet here.
import { current, slot } from '../scoped.ts'

type Entry = [string, string, number, number]

const MAX_ENTRIES = 2_000_000

/** One runtime's memo (server/runtime.ts); a size of 0 keeps nothing. */
export class ResultMemo {
  private readonly memo = new Map<number, Entry[]>()
  private held = 0

  constructor(readonly maxEntries = MAX_ENTRIES) {}

  remember(runId: number, entries: Entry[]): void {
    if (entries.length > this.maxEntries / 2) return
    this.forget(runId)
    this.memo.set(runId, entries)
    this.held += entries.length
    for (const [id, e] of this.memo) {
      if (this.held <= this.maxEntries) break
      this.memo.delete(id)
      this.held -= e.length
    }
  }

  recall(runId: number): Entry[] | undefined {
    return this.memo.get(runId)
  }

  forget(runId: number): void {
    const e = this.memo.get(runId)
    if (!e) return
    this.memo.delete(runId)
    this.held -= e.length
  }
}

/** The memo of the work in progress; unbound: none (results read from the database). */
export const RESULT_MEMO = slot('result memo', new ResultMemo(0))

export const rememberResult = (runId: number, entries: Entry[]): void => current(RESULT_MEMO).remember(runId, entries)
export const recallResult = (runId: number): Entry[] | undefined => current(RESULT_MEMO).recall(runId)
export const forgetResult = (runId: number): void => current(RESULT_MEMO).forget(runId)
