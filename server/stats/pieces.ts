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
import { recallResult } from '../runs/result-memo.ts'
import type { Queryable } from '../db/db.ts'
import { keysetPages } from '../db/pages.ts'
import { loadSql } from '../db/sql.ts'
import type { StepContext } from '../runs/execute.ts'
import { findOverlaps, type FeatureShape } from './feature-overlaps.ts'
import { bboxOf, polygonsOf } from './shapes.ts'

const OVERLAPS_SQL = loadSql(import.meta.url, './pieces-overlaps.sql')
const FLATTEN_SQL = loadSql(import.meta.url, './pieces-flatten.sql')
const INTERSECT_SQL = loadSql(import.meta.url, './pieces-intersect.sql')
const UNION_SQL = loadSql(import.meta.url, './pieces-union.sql')

/**
 * Overlays snap to a 1e-12° grid (≈ 0.1 µm). PGlite-PostGIS cannot run GEOS's
 * floating-point fallbacks (README, Limits), and snap-rounding is robust by design; the
 * snapping moves an area by less than its perimeter × 0.1 µm.
 * (Large pieces are not cut with ST_Subdivide: on PostGIS 3.3 it moved the area of a
 * 501-vertex census tract by 6.5e-5, far outside the 1e-6 we promise; cell-overlap.ts
 * indexes their edges instead.)
 */
export const OVERLAY_GRID = 1e-12

/** Key of a layer's pieces: the whole layer, or one of its categories. */
export const layerKey = (layerId: number) => `L:${layerId}:`
export const categoryPrefix = (layerId: number) => `C:${layerId}:`
export const SEP = '\u001f'

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

export interface UnitSum {
  unit_id: string
  key: string
  area_m2: number
  pieces: number
  features: number
}

/**
 * All sums of a run, grouped by unit id (several rows of one unit and key add up): rows of
 * run_sum (the piece engine) or one run_result document of [unit id, key, area, features]
 * entries (cell-coverage.ts).
 */
export async function readSums(db: Queryable, runId: number): Promise<Map<string, Map<string, UnitSum>>> {
  const rows = await db.query<UnitSum>(
    `SELECT unit_id::text AS unit_id, key, sum(area_m2) AS area_m2, sum(pieces)::int AS pieces, sum(features)::int AS features
     FROM run_sum WHERE run_id = $1 GROUP BY unit_id, key`, [runId])
  const out = new Map<string, Map<string, UnitSum>>()
  const put = (unit_id: string, key: string, area: number, pieces: number, features: number) => {
    let m = out.get(unit_id)
    if (!m) out.set(unit_id, (m = new Map()))
    m.set(key, { unit_id, key, area_m2: area, pieces, features })
  }
  for (const r of rows) put(r.unit_id, r.key, Number(r.area_m2), Number(r.pieces), Number(r.features))
  // the run's document: from this process's memo when it wrote it just now (result-memo.ts)
  let doc = recallResult(runId)
  if (!doc) {
    const [stored] = await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [runId])
    doc = stored ? (JSON.parse(stored.body) as [string, string, number, number][]) : []
  }
  for (const [unit_id, key, area_m2, features] of doc) put(unit_id, key, area_m2, 0, features)
  return out
}

/** Sum of the areas under a key prefix, by the rest of the key. */
export function areasByRest(s: Map<string, UnitSum>, prefix: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const [k, v] of s) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), (out.get(k.slice(prefix.length)) ?? 0) + v.area_m2)
  return out
}

/** Sum of the areas under a key prefix. */
export function areaUnder(s: Map<string, UnitSum>, prefix: string): number {
  let t = 0
  for (const [k, v] of s) if (k.startsWith(prefix)) t += v.area_m2
  return t
}

/** A flattened layer's area in a unit: its own pieces, or the sum over its categories. */
export function layerArea(s: Map<string, UnitSum>, l: { id: number; ownTotal: boolean; prefix: string }): number {
  return l.ownTotal ? s.get(layerKey(l.id))?.area_m2 ?? 0 : areaUnder(s, l.prefix)
}
