// Units of a set as this runtime last read them: their rows (id, code, name, area) and,
// for raster work, their polygons parsed from WKB (lon/lat, CGCS2000). A set's units never
// change after its import (replacing a set deletes it and makes a new one with a new id), so
// what was read once serves every later run and result read of the set. Keyed by the set's
// id and creation time (two databases in one process can both have a set 1), bounded by
// the bytes it holds, least recently used first out.
import type { Queryable } from '../db/db.ts'
import { Gone } from '../errors.ts'
import { current, slot } from '../scoped.ts'
import { toBytes } from '../geom/shapes.ts'
import { wkbPolygons, widenBox } from '../geom/wkb.ts'
import { canCopy, copyColumns, type CopyDb } from '../db/copy-columns.ts'

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

/** One runtime's cache (server/runtime.ts); a budget of 0 keeps nothing (every call reads). */
export class UnitCache {
  private readonly entries = new Map<string, Promise<Entry>>()
  private held = 0

  constructor(readonly budget = UNIT_CACHE_BYTES) {}

  private touch(key: string, p: Promise<Entry>): void {
    this.entries.delete(key)
    this.entries.set(key, p)
  }

  private evict(): void {
    for (const [key, p] of this.entries) {
      if (this.held <= this.budget || this.entries.size <= 1) return
      this.entries.delete(key)
      p.then((e) => { this.held -= e.bytes }, () => {})
    }
  }

  /** The set's entry; `withPolygons`: its polygons are wanted too (read with the rows, in one statement, when the entry is new). */
  async entryOf(db: Queryable, setId: number, withPolygons = false): Promise<Entry | undefined> {
    const [set] = await db.query<{ created: string }>('SELECT created_at::text AS created FROM unit_set WHERE id = $1', [setId])
    if (!set) return undefined
    const key = `${setId}|${set.created}`
    let p = this.entries.get(key)
    if (p) {
      this.touch(key, p)
      return p
    }
    p = (async () => {
      if (withPolygons && canCopy(db)) {
        const { rows, polygons } = await readRowsAndPolygons(db, setId)
        return { rows, bytes: rowBytes(rows) + polygonBytes(polygons, rows.length), polygons: Promise.resolve(polygons) }
      }
      const rows = await readRows(db, setId)
      return { rows, bytes: rowBytes(rows) }
    })()
    if (!this.budget) return p
    p.then((e) => { this.held += e.bytes }, () => {})
    this.entries.set(key, p)
    p.catch(() => this.entries.delete(key))
    const e = await p
    this.evict()
    return e
  }

  /** Adds the bytes of polygons read for an entry. */
  grew(bytes: number): void {
    if (!this.budget) return
    this.held += bytes
    this.evict()
  }

  /** Forgets every set (tests). */
  clear(): void {
    this.entries.clear()
    this.held = 0
  }
}

/** The cache of the work in progress; unbound: none. */
export const UNIT_CACHE = slot('unit cache', new UnitCache(0))

/** The set's units ordered by code; undefined when the set no longer exists. */
export async function unitRows(db: Queryable, setId: number): Promise<UnitRow[] | undefined> {
  return (await current(UNIT_CACHE).entryOf(db, setId))?.rows
}

/** The units run `runId` measured (read once per runtime); Gone when the set has been replaced since. */
export async function runUnits(db: Queryable, runId: number, setId: number, setName: string): Promise<UnitRow[]> {
  const units = await unitRows(db, setId)
  if (!units) throw new Gone(`run ${runId} measured unit set '${setName}' as it was before it was replaced; run the statistics again`)
  return units
}

/** The set's units and their polygons (same order); undefined when the set no longer exists. */
export async function unitPolygons(db: Queryable, setId: number): Promise<{ rows: UnitRow[]; polygons: UnitPolygons } | undefined> {
  const cache = current(UNIT_CACHE)
  const e = await cache.entryOf(db, setId, true)
  if (!e) return undefined
  if (!e.polygons) {
    e.polygons = readPolygons(db, setId, e.rows.length).then((p) => {
      const bytes = polygonBytes(p, e.rows.length)
      e.bytes += bytes
      cache.grew(bytes)
      return p
    })
    e.polygons.catch(() => { e.polygons = undefined })
  }
  return { rows: e.rows, polygons: await e.polygons }
}

