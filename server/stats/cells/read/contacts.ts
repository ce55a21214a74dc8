// Which features of a layer meet another of the layer other than vertex for vertex
// (union-boundary.ts contactFlags), found once per layer and kept in feature_contact
// (migration 007). The cell engine then searches only these features for crossings
// (unionBoundary's `known`), which is most of the work of a layer's first run otherwise.
//
// Found in square tiles of about TILE_FEATURES features, each read with the features whose
// boxes meet the tile: two features that meet share a point, and the tile holding that
// point reads both; a feature whose box lies in another's is read with it by the tile
// holding its box's centre. So the flags of all tiles together are those of the whole layer.
import type { Queryable } from '../../../db/db.ts'
import { laea } from '../../../geom/laea.ts'
import { readLayer } from './layer-features.ts'
import { contactFlags, type Feat } from '../union-boundary.ts'
import { BoxQuery, boxGrid } from '../../../geom/box-grid.ts'

/**
 * Features per tile when contacts are found at ingest: 2.5×10⁴ survey patches are ~0.1 GB
 * at work, so a layer of any size is prepared in flat memory (the cell engine's own tiles,
 * TILE_FEATURES, are larger: it holds the units' work too).
 */
export const CONTACT_TILE_FEATURES = 25_000

export interface LayerContacts {
  /** ids of the features that meet another, as text (Feat.id) */
  ids: string[]
  tiles: number
}

/** Finds a layer's contacts from its stored features. */
export async function findContacts(db: Queryable, layerId: number, o: { signal?: AbortSignal; tileFeatures?: number } = {}): Promise<LayerContacts> {
  const found = new Set<string>()
  const tiles = await eachTile(db, layerId, o, async (ids) => {
    for (const id of ids) found.add(id)
  })
  return { ids: [...found], tiles }
}

/** Calls `fn` with the contacts found in each tile (a feature near a tile edge may come twice); returns the number of tiles. */
async function eachTile(db: Queryable, layerId: number, o: { signal?: AbortSignal; tileFeatures?: number }, fn: (ids: string[]) => Promise<void>): Promise<number> {
  const [ext] = await db.query<{ n: number; w: number | null; s: number; e: number; nn: number }>(
    `SELECT n, ST_XMin(x) AS w, ST_YMin(x) AS s, ST_XMax(x) AS e, ST_YMax(x) AS nn
     FROM (SELECT count(*)::int AS n, ST_Extent(geom)::geometry AS x FROM feature WHERE layer_id = $1) b`, [layerId], { signal: o.signal })
  if (!ext || ext.w === null) return 0
  const w = Number(ext.w), s = Number(ext.s), e = Number(ext.e), n = Number(ext.nn)
  // only lon/lat matter for contacts; the projection is any
  const pr = laea(Math.round(2 * (w + e)) / 4, Math.round(2 * (s + n)) / 4)
  const side = Math.max(1, Math.ceil(Math.sqrt(ext.n / (o.tileFeatures ?? CONTACT_TILE_FEATURES))))
  for (let ty = 0; ty < side; ty++) {
    for (let tx = 0; tx < side; tx++) {
      const box = side === 1 ? undefined : [w + ((e - w) * tx) / side, s + ((n - s) * ty) / side, w + ((e - w) * (tx + 1)) / side, s + ((n - s) * (ty + 1)) / side]
      await fn(markFound(await readLayer(db, layerId, box, pr, o.signal)))
    }
  }
  return side * side
}

/** Keeps a layer's contacts (idempotent: a second finder writes the same rows). */
export async function storeContacts(db: Queryable, layerId: number, ids: string[], signal?: AbortSignal): Promise<void> {
  await insertContacts(db, layerId, ids, signal)
  await db.query('UPDATE layer SET contacts = $2 WHERE id = $1', [layerId, ids.length], { signal })
}

function insertContacts(db: Queryable, layerId: number, ids: string[], signal?: AbortSignal) {
  return db.query('INSERT INTO feature_contact (layer_id, feature_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING', [layerId, ids], { signal })
}

