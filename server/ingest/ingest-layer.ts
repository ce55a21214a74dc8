import path from 'node:path'
import type { Db } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput, Conflict } from '../errors.ts'
import { openVectorSource } from './open.ts'
import { datasetChecksum } from './checksum.ts'
import { sourceCrs } from './source-crs.ts'
import { stageSource, type InvalidPolicy, type StageReport } from './stage.ts'
import { checkKind, checkName, checkVintage } from './names.ts'

const INSERT_FEATURES = loadSql(import.meta.url, './insert-features.sql')

export interface IngestLayerOptions {
  file: string
  /** name shown in messages and stored as source_file (uploads pass the original name) */
  displayName?: string
  layer: string
  kind: string
  vintage: string
  crs?: string
  encoding?: string
  categoryField?: string
  table?: string
  replace?: boolean
  invalid?: InvalidPolicy
  maxBytes: number
  signal?: AbortSignal
  progress?: (done: number, total: number | undefined) => void
}

export interface LayerImportReport extends StageReport {
  layerId: number
  layer: string
  vintage: string
  kind: string
  file: string
  format: string
  checksum: string
  crs: string
  crsNote?: string
  encoding?: string
  loaded: number
  replaced: boolean
  areaM2: number
}

/**
 * read → reproject → validate → load, in one transaction: a failure anywhere leaves
 * the database exactly as it was.
 */
export async function ingestLayer(db: Db, o: IngestLayerOptions): Promise<LayerImportReport> {
  const layer = checkName(o.layer, 'layer name')
  const kind = checkKind(o.kind)
  const vintage = checkVintage(o.vintage)
  const display = o.displayName ?? path.basename(o.file)
  const source = await openVectorSource(o.file, { encoding: o.encoding, table: o.table, maxBytes: o.maxBytes }, display)
  try {
    if (o.categoryField && !source.fields.includes(o.categoryField)) {
      throw new BadInput(`${source.file}: no field '${o.categoryField}' for --category-field (fields: ${source.fields.join(', ') || 'none'})`)
    }
    const { crs, note } = await sourceCrs(db, source, o.crs)
    const checksum = await datasetChecksum(o.file)
    const existing = await db.query('SELECT id FROM layer WHERE name = $1 AND vintage = $2', [layer, vintage])
    if (existing.length && !o.replace) {
      throw new Conflict(`layer '${layer}' vintage ${vintage} already exists; pass --replace to overwrite it, or give another --vintage`)
    }
    return await db.transaction(async (tx) => {
      if (o.replace) await tx.query('DELETE FROM layer WHERE name = $1 AND vintage = $2', [layer, vintage])
      const cat = o.categoryField
      const staged = await stageSource(tx, source, {
        crs,
        invalid: o.invalid ?? 'repair',
        tags: (f) => ({ category: cat && f.attributes[cat] != null ? String(f.attributes[cat]) : null }),
        signal: o.signal,
        progress: o.progress,
      })
      const report = {
        file: display,
        format: source.format,
        checksum,
        crs: crs.id,
        crsNote: note,
        encoding: source.encoding,
        ...staged,
      }
      const [row] = await tx.query<{ id: number }>(
        `INSERT INTO layer (name, kind, vintage, source_file, source_checksum, source_crs, category_field, feature_count, report)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) RETURNING id`,
        [layer, kind, vintage, display, checksum, crs.id, o.categoryField ?? null, JSON.stringify(report)],
      )
      const layerId = row!.id
      const [stats] = await tx.query<{ n: number; area: number }>(INSERT_FEATURES, [layerId], { signal: o.signal })
      await tx.query('UPDATE layer SET feature_count = $2 WHERE id = $1', [layerId, stats!.n])
      return { layerId, layer, vintage, kind, loaded: stats!.n, replaced: existing.length > 0, areaM2: stats!.area, ...report }
    })
  } finally {
    await source.close()
  }
}
