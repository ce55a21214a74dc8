// The one database seam. Two backends implement it: embedded PGlite with PostGIS
// (default) and node-postgres against a PostgreSQL/PostGIS server. Nothing outside
// server/db/ knows which one runs.

export type Row = Record<string, unknown>

export interface QueryOptions {
  signal?: AbortSignal
  /** On PostgreSQL, a prepared-statement name: the statement is parsed and planned once
   *  per connection and reused (same name must always carry the same SQL). */
  name?: string
}

export interface Queryable {
  query<T extends object = Row>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<T[]>
  /**
   * Sends `data` to `COPY table (columns) FROM STDIN (FORMAT binary)` (PGlite reads it as
   * its /dev/blob): bulk rows with no SQL text to build or parse. Given by transactions of
   * both backends; undefined elsewhere.
   */
  copyIn?(copySql: string, data: Uint8Array, opts?: QueryOptions): Promise<void>
}

export interface Db extends Queryable {
  /** 'pglite' or 'pg' — for /healthz and logs, never for branching spatial SQL (tiles ask
   *  the database whether it can encode MVT, see server/tiles/vector-tile.ts). */
  readonly backend: 'pglite' | 'pg'
  /** Runs fn inside BEGIN/COMMIT; any throw rolls everything back. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /**
   * The rows of `COPY (select) TO STDOUT (FORMAT binary)` as one buffer, where the backend
   * can stream COPY (PostgreSQL; undefined on PGlite: callers use query). COPY takes no
   * bind parameters: `select` reads its values with current_setting('ecocensus.<name>'),
   * and `settings` gives them, each sent as a parameter of set_config in the same
   * transaction. Binary rows arrive with no text to decode: geometry as EWKB bytes.
   */
  copyBinary?(select: string, settings: Record<string, string>, opts?: QueryOptions): Promise<Buffer>
  /**
   * Where another thread of this process may open connections of its own to the same
   * database (PostgreSQL: measure workers, stats/cells/threads/measure-pool.ts); undefined on PGlite,
   * whose database lives in this thread.
   */
  readonly server?: { url: string; statementTimeoutMs: number }
  close(): Promise<void>
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new Error('aborted')
}
