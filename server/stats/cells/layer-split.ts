// A layer read for one set of cells in two steps: first every feature's box, category and
// stored area (no geometry), then the geometry only of the features that need it.
//
// A feature that meets no other of its layer (its contacts are kept, cells/read/contacts.ts),
// whose edges are all short enough to measure in the projection and whose box lies in one
// cell's kernel adds its whole area to that cell and nothing to any other: measureSet
// (cells/measure.ts) measures such a feature by its area alone, and leaving it out of the
// union changes no other cell (its rings are closed and lie inside the one cell, so they
// cross no cell edge and hold no cell vertex). Its area is the one kept at import,
// PostGIS ST_Area(geography), the figure the engine's own measure approximates to ~1e-8.
// On grids whose cells are larger than most features (500 m cells over survey patches)
// this leaves most of a layer's vertices in the database.
import { inZones } from '../../db/feature-zones.ts'
import type { Queryable } from '../../db/db.ts'
import type { Laea } from '../../geom/laea.ts'
import { cellHolding, type CellSet } from './measure.ts'
import { readFeatureIds, readLayer, type IdRange } from './read/layer-features.ts'
import { LONG_M, type Feat } from './union-boundary.ts'
import type { Box } from '../../geom/shapes.ts'
import { CELL_OPTIONS } from './options.ts'
import { current } from '../../scoped.ts'

/** The features of a split read measured by their stored areas alone, each in one cell (an index into the CellSet). */
export interface DirectFeatures {
  cell: Int32Array
  area: Float64Array
  category: (string | null)[]
}

export interface SplitRead {
  /** the features read with their geometry */
  feats: Feat[]
  /** undefined when the whole layer was read (too few features lie in one cell to split) */
  direct?: DirectFeatures
}

/** Below this share of a layer's features measured by area alone, the whole layer is read instead. */
const MIN_DIRECT = 0.3

// per feature, packed in id order: id (int8), box x0 y0 x1 y1 and area (float8), zone
// (int2: the partition it lies in), big-endian; one value per layer, which this process
// takes apart in a loop (rows of eight fields each cost ~1 µs a row to receive)
const PACKED = `string_agg(int8send(id) || float8send(box_x0) || float8send(box_y0) || float8send(box_x1) || float8send(box_y1) || float8send(area_m2) || int2send(zone), ''::bytea ORDER BY id) AS p`
const CATEGORIES = ', array_agg(category ORDER BY id) AS c'
const IN_BOX = ` AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490)${inZones('$1', '$2', '$4')}`
const SAMPLE_BOX = ` AND geom && ST_MakeEnvelope($3, $4, $5, $6, 4490)${inZones('$1', '$3', '$5')}`
const ROW = 50

/** Features of a layer sampled to foresee its share measured by area alone (and how many must be found for the sample to decide). */
const SAMPLE = 128
const SAMPLE_MIN = 64


/**
 * The share of a sample of the layer's features (SAMPLE ids spread evenly over its id
 * range, those whose boxes meet `box`) that would be measured by area alone; undefined
 * when fewer than SAMPLE_MIN of them were found.
 */
async function sampledShare(db: Queryable, layerId: number, range: IdRange, box: readonly number[] | undefined, cs: CellSet, contacts: Set<string>, pr: Laea, k: number, signal?: AbortSignal): Promise<number | undefined> {
  const ids: string[] = []
  const span = range.hi - range.lo + 1
  for (let j = 0; j < k; j++) ids.push(String(range.lo + Math.floor(((j + 0.5) * span) / k)))
  const rows = await db.query<{ id: string; x0: number; y0: number; x1: number; y1: number }>(
    `SELECT id::text AS id, box_x0 AS x0, box_y0 AS y0, box_x1 AS x1, box_y1 AS y1 FROM feature WHERE layer_id = $1 AND id = ANY($2::bigint[])${box ? SAMPLE_BOX : ''}`,
    box ? [layerId, ids, ...box] : [layerId, ids], { signal })
  if (rows.length < SAMPLE_MIN) return undefined
  const corner = new Float64Array(8)
  let direct = 0
  for (const r of rows) if (directCell(r.id, [Number(r.x0), Number(r.y0), Number(r.x1), Number(r.y1)], contacts, cs, pr, corner) >= 0) direct++
  return direct / rows.length
}

