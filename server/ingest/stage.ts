import { setImmediate } from 'node:timers/promises'
import type { Db, Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import type { CrsDef } from '../crs/registry.ts'
import { reprojector } from '../crs/reproject.ts'
import type { SourceFeature, VectorSource } from './source.ts'
import { flatToStoragePolygons, toStoragePolygons, type GeometryFixes } from './polygons.ts'
import { densifyFeature } from './densify.ts'
import { CopyRows } from './copy-rows.ts'

const CHECK_SQL = loadSql(import.meta.url, './chunk-check.sql')
const STORE_SQL = loadSql(import.meta.url, './chunk-store.sql')
const MEASURE_SQL = loadSql(import.meta.url, './chunk-measure.sql')
/** CGCS2000 lon/lat, as the feature and unit tables store geometry */
const STORAGE_SRID = 4490
const COPY_SQL = 'COPY ingest_chunk (src_index, attributes, tags, geom) FROM STDIN (FORMAT binary)'
/** features per chunk: large enough that a round trip is nothing beside its work, small enough that memory stays flat */
const CHUNK_FEATURES = 5000
/** a chunk is also sent at this many bytes, so that big features go a few at a time */
const CHUNK_BYTES = 16 << 20

export type InvalidPolicy = 'repair' | 'fail'

/**
 * Where staged rows go: an INSERT … SELECT reading the CTE `fixed` (src_index, attributes,
 * tags, geom: repaired, EPSG:4490 MultiPolygon, possibly empty) and RETURNING area_m2.
 */
export interface StageSink {
  sql: string
  params: unknown[]
}

export interface StageOptions {
  invalid: InvalidPolicy
  /** extra values per feature (category, unit code …), stored in the stage's tags column */
  tags: (f: SourceFeature) => Record<string, string | null>
  sink: StageSink
  /** vertices one feature may have (polygons.ts) */
  maxFeatureVertices?: number
  /** edges of a projected source longer than this (its units) split before reprojection (densify.ts) */
  densify?: number
  signal?: AbortSignal
  progress?: (done: number, total: number | undefined) => void
  /** a database whose other connections may check and measure chunks alongside the import's (PostgreSQL); none on PGlite */
  checker?: Db
  /** the parts are some of an import's (a worker's file, stage-parts.ts): that all their features are empty is no refusal here */
  someParts?: boolean
}

export interface StagePart {
  source: VectorSource
  crs: CrsDef
}

export interface StageReport {
  read: number
  emptyGeometry: number[]
  fixes: GeometryFixes
  repaired: { index: number; reason: string }[]
  droppedAfterRepair: number[]
}

export interface StageTotals {
  /** rows the sink stored */
  stored: number
  /** their area (the sink's area_m2) */
  areaM2: number
  /** per part: features read and the src_index of its first (parts after the first continue the numbering) */
  parts: { read: number; firstIndex: number }[]
}

/**
 * Streams the parts, in order, through the sink in chunks. Node reads, reprojects and
 * encodes a chunk while the server works on the ones before: the import's connection
 * checks each chunk (chunk-check.sql) and stores it (chunk-store.sql); on PostgreSQL a
 * second connection (`checker`) measures the ellipsoidal areas meanwhile (chunk-measure.sql,
 * about half of the server's work on a chunk), so both cores are busy; on PGlite (one
 * connection) the store measures them itself. Memory holds three chunks whatever the size of the input. Feature k of a later
 * part is staged as src_index (features of the parts before) + k. The caller's transaction
 * decides what survives: the temp tables vanish at COMMIT or ROLLBACK, and the checker only
 * reads.
 */
export async function stageSources(tx: Queryable, parts: StagePart[], opts: StageOptions): Promise<StageReport & StageTotals> {
  if (!tx.copyIn) throw new Error('stageSources: the transaction cannot COPY')
  // PostGIS functions are costed high, so the planner JIT-compiles each chunk's statement:
  // ~0.5 s of a 1.2 s chunk of 5 000 patches (EXPLAIN ANALYZE), for a plan run once
  await tx.query('SET LOCAL jit = off')
  await tx.query('CREATE TEMP TABLE ingest_chunk (src_index integer, attributes jsonb, tags jsonb, geom geometry) ON COMMIT DROP')
  await tx.query('CREATE TEMP TABLE ingest_issue (src_index integer, reason text, dropped boolean) ON COMMIT DROP')
  const checker = opts.checker ? await openChecker(opts.checker) : undefined
  try {
    return await stageWith(tx, checker, parts, opts)
  } finally {
    await checker?.close()
  }
}

interface Measured { idx: number[]; area: number[] }

async function stageWith(tx: Queryable, checker: Checker | undefined, parts: StagePart[], opts: StageOptions): Promise<StageReport & StageTotals> {
  const k = opts.sink.params.length
  const storeSql = STORE_SQL.replace('/*SINK*/', opts.sink.sql).replace('/*INVALID*/', `$${k + 1}`).replace('/*FIXED*/', checker
    ? `SELECT r.*, CASE WHEN r.src_index <> ALL($${k + 1}::int[]) THEN m.area WHEN ST_IsEmpty(r.geom) THEN 0 ELSE ST_Area(r.geom::geography) END AS area_m2
       FROM repaired r JOIN unnest($${k + 2}::int[], $${k + 3}::float8[]) AS m(src_index, area) USING (src_index)`
    : 'SELECT r.*, CASE WHEN ST_IsEmpty(r.geom) THEN 0 ELSE ST_Area(r.geom::geography) END AS area_m2 FROM repaired r')
  const fixes: GeometryFixes = { closedRings: 0, droppedRings: 0 }
  const emptyGeometry: number[] = []
  const totals: StageTotals = { stored: 0, areaM2: 0, parts: [] }
  const expected = parts.every((p) => p.source.expectedCount !== undefined) ? parts.reduce((s, p) => s + p.source.expectedCount!, 0) : undefined
  const signal = opts.signal
  const ring = [new CopyRows(), new CopyRows(), new CopyRows()]
  const stores: Promise<void>[] = []
  let sent = 0
  let read = 0
  const store = async (data: Buffer, measured: Promise<Measured> | undefined, done: number) => {
    await tx.copyIn!(COPY_SQL, data, { signal })
    const invalid = (await tx.query<{ src_index: number }>(CHECK_SQL, [], { signal })).map((x) => x.src_index)
    const m = measured ? await measured : undefined
    const params = m ? [...opts.sink.params, invalid, m.idx, m.area] : [...opts.sink.params, invalid]
    const [r] = await tx.query<{ n: number; area: number }>(storeSql, params, { signal })
    await tx.query('TRUNCATE ingest_chunk', [], { signal })
    totals.stored += r!.n
    totals.areaM2 += r!.area
    opts.progress?.(done, expected)
  }
  const send = async () => {
    const b = ring[sent % 3]!
    if (!b.rows) return
    const data = b.finish()
    const measured = checker?.measure(data, signal)
    measured?.catch(() => undefined) // awaited by its store
    const previous = stores.at(-1) ?? Promise.resolve()
    const p = previous.then(() => store(data, measured, read))
    p.catch(() => undefined) // awaited below; not an unhandled rejection meanwhile
    stores.push(p)
    sent++
    // the buffer filled next was chunk sent−3's: it must be stored before it is reused
    if (sent >= 3) await stores[sent - 3]
    ring[sent % 3]!.reset()
  }
  const inflight = () => stores.length > 0
  for (const { source, crs } of parts) {
    const rp = reprojector(crs)
    const first = read
    let partRead = 0
    const densify = opts.densify && !crs.geographic ? opts.densify : 0
    for await (const g of source.features(opts.signal)) {
      const f = densify ? densifyFeature(g, densify) : g
      read++
      partRead++
      const index = first + f.index
      const where = `${source.file}: feature ${f.index + 1}`
      const polys = f.flat ? flatToStoragePolygons(f.flat, rp, where, fixes, opts.maxFeatureVertices) : toStoragePolygons(f.geometry, rp, where, fixes, opts.maxFeatureVertices)
      if (!polys) {
        emptyGeometry.push(index)
        continue
      }
      // let the event loop move the chunk in flight (socket writes, the server's answer):
      // reading from the 4 MB block leaves it no turn for thousands of features otherwise
      if ((read & 255) === 0 && inflight()) await setImmediate()
      const b = ring[sent % 3]!
      b.feature(index, JSON.stringify(jsonSafe(f.attributes)), JSON.stringify(opts.tags(f)), polys, STORAGE_SRID)
      if (b.rows >= CHUNK_FEATURES || b.size >= CHUNK_BYTES) await send()
    }
    if (partRead === 0) throw new BadInput(`${source.file}: holds no features`)
    totals.parts.push({ read: partRead, firstIndex: first })
  }
  await send()
  await Promise.all(stores)
  opts.progress?.(read, expected)
  if (!opts.someParts) refuseEmpty(parts.map((p) => p.source.file), read, emptyGeometry.length)

  const staged = read - emptyGeometry.length
  const [dropped] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM ingest_issue WHERE dropped', [], { signal: opts.signal })
  if (totals.stored + dropped!.n !== staged) throw new Error(`staging lost rows: ${staged} staged, ${totals.stored} stored, ${dropped!.n} empty after repair`)
  const issues = await tx.query<{ src_index: number; reason: string; dropped: boolean }>('SELECT src_index, reason, dropped FROM ingest_issue ORDER BY src_index', [], { signal: opts.signal })
  if (opts.invalid === 'fail') refuseInvalid(parts.map((p) => p.source.file), totals.parts, issues.map((r) => ({ index: r.src_index, reason: r.reason })))
  return {
    read,
    emptyGeometry,
    fixes,
    repaired: issues.map((r) => ({ index: r.src_index, reason: r.reason })),
    droppedAfterRepair: issues.filter((r) => r.dropped).map((r) => r.src_index),
    ...totals,
  }
}

/** Refuses an import all of whose features (`read`, of files `files`) have empty geometry. */
export function refuseEmpty(files: string[], read: number, empty: number): void {
  if (empty === read) throw new BadInput(`${files.join(', ')}: all ${read} features have empty geometry`)
}

/** Refuses an import (--invalid fail) with invalid polygons: the first named by its file and its own feature number. */
export function refuseInvalid(files: string[], parts: StageTotals['parts'], repaired: StageReport['repaired']): void {
  const first = repaired[0]
  if (!first) return
  let k = 0
  while (k + 1 < parts.length && parts[k + 1]!.firstIndex <= first.index) k++
  throw new BadInput(`${files[k]}: ${repaired.length} invalid polygon(s), first feature ${first.index - (parts[k]?.firstIndex ?? 0) + 1}: ${first.reason}; fix them or import with --invalid repair`)
}

/** dBASE dates come back as Date; bigint-free JSON for jsonb. */
function jsonSafe(attrs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(attrs)) {
    if (v instanceof Date) out[k] = Number.isNaN(v.getTime()) ? null : v.toISOString().slice(0, 10)
    else if (typeof v === 'bigint') out[k] = v.toString()
    else if (v instanceof Uint8Array) out[k] = null
    else out[k] = v
  }
  return out
}

