import type { Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import type { CrsDef } from '../crs/registry.ts'
import { reprojector } from '../crs/reproject.ts'
import type { SourceFeature, VectorSource } from './source.ts'
import { toStoragePolygons, type GeometryFixes } from './polygons.ts'

const CLEAN_SQL = loadSql(import.meta.url, './clean.sql')
const BATCH = 250
/** a batch is also flushed at this much GeoJSON text, so that big features go a few at a time */
const BATCH_CHARS = 8 << 20

export type InvalidPolicy = 'repair' | 'fail'

export interface StageOptions {
  crs: CrsDef
  invalid: InvalidPolicy
  /** extra values per feature (category, unit code …), stored in the stage's tags column */
  tags: (f: SourceFeature) => Record<string, string | null>
  /** vertices one feature may have (polygons.ts) */
  maxFeatureVertices?: number
  signal?: AbortSignal
  progress?: (done: number, total: number | undefined) => void
}

export interface StageReport {
  read: number
  emptyGeometry: number[]
  fixes: GeometryFixes
  repaired: { index: number; reason: string }[]
  droppedAfterRepair: number[]
}

/**
 * Streams a source into temp table ingest_stage in batches, then into ingest_clean with
 * validity recorded and invalid geometry repaired. Both tables vanish at COMMIT or
 * ROLLBACK, so the caller's transaction decides what survives.
 */
export async function stageSource(tx: Queryable, source: VectorSource, opts: StageOptions): Promise<StageReport> {
  await tx.query('CREATE TEMP TABLE ingest_stage (src_index integer, attributes jsonb, tags jsonb, gj text) ON COMMIT DROP')
  const rp = reprojector(opts.crs)
  const fixes: GeometryFixes = { closedRings: 0, droppedRings: 0 }
  const emptyGeometry: number[] = []
  let batch: unknown[][] = []
  let batchChars = 0
  let read = 0
  const flush = async () => {
    if (!batch.length) return
    const values = batch.map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`).join(', ')
    await tx.query(`INSERT INTO ingest_stage (src_index, attributes, tags, gj) VALUES ${values}`, batch.flat(), { signal: opts.signal })
    batch = []
    batchChars = 0
  }
  for await (const f of source.features(opts.signal)) {
    read++
    const where = `${source.file}: feature ${f.index + 1}`
    const polys = toStoragePolygons(f.geometry, rp, where, fixes, opts.maxFeatureVertices)
    if (!polys) {
      emptyGeometry.push(f.index)
      continue
    }
    const gj = JSON.stringify({ type: 'MultiPolygon', coordinates: polys })
    batch.push([f.index, JSON.stringify(jsonSafe(f.attributes)), JSON.stringify(opts.tags(f)), gj])
    batchChars += gj.length
    if (batch.length >= BATCH || batchChars >= BATCH_CHARS) {
      await flush()
      opts.progress?.(read, source.expectedCount)
    }
  }
  await flush()
  opts.progress?.(read, source.expectedCount)
  if (read === 0) throw new BadInput(`${source.file}: holds no features`)
  if (emptyGeometry.length === read) throw new BadInput(`${source.file}: all ${read} features have empty geometry`)

  await tx.query(
    'CREATE TEMP TABLE ingest_clean (src_index integer, attributes jsonb, tags jsonb, was_valid boolean, reason text, geom geometry(MultiPolygon, 4490)) ON COMMIT DROP',
  )
  const [cleaned] = await tx.query<{ n: number }>(CLEAN_SQL, [], { signal: opts.signal })
  const staged = read - emptyGeometry.length
  if (cleaned!.n !== staged) throw new Error(`validation lost rows: ${staged} staged, ${cleaned!.n} checked`)
  const repaired = await tx.query<{ src_index: number; reason: string }>(
    'SELECT src_index, reason FROM ingest_clean WHERE NOT was_valid ORDER BY src_index',
  )
  if (repaired.length && opts.invalid === 'fail') {
    const first = repaired[0]!
    throw new BadInput(
      `${source.file}: ${repaired.length} invalid polygon(s), first feature ${first.src_index + 1}: ${first.reason}; fix them or import with --invalid repair`,
    )
  }
  const dropped = await tx.query<{ src_index: number }>('SELECT src_index FROM ingest_clean WHERE ST_IsEmpty(geom) ORDER BY src_index')
  return {
    read,
    emptyGeometry,
    fixes,
    repaired: repaired.map((r) => ({ index: r.src_index, reason: r.reason })),
    droppedAfterRepair: dropped.map((r) => r.src_index),
  }
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
