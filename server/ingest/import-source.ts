import path from 'node:path'
import type { Db, Queryable } from '../db/db.ts'
import { openVectorSource } from './open.ts'
import { datasetChecksum } from './checksum.ts'
import { sourceCrs } from './source-crs.ts'
import { stageSource, type InvalidPolicy, type StageOptions, type StageReport } from './stage.ts'
import type { VectorSource } from './source.ts'
import { catalogChanged } from '../catalog/generation.ts'

/** Options every vector import (layers, admin units) takes. */
export interface SourceImportOptions {
  file: string
  /** name shown in messages and stored as source_file (uploads pass the original name) */
  displayName?: string
  crs?: string
  encoding?: string
  table?: string
  replace?: boolean
  invalid?: InvalidPolicy
  maxBytes: number
  /** vertices one feature may have (default polygons.ts DEFAULT_MAX_FEATURE_VERTICES) */
  maxFeatureVertices?: number
  signal?: AbortSignal
  progress?: (done: number, total: number | undefined) => void
}

export interface SourceReport extends StageReport {
  file: string
  format: string
  checksum: string
  crs: string
  crsNote?: string
  encoding?: string
}

/** What a caller does with an opened source: checks run in `prepare`, writes in the transaction. */
export interface ImportPlan<T> {
  tags: StageOptions['tags']
  /** inside the transaction, before staging (e.g. free a name being replaced) */
  begin?: (tx: Queryable) => Promise<void>
  /** inside the transaction, after staging: move ingest_clean into place */
  finish: (tx: Queryable, report: SourceReport) => Promise<T>
}

/**
 * open → resolve CRS → checksum → one transaction (begin, stage, finish) → close.
 * A failure anywhere leaves the database exactly as it was.
 */
export async function importSource<T>(db: Db, o: SourceImportOptions, prepare: (source: VectorSource) => Promise<ImportPlan<T>>): Promise<T> {
  const display = o.displayName ?? path.basename(o.file)
  const source = await openVectorSource(o.file, { encoding: o.encoding, table: o.table, maxBytes: o.maxBytes }, display)
  try {
    const plan = await prepare(source)
    const { crs, note } = await sourceCrs(db, source, o.crs)
    const checksum = await datasetChecksum(o.file)
    return await db.transaction(async (tx) => {
      await plan.begin?.(tx)
      const staged = await stageSource(tx, source, { crs, invalid: o.invalid ?? 'repair', tags: plan.tags, maxFeatureVertices: o.maxFeatureVertices, signal: o.signal, progress: o.progress })
      const report: SourceReport = { file: display, format: source.format, checksum, crs: crs.id, crsNote: note, encoding: source.encoding, ...staged }
      return plan.finish(tx, report)
    })
  } finally {
    catalogChanged()
    await source.close()
  }
}

export function missingField(source: VectorSource, field: string, option: string): string {
  return `${source.file}: no field '${field}' for ${option} (${fieldList(source)})`
}

/** The source's field names for a message; when they did not decode (U+FFFD), which encoding to pass. */
export function fieldList(source: Pick<VectorSource, 'fields' | 'encoding'>): string {
  const list = `fields: ${source.fields.join(', ') || 'none'}`
  if (!source.fields.some((f) => f.includes('\uFFFD'))) return list
  const hint = source.encoding === 'gbk' || source.encoding === 'gb18030'
    ? 'the field names are not valid GBK text: pass --encoding UTF-8 (or the right one)'
    : `the field names are not valid ${(source.encoding ?? 'UTF-8').toUpperCase()} text: Chinese .dbf files are often GBK, pass --encoding GBK or add a .cpg file`
  return `${list}; ${hint}`
}

/** The refusal of an import that yields no polygon area: what was read and dropped, and that nothing changed. */
export function emptyImport(report: SourceReport, what: string): string {
  const dropped = report.droppedAfterRepair.length + report.emptyGeometry.length
  return `${report.file}: no polygon area to import (${report.read} feature(s) read, ${dropped} empty or degenerate); ${what} was not changed — check the file, or pass --allow-empty to store an empty version`
}
