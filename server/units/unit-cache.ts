// Units of a set as this process last read them: their rows (id, code, name, area) and,
// for raster work, their polygons parsed from WKB (lon/lat, CGCS2000). A set's units never
// change after its import (replacing a set deletes it and makes a new one with a new id), so
// what was read once serves every later run and result read of the set. Keyed by the set's
// id and creation time (two databases in one process can both have a set 1), bounded by
// the bytes it holds, least recently used first out.
import type { Queryable } from '../db/db.ts'
import { Gone } from '../errors.ts'
import { toBytes } from '../geom/shapes.ts'
import { wkbPolygons, widenBox } from '../geom/wkb.ts'

export interface UnitRow { id: string; code: string; name: string | null; area_m2: number }

export interface UnitPolygons {
  /** per unit, in the order of the rows: polygons of rings as flat [lon0, lat0, lon1, lat1 …] */
  polygons: Float64Array[][][]
  /** per unit: lon/lat box, 4 numbers (west, south, east, north) */
  boxes: Float64Array
  vertices: number
}

interface Entry {
  rows: UnitRow[]
  polygons?: Promise<UnitPolygons>
  bytes: number
}

/** what the cache may hold; a county of 4×10⁵ grid cells is ~40 MB with its polygons */
export const UNIT_CACHE_BYTES = 512 * 2 ** 20
const entries = new Map<string, Promise<Entry>>()
let held = 0

async function keyOf(db: Queryable, setId: number): Promise<string | undefined> {
  const [set] = await db.query<{ created: string }>('SELECT created_at::text AS created FROM unit_set WHERE id = $1', [setId])
  return set && `${setId}|${set.created}`
}

function touch(key: string, p: Promise<Entry>): void {
  entries.delete(key)
  entries.set(key, p)
}

function evict(): void {
  for (const [key, p] of entries) {
    if (held <= UNIT_CACHE_BYTES || entries.size <= 1) return
    entries.delete(key)
    p.then((e) => { held -= e.bytes }, () => {})
  }
}

async function entryOf(db: Queryable, setId: number): Promise<Entry | undefined> {
  const key = await keyOf(db, setId)
  if (!key) return undefined
  let p = entries.get(key)
  if (p) {
    touch(key, p)
    return p
  }
  p = (async () => {
    const rows = await db.query<UnitRow>('SELECT id::text AS id, code, name, area_m2 FROM unit WHERE set_id = $1 ORDER BY code', [setId])
    for (const r of rows) r.area_m2 = Number(r.area_m2)
    const bytes = rows.reduce((s, r) => s + 96 + 2 * (r.id.length + r.code.length + (r.name?.length ?? 0)), 0)
    held += bytes
    return { rows, bytes }
  })()
  entries.set(key, p)
  p.catch(() => entries.delete(key))
  const e = await p
  evict()
  return e
}

/** The set's units ordered by code; undefined when the set no longer exists. */
export async function unitRows(db: Queryable, setId: number): Promise<UnitRow[] | undefined> {
  return (await entryOf(db, setId))?.rows
}

/** The set's units and their polygons (same order); undefined when the set no longer exists. */
/** The units run `runId` measured (read once per process); Gone when the set has been replaced since. */
export async function runUnits(db: Queryable, runId: number, setId: number, setName: string): Promise<UnitRow[]> {
  const units = await unitRows(db, setId)
  if (!units) throw new Gone(`run ${runId} measured unit set '${setName}' as it was before it was replaced; run the statistics again`)
  return units
}

export async function unitPolygons(db: Queryable, setId: number): Promise<{ rows: UnitRow[]; polygons: UnitPolygons } | undefined> {
  const e = await entryOf(db, setId)
  if (!e) return undefined
  if (!e.polygons) {
    e.polygons = readPolygons(db, setId, e.rows.length).then((p) => {
      const bytes = p.vertices * 16 + e.rows.length * 80
      e.bytes += bytes
      held += bytes
      evict()
      return p
    })
    e.polygons.catch(() => { e.polygons = undefined })
  }
  return { rows: e.rows, polygons: await e.polygons }
}

async function readPolygons(db: Queryable, setId: number, n: number): Promise<UnitPolygons> {
  const wkbs = await db.query<{ wkb: Uint8Array }>('SELECT ST_AsBinary(geom) AS wkb FROM unit WHERE set_id = $1 ORDER BY code', [setId])
  if (wkbs.length !== n) throw new Error(`unit set ${setId} has ${wkbs.length} geometries for ${n} units`)
  const polygons: Float64Array[][][] = []
  const boxes = new Float64Array(4 * n)
  let vertices = 0
  wkbs.forEach((r, i) => {
    const polys = wkbPolygons(toBytes(r.wkb))
    const box = boxes.subarray(4 * i, 4 * i + 4)
    box.set([Infinity, Infinity, -Infinity, -Infinity])
    for (const rings of polys) {
      for (const xy of rings) {
        vertices += xy.length / 2
        widenBox(xy, box)
      }
    }
    polygons.push(polys)
  })
  return { polygons, boxes, vertices }
}

/** Forgets every set (tests). */
export function clearUnitCache(): void {
  entries.clear()
  held = 0
}
