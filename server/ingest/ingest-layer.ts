import type { Db, Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput, Conflict } from '../errors.ts'
import { emptyImport, importSource, missingField, type SourceImportOptions, type SourceReport } from './import-source.ts'
import { checkKind, checkName, checkVintage } from './names.ts'
import { claimVersion, CURRENT } from '../catalog/versions.ts'
import { tagsOf } from './stage-parts.ts'

const INSERT_FEATURES = loadSql(import.meta.url, './insert-features.sql')

export interface IngestLayerOptions extends SourceImportOptions {
  layer: string
  kind: string
  vintage: string
  categoryField?: string
  /** store a version with no polygon area (else such an import is refused) */
  allowEmpty?: boolean
  /** who imports (audit: key name or cli:<user>) */
  actor?: string
  /**
   * A step after the features are loaded, in the import's transaction: the shells pass the
   * cell engine's contact finder (stats/cells/read/contacts.ts prepareLayer), so ingest does
   * not depend on an engine. Without it the engine finds the contacts on the layer's first
   * whole-layer run instead. Returns the number of features with contacts.
   */
  prepare?: LayerStep
}

export type LayerStep = (tx: Queryable, layerId: number, o: { signal?: AbortSignal }) => Promise<number>

export interface LayerImportReport extends SourceReport {
  layerId: number
  layer: string
  vintage: string
  kind: string
  loaded: number
  replaced: boolean
  /** the version this import retired (--replace), kept in the layer's history */
  retiredId?: number
  areaM2: number
  /**
   * features meeting another feature of the layer other than vertex for vertex along a
   * shared edge (overlap, crossing, a vertex on another's edge, edges running on along one
   * line into another's, a repeated edge, or a box within another's): kept for the cell
   * engine (stats/cells/read/contacts.ts); overlaps and T-junctions of a tiling are among them.
   * Undefined when the import was given no `prepare` step.
   */
  contacts?: number
}

/** A layer version: name + vintage; features keep their attributes and optional category. */
export async function ingestLayer(db: Db, o: IngestLayerOptions): Promise<LayerImportReport> {
  const layer = checkName(o.layer, 'layer name')
  const kind = checkKind(o.kind)
  const vintage = checkVintage(o.vintage)
  const cat = o.categoryField
  return importSource(db, o, async (source) => {
    if (cat && !source.fields.includes(cat)) throw new BadInput(missingField(source, cat, '--category-field'))
    // fail fast before reading the file; claimVersion decides inside the transaction
    const existing = await db.query(`SELECT id FROM layer WHERE name = $1 AND vintage = $2 AND ${CURRENT}`, [layer, vintage])
    if (existing.length && !o.replace) {
      throw new Conflict(`layer '${layer}' vintage ${vintage} already exists; pass --replace to add a new version of it (the old one is kept in its history), or give another --vintage`)
    }
    let retiredId: number | undefined
    let layerId = 0
    const tagFields: Record<string, string> = cat ? { category: cat } : {}
    return {
      // the category from its field, given as fields so that workers can stage the files too (stage-parts.ts)
      tags: tagsOf(tagFields),
      tagFields,
      what: { layer, vintage, kind, actor: o.actor },
      begin: async (tx, head) => {
        retiredId = (await claimVersion(tx, 'layer', layer, vintage, { replace: o.replace, actor: o.actor })).retiredId
        const [row] = await tx.query<{ id: number }>(
          `INSERT INTO layer (name, kind, vintage, source_file, source_checksum, source_crs, category_field, feature_count, report, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 0, '{}', $8) RETURNING id`,
          [layer, kind, vintage, head.file, head.checksum, head.crs, cat ?? null, o.actor ?? null],
        )
        layerId = row!.id
        return { sql: INSERT_FEATURES, params: [layerId] }
      },
      finish: async (tx, report, stored) => {
        if (!o.allowEmpty && !(stored.n > 0 && stored.areaM2 > 0)) throw new BadInput(emptyImport(report, `layer '${layer}' vintage ${vintage}`))
        const contacts = o.prepare ? await o.prepare(tx, layerId, { signal: o.signal }) : undefined
        // zone_reach: how far from a box the centre of a feature meeting it can be (reads of a box prune the feature table's zones by it)
        await tx.query('UPDATE layer SET feature_count = $2, report = $3, zone_reach = (SELECT max(box_x1 - box_x0) / 2 FROM feature WHERE layer_id = $1) WHERE id = $1', [layerId, stored.n, JSON.stringify({ ...report, contacts })])
        return { layerId, layer, vintage, kind, loaded: stored.n, replaced: retiredId !== undefined, retiredId, areaM2: stored.areaM2, contacts, ...report }
      },
    }
  })
}
