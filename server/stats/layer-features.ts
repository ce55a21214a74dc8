// A layer's features read for the cell engine: EWKB from the database, parsed, oriented and
// projected (feature-parse.ts), whole or those whose boxes meet a box.
// The geometry comes as PostgreSQL prints it (hex EWKB text): measured, that arrives in
// ~60 % of the time of ST_AsBinary's bytea, whose hex text node-postgres decodes more slowly.
// A big layer is read in consecutive id ranges, all queries sent at once: the server works
// on the later ranges (on other cores) while this process parses the first.
import type { Queryable } from '../db/db.ts'
import type { Laea } from './laea.ts'
import { parseInWorker, parseMinRows, parseThreads, unpackFeatures, workersReady } from './parse-pool.ts'
import { FeatureParser } from './feature-parse.ts'
import type { Feat } from './union-boundary.ts'

export interface FeatureRow { id: string; category: string | null; wkb: string | Uint8Array }

export interface IdRange { lo: number; hi: number; count: number }

/** Features per tile, about, when a layer is read in square tiles (cell coverage, contacts): 1.5×10⁵ survey patches hold ~3×10⁶ vertices (~0.5 GB at work). */
export const TILE_FEATURES = 150_000

/** features per query when a layer is read in id ranges */
export const CHUNK_FEATURES = 1200
const MAX_CHUNKS = 8

const COLUMNS = 'SELECT id::text AS id, category, geom AS wkb FROM feature WHERE layer_id = $1'
const WHOLE = `${COLUMNS} ORDER BY id`
const IN_BOX = `${COLUMNS} AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490) ORDER BY id`
const WHOLE_IDS = `${COLUMNS} AND id BETWEEN $2 AND $3 ORDER BY id`
const IN_BOX_IDS = `${COLUMNS} AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490) AND id BETWEEN $6 AND $7 ORDER BY id`

export interface LayerRead {
  /** creation time, text (part of the feature cache's keys) */
  created: string
  /** the layer's contacts are kept (layer-contacts.ts) */
  prepared: boolean
  /** its feature ids, for reading in id ranges (undefined when it has no features) */
  range?: IdRange
}

/** What reading each layer needs, in one query: creation time, whether contacts are kept, lowest and highest feature id (two index probes) and count. */
export async function layerReads(db: Queryable, layerIds: number[], signal?: AbortSignal): Promise<Map<number, LayerRead>> {
  const rows = await db.query<{ id: number; created: string; prepared: boolean; n: number; lo: number | null; hi: number | null }>(
    `SELECT l.id, l.created_at::text AS created, l.contacts IS NOT NULL AS prepared, l.feature_count AS n,
            (SELECT min(f.id) FROM feature f WHERE f.layer_id = l.id)::float8 AS lo,
            (SELECT max(f.id) FROM feature f WHERE f.layer_id = l.id)::float8 AS hi
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

/**
 * The rows of `queries` parsed in order: each big range handed to a parse worker as soon as
 * it has come (parse-pool.ts); small ones, and all while no worker has started yet, parsed here.
 */
export async function readFeatures(queries: Promise<FeatureRow[]>[], pr: Laea): Promise<Feat[]> {
  const parser = new FeatureParser(pr)
  const parts: (Promise<Feat[]> | Feat[])[] = []
  for (const q of queries) {
    const rows = await q
    if (parseThreads() > 0 && rows.length >= parseMinRows() && typeof rows[0]!.wkb === 'string' && workersReady()) {
      const p = parseInWorker(rows as { id: string; category: string | null; wkb: string }[], pr).then((packed) => {
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