/** The cell that a feature (id, lon/lat box) adds its stored area to, measured by area alone: it meets nothing of its layer, has no long edge and lies in one cell's kernel; else −1. `corner`: scratch for shortEdges. */
function directCell(id: string, b: Box, contacts: Set<string>, cs: CellSet, pr: Laea, corner: Float64Array): number {
  return contacts.has(id) || !shortEdges(b, pr, corner) ? -1 : cellHolding(cs, b)
}

/**
 * Reads a prepared layer (`contacts`: the ids of its features that meet another) for the
 * cells of `cs`: whole, or those whose boxes meet `box`; `categories`: the direct
 * features' categories are wanted. `o.range`: the layer's id range, for a sample taken
 * first (a sample's share under half MIN_DIRECT reads the layer whole at once; 128 draws
 * put a true share of 30 % there with odds of ~1e-4); `o.tiles`: how many tiles the cells
 * are cut into (the sample grows with them, most of it falling outside a tile).
 */
export async function readSplit(db: Queryable, layerId: number, box: readonly number[] | undefined, cs: CellSet, contacts: Set<string>, pr: Laea, o: { categories: boolean; signal?: AbortSignal; range?: IdRange; tiles?: number }): Promise<SplitRead> {
  const { signal } = o
  const whole = async (): Promise<SplitRead> => ({ feats: await readLayer(db, layerId, box, pr, signal, o.range) })
  if (o.range && o.range.count >= 2 * SAMPLE) {
    const share = await sampledShare(db, layerId, o.range, box, cs, contacts, pr, Math.min(o.range.count, SAMPLE * (o.tiles ?? 1)), signal)
    if (share !== undefined && share < MIN_DIRECT / 2) {
      const counts = current(CELL_OPTIONS).counts
      if (counts) counts.sampledWhole++
      return whole()
    }
  }
  const sql = `SELECT ${PACKED}${o.categories ? CATEGORIES : ''} FROM feature WHERE layer_id = $1${box ? IN_BOX : ''}`
  const [row] = await db.query<{ p: Uint8Array | null; c?: (string | null)[] }>(sql, box ? [layerId, ...box] : [layerId], { signal })
  const p = row?.p ?? new Uint8Array(0)
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength)
  const rows = p.byteLength / ROW
  const cell = new Int32Array(rows), area = new Float64Array(rows), category: (string | null)[] = []
  let nd = 0
  const need: string[] = []
  const zones = new Set<number>()
  const b: Box = [0, 0, 0, 0]
  const corner = new Float64Array(8)
  for (let i = 0, at = 0; i < rows; i++, at += ROW) {
    const id = String(dv.getBigInt64(at))
    b[0] = dv.getFloat64(at + 8); b[1] = dv.getFloat64(at + 16); b[2] = dv.getFloat64(at + 24); b[3] = dv.getFloat64(at + 32)
    const ci = directCell(id, b, contacts, cs, pr, corner)
    if (ci < 0) {
      need.push(id)
      zones.add(dv.getInt16(at + 48))
      continue
    }
    cell[nd] = ci
    area[nd++] = dv.getFloat64(at + 40)
    if (o.categories) category.push(row!.c![i] ?? null)
  }
  if (rows && nd < MIN_DIRECT * rows) return whole()
  return {
    feats: await readFeatureIds(db, need, [...zones], pr, signal),
    direct: { cell: cell.slice(0, nd), area: area.slice(0, nd), category: o.categories ? category : new Array<null>(nd).fill(null) },
  }
}

/**
 * No edge of a feature with lon/lat box `b` is longer than LONG_M in the projection: the
 * box's projected diagonal, with 5 % to spare for the projection's curvature over it, is
 * shorter.
 */
function shortEdges(b: readonly number[], pr: Laea, p: Float64Array): boolean {
  pr.forward(b[0]!, b[1]!, p, 0)
  pr.forward(b[2]!, b[1]!, p, 2)
  pr.forward(b[2]!, b[3]!, p, 4)
  pr.forward(b[0]!, b[3]!, p, 6)
  const w = Math.max(p[0]!, p[2]!, p[4]!, p[6]!) - Math.min(p[0]!, p[2]!, p[4]!, p[6]!)
  const h = Math.max(p[1]!, p[3]!, p[5]!, p[7]!) - Math.min(p[1]!, p[3]!, p[5]!, p[7]!)
  return 1.05 * Math.hypot(w, h) < LONG_M
}
