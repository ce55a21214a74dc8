// Measures a run's pieces inside the units of a set, writing one sum per unit and key.
// Two paths, one answer:
//   small simple units (grid cells, also those clipped to a boundary, up to 256
//     vertices): in this process, exactly —
//     every piece crossing a cell is measured against the cell's own stored ring by
//     Green's theorem over the boundary GEOS would build, with geodesic edges on GRS80
//     as ST_Area(geography) uses (geom/overlap.ts); a piece inside a cell counts its
//     stored area unclipped, a cell inside a piece its stored area; degenerate contacts
//     go to PostGIS (clip-pairs.sql).
//     No overlay per cell × piece pair in the database, no union at all (pieces of one
//     key are disjoint).
//   other units (administrative boundaries, cells clipped by an irregular boundary):
//     in the database (clip-sums.sql), which clips only the pieces crossing a boundary.
import type { Queryable } from '../../db/db.ts'
import { keysetPages } from '../../db/pages.ts'
import { loadSql } from '../../db/sql.ts'
import type { StepContext } from '../../runs/execute.ts'
import { ccw, overlap, prepare, type Pt } from '../../geom/overlap.ts'
import { bboxOf, BoxIndex, polygonsOf, type Box } from '../../geom/shapes.ts'
import { OVERLAY_GRID } from '../sums.ts'

const CLIP_SQL = loadSql(import.meta.url, './clip-sums.sql')
const MEMBERS_SQL = loadSql(import.meta.url, './count-members.sql')
const MEMBER_PAIRS_SQL = loadSql(import.meta.url, './count-member-pairs.sql')
const PAIRS_SQL = loadSql(import.meta.url, './clip-pairs.sql')

const PAGE = 5000

interface Cell {
  id: string
  ring: Pt[]
  bbox: Box
  area: number
}

/** Units with at most this many vertices (grid cells, also clipped ones) take the JS path. */
const MAX_CELL_VERTICES = 256

export interface MeasureStats {
  cellUnits: number
  otherUnits: number
  pieces: number
  /** pieces counted whole (inside one cell) vs measured against several cells in JS */
  whole: number
  clipped: number
  /** piece × cell pairs touching degenerately (a vertex on a cell edge), measured by PostGIS */
  fallback: number
}

/** A layer whose features overlapping nothing stay in the feature table (pieces.ts, inPlace). */
export interface InPlaceLayer {
  layerId: number
  /** the key, or with byCategory the key prefix followed by the category */
  key: string
  byCategory: boolean
}

/** A piece or an in-place feature on its way through the in-process path. */
interface Source {
  id: string
  key: string
  area: number
  single: boolean
  fromFeature: boolean
  wkb: Uint8Array
}