/**
 * Finds and keeps a layer's contacts tile by tile, so memory holds one tile whatever the
 * layer's size; returns how many features meet another.
 */
export async function prepareLayer(db: Queryable, layerId: number, o: { signal?: AbortSignal; tileFeatures?: number } = {}): Promise<number> {
  await eachTile(db, layerId, o, async (ids) => {
    if (ids.length) await insertContacts(db, layerId, ids, o.signal)
  })
  const [c] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM feature_contact WHERE layer_id = $1', [layerId], { signal: o.signal })
  await db.query('UPDATE layer SET contacts = $2 WHERE id = $1', [layerId, c!.n], { signal: o.signal })
  return c!.n
}

/** The kept contacts of prepared layers (LayerRead.prepared), each possibly empty. */
export async function keptContacts(db: Queryable, preparedIds: number[], signal?: AbortSignal): Promise<Map<number, Set<string>>> {
  const out = new Map<number, Set<string>>(preparedIds.map((id) => [id, new Set()]))
  if (!out.size) return out
  const rows = await db.query<{ layer_id: number; id: string }>('SELECT layer_id, feature_id::text AS id FROM feature_contact WHERE layer_id = ANY($1::int[])', [preparedIds], { signal })
  for (const r of rows) out.get(Number(r.layer_id))!.add(r.id)
  return out
}

/** Finds the contacts of a set of features (contactFlags), marks them (Feat.meets) and returns the ids of those that meet another. */
export function markFound(feats: Feat[]): string[] {
  const flags = contactFlags(feats)
  const ids: string[] = []
  feats.forEach((f, i) => {
    f.meets = flags[i]!
    if (flags[i]) ids.push(f.id)
  })
  return ids
}

/** Marks features (Feat.meets) by a layer's contacts. */
export function markContacts(feats: Feat[], ids: Set<string>): void {
  for (const f of feats) f.meets = ids.has(f.id) ? 1 : 0
}

/** The contact flags of a set of features when every one is marked, else undefined. */
export function knownFlags(feats: Feat[]): Uint8Array | undefined {
  const flags = new Uint8Array(feats.length)
  for (let i = 0; i < feats.length; i++) {
    const m = feats[i]!.meets
    if (m === undefined) return undefined
    flags[i] = m
  }
  return flags
}

/**
 * Contact flags for features of several layers together (each group one layer's, in
 * order): a feature is flagged when it meets another of its own layer or its box meets a
 * box of another group's feature; undefined unless every feature is marked. A feature left
 * unflagged touches nothing in the set, as unionBoundary's `known` requires; between two
 * vintages of a survey, with the unchanged copies left out (cells/transitions.ts), most are.
 */
export function layeredFlags(groups: Feat[][]): Uint8Array | undefined {
  const flags = new Uint8Array(groups.reduce((n, g) => n + g.length, 0))
  let at = 0
  const offsets: number[] = []
  for (const g of groups) {
    offsets.push(at)
    for (const f of g) {
      if (f.meets === undefined) return undefined
      flags[at++] = f.meets
    }
  }
  if (groups.filter((g) => g.length).length < 2) return flags
  const all = groups.flat()
  const boxes = new Float64Array(4 * all.length)
  all.forEach((f, i) => boxes.set(f.bbox, 4 * i))
  const q = new BoxQuery(boxGrid(boxes, 1, 4))
  const groupOf = new Int32Array(all.length)
  groups.forEach((g, k) => groupOf.fill(k, offsets[k]!, offsets[k]! + g.length))
  for (let i = 0; i < all.length; i++) {
    const b = all[i]!.bbox
    const n = q.query(b[0], b[1], b[2], b[3])
    for (let k = 0; k < n; k++) {
      const j = q.out[k]!
      if (groupOf[j] !== groupOf[i]) { flags[i] = 1; flags[j] = 1 }
    }
  }
  return flags
}
