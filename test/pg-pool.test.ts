// The PostGIS pool outlives the server ending its idle connections (restart, admin command):
// the process keeps running and the next query works.
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { backends } from './helpers/backends.ts'

const server = backends().find((b) => b.name === 'pg')
// without DATABASE_URL (a newcomer's `npm test`) the file registers a skipped suite, so the
// run still passes: a file with no suite at all fails vitest
describe.skipIf(!server)('pool on pg', () => {
  const backend = server!
  {
    it('idle connections terminated by the server: no crash, the next query runs', async () => {
      const db = await backend.open()
      const uncaught: unknown[] = []
      const onUncaught = (err: unknown) => uncaught.push(err)
      process.on('uncaughtException', onUncaught)
      try {
        // several idle connections in the pool
        await Promise.all([1, 2, 3].map(() => db.query('SELECT pg_sleep(0.05)')))
        const [{ name }] = await db.query<{ name: string }>('SELECT current_database() AS name') as [{ name: string }]
        const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
        await admin.connect()
        const killed = await admin.query('SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])
        await admin.end()
        expect(killed.rows[0].n).toBeGreaterThan(0)
        await new Promise((r) => setTimeout(r, 300))
        expect(uncaught).toEqual([])
        const [row] = await db.query<{ one: number }>('SELECT 1 AS one')
        expect(row!.one).toBe(1)
      } finally {
        process.off('uncaughtException', onUncaught)
        await db.close()
      }
    })
  }
})
