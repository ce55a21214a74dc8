// Runs whose process died cannot finish: when a command (serve, the CLI) opens the database
// (server/cli/program.ts openForCommand) they are marked failed, their partial results and
// work tables deleted, and they can be run again.
//   - the embedded database belongs to one process: a run still 'running' when it is opened
//     was interrupted;
//   - on a PostgreSQL server several processes share the database: a run is interrupted
//     when its owner ran on this host and that process is gone (or its pid now belongs to a
//     process that started later). Runs owned by other hosts are left alone.
import os from 'node:os'
import type { Db } from '../db/db.ts'
import { maintenance } from '../db/migrate.ts'
import { WORK_TABLES } from './execute.ts'

const STARTED = Date.now() - Math.round(process.uptime() * 1000)

/** This process, as written into run.owner: host|pid|start (ms since epoch). */
export const OWNER = `${os.hostname()}|${process.pid}|${STARTED}`

function alive(owner: string): boolean {
  const [host, pidText, startText] = owner.split('|')
  if (host !== os.hostname()) return true // cannot tell: leave it
  const pid = Number(pidText)
  if (pid === process.pid) return Number(startText) === STARTED
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, not ours to signal
  }
  return true
}

/** (start-up work: free of the statement timeout, see db/migrate.ts maintenance) */
export async function recoverInterruptedRuns(db: Db): Promise<number[]> {
  const running = await maintenance(db, (tx) => tx.query<{ id: number; owner: string | null }>("SELECT id::int AS id, owner FROM run WHERE status = 'running'"))
  const dead = running.filter((r) => db.backend === 'pglite' || !r.owner || !alive(r.owner)).map((r) => r.id)
  for (const id of dead) {
    await maintenance(db, async (tx) => {
      for (const t of ['run_sum', 'run_result', ...WORK_TABLES]) await tx.query(`DELETE FROM ${t} WHERE run_id = $1`, [id])
      await tx.query(
        `UPDATE run SET status = 'failed', finished_at = now(),
                error = 'interrupted: the process running it stopped before it finished (' || coalesce(owner, 'unknown process') || '); run it again'
          WHERE id = $1 AND status = 'running'`, [id])
    })
  }
  return dead
}
