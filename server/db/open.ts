import path from 'node:path'
import type { Db } from './db.ts'
import { openPglite } from './pglite.ts'
import { openPg } from './pg.ts'
import { migrate } from './migrate.ts'
import { recoverInterruptedRuns } from '../runs/recover.ts'

export interface OpenDbOptions {
  /** postgres:// URL; when absent the embedded database in `dataDir` is used. */
  url?: string
  dataDir: string
  statementTimeoutMs?: number
  log?: (msg: string) => void
}

/** Opens the configured backend and brings its schema to the latest migration. */
export async function openDb(opts: OpenDbOptions): Promise<Db> {
  const db = opts.url
    ? await openPg(opts.url, opts.statementTimeoutMs ?? 0)
    : await openPglite(opts.dataDir.startsWith('memory://') ? opts.dataDir : path.resolve(opts.dataDir), opts.log)
  try {
    await migrate(db)
    const interrupted = await recoverInterruptedRuns(db)
    if (interrupted.length) opts.log?.(`marked ${interrupted.length} interrupted run(s) failed: ${interrupted.join(', ')}`)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}
