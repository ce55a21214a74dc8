// A layer's features read for the cell engine: EWKB from the database, parsed, oriented and
// projected (feature-parse.ts), whole or those whose boxes meet a box.
// The geometry comes as PostgreSQL prints it (hex EWKB text): measured, that arrives in
// ~60 % of the time of ST_AsBinary's bytea, whose hex text node-postgres decodes more slowly.
// A big layer is read in consecutive id ranges, all queries sent at once: the server works
// on the later ranges (on other cores) while this process parses the first.
import { inZones } from '../../../db/feature-zones.ts'
import type { Queryable } from '../../../db/db.ts'
import { canCopy, eachCopyRow } from '../../../db/copy-columns.ts'
import type { Laea } from '../../../geom/laea.ts'
import { PARSE_POOL, unpackFeatures } from '../threads/parse-pool.ts'
import { current } from '../../../scoped.ts'
import { FeatureParser } from './feature-parse.ts'
import type { Feat } from '../union-boundary.ts'

export interface FeatureRow { id: string; category: string | null; wkb: string | Uint8Array }

export interface IdRange { lo: number; hi: number; count: number }

/** Features per tile, about, when a layer is read in square tiles (cell coverage, contacts): 1.5×10⁵ survey patches hold ~3×10⁶ vertices (~0.5 GB at work). */
export const TILE_FEATURES = 150_000

/** features per query when a layer is read in id ranges */
export const CHUNK_FEATURES = 1200
const MAX_CHUNKS = 8

const COLUMNS = 'SELECT id::text AS id, category, geom AS wkb FROM feature WHERE layer_id = $1'
const WHOLE = `${COLUMNS} ORDER BY feature.id`
const IN_BOX = `${COLUMNS} AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490)${inZones('$1', '$2', '$4')} ORDER BY feature.id`
const WHOLE_IDS = `${COLUMNS} AND id BETWEEN $2 AND $3 ORDER BY feature.id`
const IN_BOX_IDS = `${COLUMNS} AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490)${inZones('$1', '$2', '$4')} AND id BETWEEN $6 AND $7 ORDER BY feature.id`

export interface LayerRead {
  /** creation time, text (part of the feature cache's keys) */
  created: string
  /** the layer's contacts are kept (cells/read/contacts.ts) */
  prepared: boolean
  /** its feature ids, for reading in id ranges (undefined when it has no features) */
  range?: IdRange
}

/**
 * What reading each layer needs, in one query: creation time, whether contacts are kept,
 * lowest and highest feature id (two probes of the (layer_id, id) index) and count. Written
 * as row comparisons ordered like that index: for min(id) / max(id) … WHERE layer_id = l.id
 * the planner walked the primary key filtering on layer_id (ids and layers correlate, so
 * it passed every other layer's features: 30–54 ms at 5×10⁴ features, EXPLAIN ANALYZE).
 */
export async function layerReads(db: Queryable, layerIds: number[], signal?: AbortSignal): Promise<Map<number, LayerRead>> {
  const rows = await db.query<{ id: number; created: string; prepared: boolean; n: number; lo: number | null; hi: number | null }>(
    `SELECT l.id, l.created_at::text AS created, l.contacts IS NOT NULL AS prepared, l.feature_count AS n,
            (SELECT CASE WHEN f.layer_id = l.id THEN f.id END FROM feature f
              WHERE (f.layer_id, f.id) >= (l.id, 0::bigint) ORDER BY f.layer_id, f.id LIMIT 1)::float8 AS lo,
            (SELECT CASE WHEN f.layer_id = l.id THEN f.id END FROM feature f
              WHERE (f.layer_id, f.id) <= (l.id, 9223372036854775807) ORDER BY f.layer_id DESC, f.id DESC LIMIT 1)::float8 AS hi
     FROM layer l WHERE l.id = ANY($1::int[])`, [layerIds], { signal })
  return new Map(rows.map((r) => [Number(r.id), {
    created: r.created,
    prepared: r.prepared,
    range: r.lo === null ? undefined : { lo: Number(r.lo), hi: Number(r.hi), count: Number(r.n) },
  }]))
}

/**
 * The queries for a layer's features (all, or those whose boxes meet `box`, lon/lat), sent
 * now: one, or one per id range of about CHUNK_FEATURES when `range` is given. Their rows,
 * concatenated in order, are in id order.
 */
export function queryFeatures(db: Queryable, layerId: number, box: readonly number[] | undefined, signal?: AbortSignal, range?: IdRange): Promise<FeatureRow[]>[] {
  const k = range ? Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(range.count / CHUNK_FEATURES))) : 1
  if (k === 1) return [box ? db.query<FeatureRow>(IN_BOX, [layerId, ...box], { signal }) : db.query<FeatureRow>(WHOLE, [layerId], { signal })]
  const { lo, hi } = range!
  const out: Promise<FeatureRow[]>[] = []
  for (let i = 0; i < k; i++) {
    const a = lo + Math.floor((i * (hi - lo + 1)) / k)
    const b = lo + Math.floor(((i + 1) * (hi - lo + 1)) / k) - 1
    out.push(box ? db.query<FeatureRow>(IN_BOX_IDS, [layerId, ...box, a, b], { signal }) : db.query<FeatureRow>(WHOLE_IDS, [layerId, a, b], { signal }))
  }
  return out
}

