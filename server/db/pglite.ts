import fs from 'node:fs'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import type { Db, Queryable, QueryOptions, Row } from './db.ts'
import { throwIfAborted } from './db.ts'
import { DbError } from '../errors.ts'
import { postgisExtension } from './postgis-bundle.ts'
import { templateBlob, templateFile } from './pglite-template.ts'
import { DEFAULT_EMBEDDED_BUFFERS_MB } from '../settings.ts'

/**
 * Embedded PostgreSQL+PostGIS (WASM). Files persist in `dataDir`; `memory://` keeps
 * them in memory (tests). PGlite has one connection, so statements are serialised
 * here; a lock file stops a second process opening the same folder and corrupting it.
 */
export async function openPglite(dataDir: string, log: (msg: string) => void = () => {}, opts: { sharedBuffersMb?: number } = {}): Promise<Db> {
  const inMemory = dataDir.startsWith('memory://')
  let lockFile: string | undefined
  let fresh = inMemory
  if (!inMemory) {
    fs.mkdirSync(dataDir, { recursive: true })
    lockFile = acquireLock(dataDir)
    fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'))
    if (fresh) log(`embedded database: first start in ${dataDir}`)
  }
  const postgis = await postgisExtension(log)
  const template = fresh ? await templateFile(postgis, log) : undefined
  // without a template, this start runs initdb and CREATE EXTENSION postgis itself
  const extension = fresh && !template ? (await postgisExtension(log, { install: true })).extension : postgis.extension
  const pg = new PGlite({
    dataDir: inMemory ? undefined : dataDir,
    extensions: { postgis: extension },
    loadDataDir: template ? templateBlob(template) : undefined,
    // PGlite's shared memory is resident from the start: 128 MB (PostgreSQL's default) is
    // a quarter of an idle service; a page missing from it is read from the OS cache
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${opts.sharedBuffersMb ?? DEFAULT_EMBEDDED_BUFFERS_MB}MB`],
  })
  await pg.waitReady
  await pg.exec('CREATE EXTENSION IF NOT EXISTS postgis')

  let chain: Promise<unknown> = Promise.resolve()
  // PGlite runs one statement at a time; queue callers so a transaction is never interleaved.
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn)
    chain = next.catch(() => undefined)
    return next
  }
  const run = async <T extends object>(q: { query: PGlite['query'] }, sql: string, params?: unknown[], opts?: QueryOptions) => {
    throwIfAborted(opts?.signal)
    let res
    try {
      res = await q.query<T>(sql, params as unknown[] | undefined)
    } catch (err) {
      throw DbError.wrap(err)
    }
    // PGlite-PostGIS (0.2.8) swallows errors raised inside GEOS: the statement comes back
    // with no columns and no rows instead of failing. A row-returning statement always
    // has columns, so their absence is a lost error: fail loudly rather than answer wrong.
    if (res.fields.length === 0 && returnsRows(sql)) {
      throw new DbError(`the embedded database lost the result of a statement (an error inside GEOS that PGlite-PostGIS does not report; the same input on a PostGIS server gives the reason): ${firstLine(sql)}`)
    }
    return res.rows
  }

  return {
    backend: 'pglite',
    query: (sql, params, opts) => serial(() => run(pg, sql, params, opts)),
    transaction: (fn) =>
      serial(() =>
        pg.transaction(async (tx) => {
          const q: Queryable = {
            query: (sql, params, opts) => run(tx as unknown as PGlite, sql, params, opts),
            async copyIn(copySql, data, opts) {
              throwIfAborted(opts?.signal)
              if (!/\bFROM STDIN\b/i.test(copySql)) throw new Error(`copyIn: not a COPY … FROM STDIN: ${firstLine(copySql)}`)
              try {
                await tx.query(copySql.replace(/\bFROM STDIN\b/i, "FROM '/dev/blob'"), [], { blob: new Blob([data as Uint8Array<ArrayBuffer>]) })
              } catch (err) {
                throw DbError.wrap(err)
              }
            },
          }
          return fn(q)
        }),
      ),
    async close() {
      await serial(() => pg.close())
      if (lockFile) fs.rmSync(lockFile, { force: true })
    },
  }
}

/** Statements written to return rows: SELECT, WITH … SELECT, or anything with RETURNING. */
export function returnsRows(sql: string): boolean {
  const body = sql.replace(/--.*$/gm, '').trim()
  return /^(SELECT|WITH|VALUES|TABLE)\b/i.test(body) || /\bRETURNING\b/i.test(body)
}

function firstLine(sql: string): string {
  return sql.replace(/--.*$/gm, '').replace(/\s+/g, ' ').trim().slice(0, 100)
}

function acquireLock(dataDir: string): string {
  const lockFile = path.join(dataDir, '..', `${path.basename(dataDir)}.lock`)
  try {
    const pid = Number(fs.readFileSync(lockFile, 'utf8'))
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new DbError(
        `embedded database ${dataDir} is in use by process ${pid}; stop it (or use the HTTP API of the running server) and try again`,
      )
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  fs.writeFileSync(lockFile, String(process.pid))
  return lockFile
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