const SET = "set_id = current_setting('ecocensus.set')::int ORDER BY code"
/** the columns of a unit row, as binary COPY reads them */
const ROW = 'id, code, name, area_m2'
const ROW_TYPES = ['int8text', 'text', 'text', 'float8'] as const
const unitRowsOf = (id: (string | null)[], code: (string | null)[], name: (string | null)[], area: (number | null)[]): UnitRow[] =>
  id.map((x, i) => ({ id: x!, code: code[i]!, name: name[i]!, area_m2: area[i]! }))

/** The set's units in code order: by binary COPY where the database streams it (copy-columns.ts), else as rows. */
async function readRows(db: Queryable, setId: number): Promise<UnitRow[]> {
  if (!canCopy(db)) {
    const rows = await db.query<UnitRow>('SELECT id::text AS id, code, name, area_m2 FROM unit WHERE set_id = $1 ORDER BY code', [setId])
    for (const r of rows) r.area_m2 = Number(r.area_m2)
    return rows
  }
  const [id, code, name, area] = copyColumns(await db.copyBinary(`SELECT ${ROW} FROM unit WHERE ${SET}`, { set: String(setId) }), ROW_TYPES)
  return unitRowsOf(id, code, name, area)
}

/** The set's geometries (EWKB) in code order, as readRows reads the units. */
async function readWkbs(db: Queryable, setId: number): Promise<(Uint8Array | null)[]> {
  if (!canCopy(db)) return (await db.query<{ wkb: Uint8Array }>('SELECT ST_AsBinary(geom) AS wkb FROM unit WHERE set_id = $1 ORDER BY code', [setId])).map((r) => toBytes(r.wkb))
  return copyColumns(await db.copyBinary(`SELECT geom FROM unit WHERE ${SET}`, { set: String(setId) }), ['bytes'] as const)[0]
}

const rowBytes = (rows: UnitRow[]) => rows.reduce((s, r) => s + 96 + 2 * (r.id.length + r.code.length + (r.name?.length ?? 0)), 0)
const polygonBytes = (p: UnitPolygons, n: number) => p.vertices * 16 + n * 80

/**
 * Rows and polygons in one binary COPY: one scan and one sort of the set by code where
 * reading them apart sorts it twice (6×10⁴ cells: ~0.17 s of the server's time each).
 */
async function readRowsAndPolygons(db: CopyDb, setId: number): Promise<{ rows: UnitRow[]; polygons: UnitPolygons }> {
  const [id, code, name, area, geom] = copyColumns(await db.copyBinary(`SELECT ${ROW}, geom FROM unit WHERE ${SET}`, { set: String(setId) }), [...ROW_TYPES, 'bytes'] as const)
  const rows = unitRowsOf(id, code, name, area)
  return { rows, polygons: polygonsOf(setId, geom, rows.length) }
}

async function readPolygons(db: Queryable, setId: number, n: number): Promise<UnitPolygons> {
  return polygonsOf(setId, await readWkbs(db, setId), n)
}

function polygonsOf(setId: number, wkbs: (Uint8Array | null)[], n: number): UnitPolygons {
  if (wkbs.length !== n) throw new Error(`unit set ${setId} has ${wkbs.length} geometries for ${n} units`)
  const polygons: Float64Array[][][] = []
  const boxes = new Float64Array(4 * n)
  let vertices = 0
  wkbs.forEach((wkb, i) => {
    if (!wkb) throw new Error(`unit set ${setId}: a unit without geometry`)
    const polys = wkbPolygons(wkb)
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

/** Forgets every set of the work in progress's cache (tests). */
export function clearUnitCache(): void {
  current(UNIT_CACHE).clear()
}
