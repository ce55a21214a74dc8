// Peak memory of the database server for the benchmarks' tables (same machine only).
import fs from 'node:fs'
import type { Queryable } from '../../server/db/db.ts'

/** The largest peak resident memory (VmHWM) of this database's server processes, as " + server N MiB", or '' when none can be read. */
export async function backendPeakRss(db: Queryable): Promise<string> {
  const pids = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')
  const peaks = pids.map(({ pid }) => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
      return m ? Number(m[1]) / 1024 : 0
    } catch {
      return 0
    }
  })
  return peaks.length ? ` + server ${Math.max(...peaks).toFixed(0)} MiB` : ''
}
