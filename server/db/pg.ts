import pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import type { Db, Queryable, QueryOptions, Row } from './db.ts'
import { throwIfAborted } from './db.ts'
import { DbError } from '../errors.ts'

/** PostgreSQL/PostGIS through node-postgres; a pool of at most `connections`, statement timeout from settings. */
export async function openPg(url: string, statementTimeoutMs: number, connections = 8): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: connections, statement_timeout: statementTimeoutMs || undefined })
  // An idle connection the server ends (a restart, pg_terminate_backend, a dropped database)
  // emits 'error' on the pool; unheard, it would end the process. The pool drops that
  // connection and the next query opens another or fails with the server's reason.
  pool.on('error', (err) => {
    process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), msg: `an idle database connection was closed by the server: ${err.message}` })}\n`)
  })
  const run = async <T extends object>(client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[], opts?: QueryOptions) => {
    throwIfAborted(opts?.signal)
    try {
      const res = opts?.name ? await client.query({ name: opts.name, text: sql, values: params as unknown[] | undefined }) : await client.query(sql, params as unknown[] | undefined)
      return res.rows as T[]
    } catch (err) {
      throw DbError.wrap(err)
    }
  }
  try {
    await run(pool, 'CREATE EXTENSION IF NOT EXISTS postgis')
  } catch (err) {
    await pool.end()
    throw new DbError(`cannot use PostGIS at ${redact(url)}: ${(err as Error).message}`)
  }
  return {
    backend: 'pg',
    server: { url, statementTimeoutMs },
    query: (sql, params, opts) => run(pool, sql, params, opts),
    async transaction(fn) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const tx: Queryable & Pick<Db, 'copyBinary'> = {
          query: (sql, params, opts) => run(client, sql, params, opts),
          async copyBinary(select, settings, opts) {
            throwIfAborted(opts?.signal)
            try {
              return await copyOut(client, select, settings, opts)
            } catch (err) {
              throwIfAborted(opts?.signal)
              throw DbError.wrap(err)
            }
          },
          async copyIn(copySql, data, opts) {
            throwIfAborted(opts?.signal)
            try {
              const stream = client.query(copyFrom(copySql))
              await new Promise<void>((resolve, reject) => {
                stream.on('error', reject)
                stream.on('finish', resolve)
                stream.end(data)
              })
            } catch (err) {
              throw DbError.wrap(err)
            }
          },
        }
        const out = await fn(tx)
        await client.query('COMMIT')
        return out
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        client.release()
      }
    },
    async copyBinary(select, settings, opts) {
      throwIfAborted(opts?.signal)
      const client = await pool.connect()
      let broken: unknown
      try {
        await client.query('BEGIN')
        const out = await copyOut(client, select, settings, opts)
        await client.query('COMMIT')
        return out
      } catch (err) {
        broken = err
        throwIfAborted(opts?.signal)
        throw DbError.wrap(err)
      } finally {
        // a connection left mid-COPY or mid-transaction is not given back to the pool
        client.release(broken ? true : undefined)
      }
    },
    close: () => pool.end(),
  }
}

/** `COPY (select) TO STDOUT (FORMAT binary)` on a client inside a transaction (Db.copyBinary). */
async function copyOut(client: pg.PoolClient, select: string, settings: Record<string, string>, opts?: QueryOptions): Promise<Buffer> {
  const names = Object.keys(settings)
  for (const name of names) if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`copyBinary: setting name '${name}' is not [a-z_][a-z0-9_]*`)
  // all settings in one round trip
  if (names.length) await client.query('SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)', [names.map((n) => `ecocensus.${n}`), Object.values(settings)])
  const chunks: Buffer[] = []
  const stream = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`))
  const onAbort = () => stream.destroy(opts?.signal?.reason ?? new Error('aborted'))
  opts?.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer)
  } finally {
    opts?.signal?.removeEventListener('abort', onAbort)
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@')
}
