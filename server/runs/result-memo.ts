// The result documents this process has just written (run_result), kept for a moment so that
// reading a run right after computing it — what every coverage request does — does not fetch
// and parse megabytes of JSON it still holds. A done run's result never changes; a run that
// fails after writing has its memo dropped with its rows (execute.ts). Other processes read
// the database. Bounded by entries, oldest out first.
type Entry = [string, string, number, number]

const MAX_ENTRIES = 2_000_000
const memo = new Map<number, Entry[]>()
let held = 0

export function rememberResult(runId: number, entries: Entry[]): void {
  if (entries.length > MAX_ENTRIES / 2) return
  forgetResult(runId)
  memo.set(runId, entries)
  held += entries.length
  for (const [id, e] of memo) {
    if (held <= MAX_ENTRIES) break
    memo.delete(id)
    held -= e.length
  }
}

export function recallResult(runId: number): Entry[] | undefined {
  return memo.get(runId)
}

export function forgetResult(runId: number): void {
  const e = memo.get(runId)
  if (!e) return
  memo.delete(runId)
  held -= e.length
}
