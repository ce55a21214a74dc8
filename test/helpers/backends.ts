// Database tests run on every available backend: the embedded PGlite always, and a real
// PostGIS when DATABASE_URL is set (each test file gets its own throwaway database).
import crypto from 'node:crypto'
import pg from 'pg'
import type { Db } from '../../server/db/db.ts'
import { openDb } from '../../server/db/open.ts'

export interface Backend {
  name: 'pglite' | 'pg'
  open(): Promise<Db>
}

export function backends(): Backend[] {
  const list: Backend[] = [{ name: 'pglite', open: () => openDb({ dataDir: 'memory://' }) }]
  const url = process.env.DATABASE_URL
  if (url) list.push({ name: 'pg', open: () => openThrowawayPg(url) })
  // .ci/run's PostGIS pass sets this, so that a lost DATABASE_URL cannot pass silently on PGlite alone
  if (process.env.ECOCENSUS_REQUIRE_PG && !url) throw new Error('ECOCENSUS_REQUIRE_PG is set: the database tests must run on PostGIS too; set DATABASE_URL')
  return list
}

/** A fresh, empty database on the server of `url`; drop() removes it. */
export async function throwawayDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `ecocensus_t_${crypto.randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const u = new URL(url)
  u.pathname = '/' + name
  return {
    url: u.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: url })
      await a.connect()
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await a.end()
    },
  }
}

async function openThrowawayPg(url: string): Promise<Db> {
  const tmp = await throwawayDatabase(url)
  const db = await openDb({ url: tmp.url, dataDir: '' })
  return {
    ...db,
    backend: db.backend,
    query: db.query.bind(db),
    transaction: db.transaction.bind(db),
    async close() {
      await db.close()
      await tmp.drop()
    },
  }
}

/** Row counts of every table: equal before and after means a failed import left nothing. */
export async function snapshot(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const t of ['layer', 'feature', 'unit_set', 'unit']) {
    const [r] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)
    out[t] = r!.n
  }
  return out
}
