import fs from 'node:fs'
import type { Db, Queryable } from './db.ts'

const dir = new URL('./migrations/', import.meta.url)

/**
 * Applies versioned migrations (`NNN_name.sql`) in order, each in its own
 * transaction, recording them in schema_migration. Safe to run at every start.
 */
export async function migrate(db: Db): Promise<string[]> {
  const done = await maintenance(db, async (tx) => {
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migration (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    return new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migration')).map((r) => r.version))
  })
  const files = fs.readdirSync(dir).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort()
  const applied: string[] = []
  for (const file of files) {
    const version = Number(file.slice(0, 3))
    if (done.has(version)) continue
    const sql = fs.readFileSync(new URL(file, dir), 'utf8')
    await maintenance(db, async (tx) => {
      // Multi-statement files: split on lines that end a statement. Migration files keep
      // one statement per `;`-terminated block and no semicolons inside strings.
      for (const stmt of splitStatements(sql)) await tx.query(stmt)
      await tx.query('INSERT INTO schema_migration (version, name) VALUES ($1, $2)', [version, file])
    })
    applied.push(file)
  }
  return applied
}

/**
 * fn in a transaction free of the statement timeout (ECOCENSUS_STATEMENT_TIMEOUT_MS bounds
 * what requests ask of the database, not a start-up's migrations and repairs: a small limit
 * must not stop the service from starting).
 */
export async function maintenance<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SET LOCAL statement_timeout = 0')
    return fn(tx)
  })
}

export function splitStatements(sql: string): string[] {
  const noComments = sql.replace(/--.*$/gm, '')
  return noComments.split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter(Boolean)
}
