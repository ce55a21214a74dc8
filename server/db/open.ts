import path from 'node:path'
import type { Db } from './db.ts'
import { openPglite } from './pglite.ts'
import { openPg } from './pg.ts'
import { migrate } from './migrate.ts'

export interface OpenDbOptions {
  /** postgres:// URL; when absent the embedded database in `dataDir` is used. */
  url?: string
  dataDir: string
  statementTimeoutMs?: number
  /** shared_buffers of the embedded database, MiB */
  embeddedBuffersMb?: number
  /** connections the pool may open to a PostgreSQL server (default 8) */
  connections?: number
  log?: (msg: string) => void
}

/** Opens the configured backend and brings its schema to the latest migration. Repairing
 *  runs of processes that died is the shells' business (server/cli/program.ts openForCommand). */
export async function openDb(opts: OpenDbOptions): Promise<Db> {
  const db = opts.url
    ? await openPg(opts.url, opts.statementTimeoutMs ?? 0, opts.connections)
    : await openPglite(opts.dataDir.startsWith('memory://') ? opts.dataDir : path.resolve(opts.dataDir), opts.log, { sharedBuffersMb: opts.embeddedBuffersMb })
  try {
    await migrate(db)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}
