// The statistics engine's primitives. Everything is measured as sets of *disjoint
// pieces* in the run_piece work table, so that areas add instead of having to be
// dissolved per unit:
//   flatten   a layer's features → pieces (only clusters of overlapping features are
//             dissolved; features overlapping nothing are copied, or measured in place)
//   intersect two piece sets → their overlap as pieces (red line ∩ protected area,
//             stable area between vintages, from→to class transitions)
//   union     piece sets → pieces covering their union once (ecological space)
//   measure   pieces × units → one area sum per unit and key (measure-units.ts)
// The database does what it does well (index joins, GEOS overlays, geodesic areas);
// this module decides which overlays are needed at all.
import type { Queryable } from '../../db/db.ts'
import { keysetPages } from '../../db/pages.ts'
import { loadSql } from '../../db/sql.ts'
import type { StepContext } from '../../runs/execute.ts'
import { categoryPrefix, layerKey, OVERLAY_GRID } from '../sums.ts'
import { findOverlaps, type FeatureShape } from './feature-overlaps.ts'
import { bboxOf, polygonsOf } from '../../geom/shapes.ts'

const OVERLAPS_SQL = loadSql(import.meta.url, './overlaps.sql')
const FLATTEN_SQL = loadSql(import.meta.url, './flatten.sql')
const INTERSECT_SQL = loadSql(import.meta.url, './intersect.sql')
const UNION_SQL = loadSql(import.meta.url, './union.sql')

export interface FlattenResult {
  /** prefix of the keys holding this layer's pieces: `L:<id>:` or, per category, `C:<id>:` */
  prefix: string
  /** whether per-category pieces were made */
  byCategory: boolean
  /** overlapping feature pairs found and clusters dissolved */
  overlaps: number
  clusters: number
  /** whether the layer total must be read from its own pieces (categories overlap each other) */
  ownTotal: boolean
  pieces: number
  /** whether features overlapping nothing were left in the feature table (measured from there) */
  inPlace: boolean
}

/**
 * Flattens layer `layerId` into pieces. With `byCategory`, pieces are made per category;
 * when features of different categories overlap, the layer's own flattened pieces are
 * made too, because the sum over categories would then count those overlaps twice.
 */
export async function flattenLayer(
  ctx: Pick<StepContext, 'db' | 'runId' | 'signal'>,
  layerId: number,
  byCategory: boolean,
  /** copy features overlapping nothing into run_piece (needed by overlaps, unions, change) */
  copySingles = true,
): Promise<FlattenResult> {
  const { db, runId, signal } = ctx
  const pairs = await overlapPairs(db, layerId, signal)
  const inPlace = !copySingles
  const insert = async (key: string, perCategory: boolean, clusters: Map<string, number>, copy = copySingles) => {
    const ids = [...clusters.keys()]
    const rows = await db.query<{ n: number }>(
      FLATTEN_SQL, [runId, key, layerId, perCategory, ids, ids.map((i) => clusters.get(i)!), OVERLAY_GRID, copy], { signal })
    return rows[0]!.n
  }
  if (!byCategory) {
    const clusters = clustersOf(pairs)
    const pieces = await insert(layerKey(layerId), false, clusters)
    return { prefix: layerKey(layerId), byCategory, overlaps: pairs.length, clusters: new Set(clusters.values()).size, ownTotal: true, pieces, inPlace }
  }
  const same = pairs.filter((p) => (p.ca ?? '') === (p.cb ?? ''))
  const byCat = clustersOf(same)
  let pieces = await insert(categoryPrefix(layerId), true, byCat)
  const crossing = same.length < pairs.length
  // with classes overlapping each other, the layer total needs its own flattening; its
  // single features are then always copied (the in-place path measures one key per feature)
  if (crossing) pieces += await insert(layerKey(layerId), false, clustersOf(pairs), true)
  return { prefix: categoryPrefix(layerId), byCategory, overlaps: pairs.length, clusters: new Set(byCat.values()).size, ownTotal: crossing, pieces, inPlace }
}

/** Overlapping feature pairs of a layer: in-process, PostGIS deciding the undecided. */
async function overlapPairs(db: Queryable, layerId: number, signal?: AbortSignal) {
  const features: FeatureShape[] = []
  for await (const page of keysetPages<{ id: string; category: string | null; wkb: Uint8Array }>(db, signal,
    `SELECT id::text AS id, category, ST_AsBinary(geom) AS wkb FROM feature
     WHERE layer_id = $1 AND id > $2 ORDER BY feature.id LIMIT 20000`, [layerId])) {
    for (const f of page) {
      const polys = polygonsOf(f.wkb)
      features.push({ id: f.id, category: f.category, polys, bbox: bboxOf(polys) })
    }
  }
  const found = findOverlaps(features)
  for (let i = 0; i < found.uncertain.length; i += 5000) {
    const chunk = found.uncertain.slice(i, i + 5000)
    found.pairs.push(...(await db.query<{ a: string; b: string; ca: string | null; cb: string | null }>(
      OVERLAPS_SQL, [chunk.map((p) => p[0]), chunk.map((p) => p[1])], { signal })))
  }
  return found.pairs
}

/** Connected components of the overlap graph (union–find): feature id → cluster number. */
export function clustersOf(pairs: { a: string; b: string }[]): Map<string, number> {
  const parent = new Map<string, string>()
  const find = (x: string): string => {
    let r = x
    while (parent.get(r) !== r) r = parent.get(r)!
    while (parent.get(x) !== r) {
      const next = parent.get(x)!
      parent.set(x, r)
      x = next
    }
    return r
  }
  for (const { a, b } of pairs) {
    if (!parent.has(a)) parent.set(a, a)
    if (!parent.has(b)) parent.set(b, b)
    const ra = find(a)
    const rb = find(b)
    if (ra !== rb) parent.set(ra, rb)
  }
  const number = new Map<string, number>()
  const out = new Map<string, number>()
  for (const id of parent.keys()) {
    const root = find(id)
    if (!number.has(root)) number.set(root, number.size)
    out.set(id, number.get(root)!)
  }
  return out
}

/** Pieces of `prefixA` ∩ pieces of `prefixB` → keys `out + restA + SEP + restB`. */
export async function intersectSets(ctx: Pick<StepContext, 'db' | 'runId' | 'signal'>, prefixA: string, prefixB: string, out: string): Promise<number> {
  const rows = await ctx.db.query<{ n: number }>(INTERSECT_SQL, [ctx.runId, prefixA, prefixB, out, OVERLAY_GRID], { signal: ctx.signal })
  return rows[0]!.n
}

/** Adds the part of the pieces under `prefix` not yet in union `key` (step numbers from 1). */
export async function unionStep(ctx: Pick<StepContext, 'db' | 'runId' | 'signal'>, prefix: string, key: string, step: number): Promise<number> {
  const rows = await ctx.db.query<{ n: number }>(UNION_SQL, [ctx.runId, prefix, key, step, OVERLAY_GRID], { signal: ctx.signal })
  return rows[0]!.n
}