interface Checker {
  measure(data: Buffer, signal?: AbortSignal): Promise<Measured>
  close(): Promise<void>
}

/** A transaction on another connection, open until close(), that checks and measures chunks (chunk-measure.sql). */
async function openChecker(db: Db): Promise<Checker> {
  let ready!: (q: Queryable) => void
  let finish!: () => void
  const session = new Promise<Queryable>((resolve) => { ready = resolve })
  const finished = new Promise<void>((resolve) => { finish = resolve })
  const done = db.transaction(async (q) => {
    await q.query('SET LOCAL jit = off')
    await q.query('CREATE TEMP TABLE ingest_check (src_index integer, attributes jsonb, tags jsonb, geom geometry) ON COMMIT DROP')
    ready(q)
    await finished
    // it only read: end it without keeping anything
    throw ROLLBACK
  }).catch((err) => {
    if (err !== ROLLBACK) throw err
  })
  const q = await Promise.race([session, done.then(() => { throw new Error('the checking connection ended before it began') })])
  // one chunk at a time: a second COPY must not land in ingest_check before the first is measured
  let last: Promise<unknown> = Promise.resolve()
  return {
    measure(data, signal) {
      const run = async () => {
        await q.copyIn!(COPY_CHECK_SQL, data, { signal })
        const [m] = await q.query<Measured>(MEASURE_SQL, [], { signal })
        await q.query('TRUNCATE ingest_check', [], { signal })
        return { idx: m!.idx, area: m!.area.map(Number) }
      }
      const next = last.then(run, run)
      last = next.catch(() => undefined)
      return next
    },
    async close() {
      finish()
      await done
    },
  }
}

const ROLLBACK = Symbol('rollback')
const COPY_CHECK_SQL = 'COPY ingest_check (src_index, attributes, tags, geom) FROM STDIN (FORMAT binary)'
