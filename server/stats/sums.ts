// Run sums: what both engines write and every reader reads. One area (and feature count)
// per unit and key; the keys name what was measured (a layer, one of its categories, an
// overlap, a union, a transition). The piece engine writes rows of run_sum
// (pieces/measure-units.ts), the cell engine one run_result document (cells/coverage.ts).
import type { Queryable } from '../db/db.ts'
import { recallResult } from '../runs/result-memo.ts'

/**
 * Overlays snap to a 1e-12° grid (≈ 0.1 µm). PGlite-PostGIS cannot run GEOS's
 * floating-point fallbacks (README, Limits), and snap-rounding is robust by design; the
 * snapping moves an area by less than its perimeter × 0.1 µm.
 * (Large pieces are not cut with ST_Subdivide: on PostGIS 3.3 it moved the area of a
 * 501-vertex census tract by 6.5e-5, far outside the 1e-6 we promise; geom/overlap.ts
 * indexes their edges instead.)
 */
export const OVERLAY_GRID = 1e-12

/** Key of a layer's pieces: the whole layer, or one of its categories. */
export const layerKey = (layerId: number) => `L:${layerId}:`
export const categoryPrefix = (layerId: number) => `C:${layerId}:`
export const SEP = '\u001f'

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
 * entries (cells/coverage.ts).
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
  let doc = recallResult<[string, string, number, number]>(runId)
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