export async function measureUnits(ctx: StepContext, setId: number, inPlace: InPlaceLayer[] = []): Promise<MeasureStats> {
  const { db, runId, signal } = ctx
  // the work tables were empty when last analysed; with stale statistics the planner
  // rescanned every cluster member for every feature (3.8 s a page at county scale)
  await db.query('ANALYZE run_piece, run_member')
  const units = await db.query<{ id: string; wkb: Uint8Array; area_m2: number }>(
    'SELECT id::text AS id, ST_AsBinary(geom) AS wkb, area_m2 FROM unit WHERE set_id = $1 ORDER BY unit.id', [setId], { signal })
  const cells: Cell[] = []
  const others: string[] = []
  for (const u of units) {
    const cell = simpleCell(u.id, u.wkb, Number(u.area_m2))
    if (cell) cells.push(cell)
    else others.push(u.id)
  }
  const index = new BoxIndex(cells)
  const [{ n: pieceCount } = { n: 0 }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run_piece WHERE run_id = $1', [runId])
  const [{ n: featureCount } = { n: 0 }] = inPlace.length
    ? await db.query<{ n: number }>('SELECT count(*)::int AS n FROM feature WHERE layer_id = ANY($1::int[])', [inPlace.map((l) => l.layerId)])
    : []
  const shapes = pieceCount + featureCount
  const stats: MeasureStats = { cellUnits: cells.length, otherUnits: others.length, pieces: shapes, whole: 0, clipped: 0, fallback: 0 }
  // progress: shapes through the in-process path, then database batches
  const dbBatches = Math.ceil(others.length / batchSize(others.length)) || 0
  const perBatch = Math.max(1, shapes / Math.max(1, dbBatches))
  const total = (cells.length ? shapes : 0) + dbBatches * perBatch
  let done = 0

  if (cells.length && shapes) {
    const sums = new UnitSums()
    const fallback: Pairs = { ids: [], units: [], keys: [], fromFeature: [] }
    const measure = (p: Source) => {
      const shape = prepare(polygonsOf(p.wkb))
      let clipped = false
      for (const c of index.query(shape.bbox)) {
        const o = overlap(shape, c.ring)
        if (o.kind === 'inside') {
          // the stored (PostGIS) area, unclipped; a shape inside one cell is in no other
          sums.add(c.id, p.key, p.area, 1, p.single ? 1 : 0)
          break
        }
        clipped = true
        if (o.kind === 'covers') sums.add(c.id, p.key, c.area, 1, p.single ? 1 : 0)
        else if (o.kind === 'area' && o.area > 0) sums.add(c.id, p.key, o.area, 1, p.single ? 1 : 0)
        else if (o.kind === 'degenerate') pushPair(fallback, p.id, c.id, p.key, p.fromFeature)
      }
      if (clipped) stats.clipped++
      else stats.whole++
    }
    for await (const page of keysetPages<{ id: string; key: string; feature_id: string | null; area_m2: number; wkb: Uint8Array }>(db, signal,
      `SELECT id::text AS id, key, feature_id::text AS feature_id, area_m2, ST_AsBinary(geom) AS wkb
       FROM run_piece WHERE run_id = $1 AND id > $2 ORDER BY run_piece.id LIMIT ${PAGE}`, [runId])) {
      for (const p of page) measure({ id: p.id, key: p.key, area: Number(p.area_m2), single: p.feature_id !== null, fromFeature: false, wkb: p.wkb })
      done += page.length
      await ctx.progress(done / total)
    }
    for (const l of inPlace) {
      for await (const page of keysetPages<{ id: string; category: string | null; area_m2: number; wkb: Uint8Array }>(db, signal,
        `SELECT f.id::text AS id, f.category, f.area_m2, ST_AsBinary(f.geom) AS wkb FROM feature f
         WHERE f.layer_id = $3 AND f.id > $2
           AND NOT EXISTS (SELECT 1 FROM run_member m WHERE m.run_id = $1 AND m.feature_id = f.id AND left(m.key, length($4)) = $4)
         ORDER BY f.id LIMIT ${PAGE}`, [runId, l.layerId, l.key])) {
        for (const f of page) measure({ id: f.id, key: l.byCategory ? l.key + (f.category ?? '') : l.key, area: Number(f.area_m2), single: true, fromFeature: true, wkb: f.wkb })
        done += page.length
        await ctx.progress(done / total)
      }
    }
    await sums.write(db, runId, signal)
    stats.fallback = fallback.ids.length
    for (let i = 0; i < fallback.ids.length; i += 5000) {
      const c = (a: unknown[]) => a.slice(i, i + 5000)
      await db.query(PAIRS_SQL, [runId, c(fallback.ids), c(fallback.units), c(fallback.keys), c(fallback.fromFeature), OVERLAY_GRID], { signal })
    }
  }

  const inPlaceArgs = [inPlace.map((l) => l.layerId), inPlace.map((l) => l.key), inPlace.map((l) => l.byCategory)]
  for (let i = 0, b = batchSize(others.length); i < others.length; i += b) {
    await db.query(CLIP_SQL, [runId, others.slice(i, i + b), OVERLAY_GRID, ...inPlaceArgs], { signal })
    done += perBatch
    await ctx.progress(done / total)
  }

  // features dissolved into clusters: counted per unit where they share area with it
  const [{ n: members } = { n: 0 }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run_member WHERE run_id = $1', [runId])
  if (members && cells.length) {
    const counts = new UnitSums()
    const unsure: Pairs = { ids: [], units: [], keys: [], fromFeature: [] }
    // cursor: feature id and key as one text (keys start with a letter, so it is unique)
    for await (const page of keysetPages<{ id: string; feature_id: string; key: string; wkb: Uint8Array }>(db, signal,
      `SELECT m.feature_id::text || m.key AS id, f.id::text AS feature_id, m.key, ST_AsBinary(f.geom) AS wkb
       FROM run_member m JOIN feature f ON f.id = m.feature_id
       WHERE m.run_id = $1 AND m.feature_id::text || m.key > $2 ORDER BY 1 LIMIT ${PAGE}`, [runId])) {
      for (const f of page) {
        const shape = prepare(polygonsOf(f.wkb))
        for (const c of index.query(shape.bbox)) {
          const o = overlap(shape, c.ring, { areaNeeded: false })
          if (o.kind === 'degenerate') pushPair(unsure, f.feature_id, c.id, f.key, true)
          else if (o.kind !== 'outside' && !(o.kind === 'area' && o.area === 0)) counts.add(c.id, f.key, 0, 0, 1)
        }
      }
    }
    await counts.write(db, runId, signal)
    for (let i = 0; i < unsure.ids.length; i += 5000) {
      const c = (a: unknown[]) => a.slice(i, i + 5000)
      await db.query(MEMBER_PAIRS_SQL, [runId, c(unsure.ids), c(unsure.units), c(unsure.keys)], { signal })
    }
  }
  if (members && others.length) {
    for (let i = 0, b = Math.max(2000, batchSize(others.length)); i < others.length; i += b) {
      await db.query(MEMBERS_SQL, [runId, others.slice(i, i + b)], { signal })
    }
  }
  return stats
}

/** Shape × unit pairs left to PostGIS, as the parallel arrays clip-pairs.sql unnests. */
interface Pairs {
  ids: string[]
  units: string[]
  keys: string[]
  fromFeature: boolean[]
}

function pushPair(p: Pairs, id: string, unit: string, key: string, fromFeature: boolean) {
  p.ids.push(id)
  p.units.push(unit)
  p.keys.push(key)
  p.fromFeature.push(fromFeature)
}

/** Area, piece and feature counts per unit and key, written to run_sum in bulk. */
class UnitSums {
  private readonly byUnit = new Map<string, Map<string, [number, number, number]>>()

  add(unit: string, key: string, area: number, pieces: number, features: number) {
    let m = this.byUnit.get(unit)
    if (!m) this.byUnit.set(unit, (m = new Map()))
    const s = m.get(key)
    if (s) {
      s[0] += area
      s[1] += pieces
      s[2] += features
    } else m.set(key, [area, pieces, features])
  }

  async write(db: Queryable, runId: number, signal: AbortSignal) {
    const cols: [string[], string[], number[], number[], number[]] = [[], [], [], [], []]
    const flush = async () => {
      if (!cols[0].length) return
      await db.query(
        `WITH ins AS (
           INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
           SELECT $1, u, k, a, p, f FROM unnest($2::bigint[], $3::text[], $4::float8[], $5::int[], $6::int[]) AS x(u, k, a, p, f)
           RETURNING 1)
         SELECT count(*)::int AS n FROM ins`,
        [runId, ...cols], { signal })
      for (const c of cols) c.length = 0
    }
    for (const [unit, m] of this.byUnit) {
      for (const [key, [a, p, f]] of m) {
        cols[0].push(unit); cols[1].push(key); cols[2].push(a); cols[3].push(p); cols[4].push(f)
        if (cols[0].length >= 20000) await flush()
      }
    }
    await flush()
  }
}

/** About 40 progress reports per run, at least 1 and at most 2 000 units per statement. */
export function batchSize(units: number): number {
  return Math.max(1, Math.min(2000, Math.ceil(units / 40)))
}

/** A unit for the JS path: one polygon without holes and with few vertices. */
function simpleCell(id: string, wkb: Uint8Array | Buffer | string, area: number): Cell | undefined {
  const polys = polygonsOf(wkb)
  if (polys.length !== 1 || polys[0]!.rings.length !== 1 || polys[0]!.rings[0]!.length > MAX_CELL_VERTICES) return undefined
  const ring = ccw(polys[0]!.rings[0]!)
  return ring ? { id, ring, bbox: bboxOf(polys), area } : undefined
}
