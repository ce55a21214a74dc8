// Time limits: a run started over HTTP stops after ECOCENSUS_RUN_TIMEOUT_MS (503 timeout,
// the run failed with the reason, no sums left, a rerun without the limit completes), on
// both backends; on a PostGIS server every statement also has statement_timeout.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { importUnits } from '../server/units/import-units.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { SAMPLE_DIR } from '../server/sample/load.ts'
import { DbError } from '../server/errors.ts'
import { recoverInterruptedRuns } from '../server/runs/recover.ts'
import pg from 'pg'
import { backends, throwawayDatabase } from './helpers/backends.ts'
import { serverPool } from './helpers/http.ts'

for (const backend of backends()) {
  describe(`run time limit on ${backend.name}`, () => {
    let db: Db
    const servers = serverPool()
    const start = (env: Record<string, string>) => servers.start(db, { env, settings: { runsPerMinute: 0 } })
    beforeAll(async () => {
      db = await backend.open()
      await importUnits(db, { file: path.join(SAMPLE_DIR, 'huangshan-counties.geojson'), set: 'counties', maxBytes: 1 << 30 })
      await ingestLayer(db, { file: path.join(SAMPLE_DIR, 'layers/forest_2023.shp'), layer: 'forest', kind: 'forest', vintage: '2023', maxBytes: 1 << 30 })
    })
    afterAll(async () => {
      await servers.closeAll()
      await db?.close()
    })

    it('stops a run that takes longer than ECOCENSUS_RUN_TIMEOUT_MS: 503, run failed with the reason, nothing kept; without the limit it completes', async () => {
      const limited = await start({ ECOCENSUS_RUN_TIMEOUT_MS: '5' })
      const r = await fetch(`${limited}/api/stats/coverage?units=counties&layers=forest&format=csv`)
      expect(r.status).toBe(503)
      const err = (await r.json()).error
      expect(err.code).toBe('timeout')
      expect(err.message).toMatch(/^run \d+ took longer than 5 ms \(ECOCENSUS_RUN_TIMEOUT_MS\) and was stopped/)
      const id = Number(/^run (\d+)/.exec(err.message)![1])
      const [run] = await db.query<{ status: string; error: string }>('SELECT status, error FROM run WHERE id = $1', [id])
      expect(run).toMatchObject({ status: 'failed', error: err.message })
      const [left] = await db.query<{ n: number }>('SELECT ((SELECT count(*) FROM run_sum WHERE run_id = $1) + (SELECT count(*) FROM run_piece WHERE run_id = $1) + (SELECT count(*) FROM run_member WHERE run_id = $1))::int AS n', [id])
      expect(left!.n).toBe(0)

      const open = await start({ ECOCENSUS_RUN_TIMEOUT_MS: '0' })
      const ok = await fetch(`${open}/api/stats/coverage?units=counties&layers=forest&format=json`)
      expect(ok.status).toBe(200)
      expect(Number(ok.headers.get('x-run-id'))).toBeGreaterThan(id)
      expect((await ok.json()).rows.length).toBeGreaterThan(0)
    }, 180_000)
  })
}

describe.runIf(process.env.DATABASE_URL)('statement_timeout on a PostGIS server', () => {
  it('cancels a statement that runs longer (DbError 503 "statement cancelled"); the pool keeps working', async () => {
    const tmp = await throwawayDatabase(process.env.DATABASE_URL!)
    await (await openDb({ url: tmp.url, dataDir: '' })).close() // migrations, without a limit
    const db = await openDb({ url: tmp.url, dataDir: '', statementTimeoutMs: 300 })
    try {
      const e = await db.query('SELECT pg_sleep(3)').then(() => null, (err: unknown) => err)
      expect(e).toBeInstanceOf(DbError)
      expect((e as DbError).status).toBe(503)
      // the server's own message says the limit cancelled it (no wall-clock bound: see operation.test.ts)
      expect((e as Error).message).toMatch(/^statement cancelled: canceling statement due to statement timeout/)
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
    } finally {
      await db.close()
      await tmp.drop()
    }
  })

  it('start-up work (migrations, run repair) is not bounded by it: a 1 ms limit waits out a lock', async () => {
    const tmp = await throwawayDatabase(process.env.DATABASE_URL!)
    await (await openDb({ url: tmp.url, dataDir: '' })).close()
    const holder = new pg.Client({ connectionString: tmp.url })
    await holder.connect()
    const db = await openDb({ url: tmp.url, dataDir: '', statementTimeoutMs: 1 })
    try {
      // another session holds the run table: every statement on it waits far longer than 1 ms
      await holder.query('BEGIN')
      await holder.query('LOCK TABLE run IN ACCESS EXCLUSIVE MODE')
      const recovering = recoverInterruptedRuns(db)
      const plain = db.query('SELECT count(*) FROM run').then(() => null, (err: unknown) => err)
      await new Promise((r) => setTimeout(r, 200))
      await holder.query('COMMIT')
      // a request's statement is cancelled by the limit; the start-up repair waited and finished
      expect((await plain) as Error).toBeInstanceOf(DbError)
      expect(await recovering).toEqual([])
    } finally {
      await holder.end()
      await db.close()
      await tmp.drop()
    }
  })
})