// the same reads as binary COPY (PostgreSQL): values from current_setting (Db.copyBinary)
const COPY_COLUMNS = "SELECT id, category, geom FROM feature WHERE layer_id = current_setting('ecocensus.layer')::int"
const COPY_BOX = " AND geom && ST_MakeEnvelope(current_setting('ecocensus.x0')::float8, current_setting('ecocensus.y0')::float8, current_setting('ecocensus.x1')::float8, current_setting('ecocensus.y1')::float8, 4490)" +
  inZones("current_setting('ecocensus.layer')::int", "current_setting('ecocensus.x0')::float8", "current_setting('ecocensus.x1')::float8")
// by id, in the zones (feature partitions) the features lie in: without them every partition's
// id index is searched for every id, and the plan covers every partition (PostgreSQL 15,
// 8 000 ids: 60–90 ms against 15 ms in the one zone; a zone list written into the statement
// lets the planner drop the other partitions before planning them)
const COPY_IDS = (zones: string) => `SELECT id, category, geom FROM feature WHERE zone IN (${zones}) AND id = ANY(current_setting('ecocensus.ids')::bigint[]) ORDER BY id`
const BY_IDS = 'SELECT id::text AS id, category, geom AS wkb FROM feature WHERE zone = ANY($2::smallint[]) AND id = ANY($1::bigint[]) ORDER BY feature.id'

/**
 * A layer's features (all, or those whose boxes meet `box`, lon/lat), parsed: by binary
 * COPY where the database streams it (no text to receive or decode: ~half the time of
 * the hex rows on PostGIS, measured), else by queryFeatures and readFeatures.
 */
export async function readLayer(db: Queryable, layerId: number, box: readonly number[] | undefined, pr: Laea, signal?: AbortSignal, range?: IdRange): Promise<Feat[]> {
  if (!canCopy(db)) return readFeatures(queryFeatures(db, layerId, box, signal, range), pr)
  const settings: Record<string, string> = { layer: String(layerId) }
  if (box) ['x0', 'y0', 'x1', 'y1'].forEach((k, i) => { settings[k] = String(box[i]) })
  const buf = await db.copyBinary(`${COPY_COLUMNS}${box ? COPY_BOX : ''} ORDER BY id`, settings, { signal })
  return parseCopy(buf, pr)
}

/** Features by id (text ids, in id order), as readLayer reads them; `zones`: the feature table's zones they lie in (every one of them). */
export async function readFeatureIds(db: Queryable, ids: string[], zones: readonly number[], pr: Laea, signal?: AbortSignal): Promise<Feat[]> {
  if (!ids.length) return []
  // numbers the database gave as smallint, checked again before they are written into SQL
  if (!zones.length || !zones.every((z) => Number.isInteger(z) && Math.abs(z) < 32768)) throw new Error(`feature zones [${zones.join(', ')}]: whole numbers of a smallint expected`)
  if (!canCopy(db)) {
    const queries: Promise<FeatureRow[]>[] = []
    for (let i = 0; i < ids.length; i += CHUNK_FEATURES) queries.push(db.query<FeatureRow>(BY_IDS, [ids.slice(i, i + CHUNK_FEATURES), zones], { signal }))
    return readFeatures(queries, pr)
  }
  return parseCopy(await db.copyBinary(COPY_IDS(zones.join(',')), { ids: `{${ids.join(',')}}` }, { signal }), pr)
}

/** The features of binary COPY rows (id int8, category text, geom EWKB), in row order (db/copy-columns.ts). */
export function parseCopy(b: Buffer, pr: Laea): Feat[] {
  const parser = new FeatureParser(pr)
  const out: Feat[] = []
  eachCopyRow(b, 3, (at, length, dv) => {
    const id = String(dv.getBigInt64(at[0]!))
    const category = length[1]! < 0 ? null : b.toString('utf8', at[1]!, at[1]! + length[1]!)
    const f = parser.parse(id, category, b, at[2]!)
    if (f) out.push(f)
  })
  return out
}

/**
 * The rows of `queries` parsed in order: each big range handed to a parse worker as soon as
 * it has come (parse-pool.ts); small ones, and all while no worker has started yet, parsed here.
 */
export async function readFeatures(queries: Promise<FeatureRow[]>[], pr: Laea): Promise<Feat[]> {
  const parser = new FeatureParser(pr)
  const parts: (Promise<Feat[]> | Feat[])[] = []
  const pool = current(PARSE_POOL)
  for (const q of queries) {
    const rows = await q
    if (pool.threads > 0 && rows.length >= pool.minRows && typeof rows[0]!.wkb === 'string' && pool.workersReady()) {
      const p = pool.parse(rows as { id: string; category: string | null; wkb: string }[], pr).then((packed) => {
        const out: Feat[] = []
        unpackFeatures(packed, rows, out)
        return out
      })
      p.catch(() => {}) // met when awaited below
      parts.push(p)
    } else {
      const out: Feat[] = []
      parser.parseRows(rows, out)
      parts.push(out)
    }
  }
  const feats: Feat[] = []
  for (const p of parts) for (const f of await p) feats.push(f)
  return feats
}
