// Vector tiles (MVT, extent 4096, buffer 64) for the sources of vector-source.ts.
//
// Both databases run the same SQL up to the tile's features in Web Mercator (tile-*.sql:
// clipped in the stored CRS, simplified to half a tile unit; coarser for a tile over the
// byte cap, MAX_TILE_BYTES). Then PostGIS encodes with ST_AsMVTGeom + ST_AsMVT, one named
// (prepared) statement per source kind and level; the embedded PostGIS has no protobuf
// support, so there the SQL only moves the geometry to tile coordinates, snaps and
// validates it (tile-geom.sql) and @maplibre/vt-pbf writes the tile (mvt-encode.ts). Which
// way a database goes is asked of the database once, not assumed from the backend's name;
// `encoder: 'js'` forces the JS way (tests compare the two).
import type { Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { loadSql } from '../db/sql.ts'
import { encodeMvt, type TileFeature } from './mvt-encode.ts'
import type { VectorSource } from './vector-source.ts'
import { scopePatterns } from '../auth/scope.ts'

export const EXTENT = 4096
export const MAX_ZOOM = 22

const INNER: Record<VectorSource['kind'], string> = {
  layer: loadSql(import.meta.url, 'tile-layer.sql'),
  units: loadSql(import.meta.url, 'tile-units.sql'),
  change: loadSql(import.meta.url, 'tile-change.sql'),
}
const ENVELOPE = loadSql(import.meta.url, 'tile-envelope.sql')
/** CTEs a kind's inner statement reads besides q (the layer's one scan of the tile) */
const BEFORE: Partial<Record<VectorSource['kind'], string>> = { layer: loadSql(import.meta.url, 'tile-layer-scan.sql') }
const MVT = loadSql(import.meta.url, 'tile-mvt.sql')
const GEOM = loadSql(import.meta.url, 'tile-geom.sql')

/**
 * The byte cap of a tile, as tile servers of the field keep one (tippecanoe: 500 KiB). A tile
 * over it is made again at the next level of LEVELS: simplified to k/2 tile units instead of
 * 1/2, and features under 2k × 2k display pixels gathered into squares of that size instead
 * of 2 × 2 (tile-envelope.sql); the first level under the cap is served, else the last.
 * docs/tiles.md.
 */
export const MAX_TILE_BYTES = 500 * 1024
export const LEVELS = [1, 2, 4, 8, 16, 32, 64] as const

const bare = (sql: string) => sql.replace(/^--.*$/gm, '').trim()
/** `WITH q AS (tile) [, f AS (inner)] outer`, the MVT layer name and the level k constants. Built once per kind and level. */
function statement(outer: string, kind?: VectorSource['kind'], layerName = '', k: number = 1): string {
  if (!(LEVELS as readonly number[]).includes(k)) throw new Error(`tile level ${k} is not one of ${LEVELS.join(', ')}`)
  const before = kind && BEFORE[kind] ? `,\nt AS (\n${bare(BEFORE[kind]!)}\n)` : ''
  const f = kind ? `${before},\nf AS (\n${bare(INNER[kind])}\n)` : ''
  return `WITH q AS (\n${bare(ENVELOPE).replaceAll('__K__', String(k))}\n)${f}\n${bare(outer).replace('__LAYER__', `'${layerName}'`)}`
}
const LAYER_NAME = { layer: 'features', units: 'units', change: 'change' } as const
/** per kind, per level (LEVELS), the PostGIS statement and the embedded database's */
const STATEMENTS = Object.fromEntries((['layer', 'units', 'change'] as const).map((kind) => [kind, LEVELS.map((k) => ({
  mvt: statement(MVT, kind, LAYER_NAME[kind], k),
  geom: statement(GEOM, kind, LAYER_NAME[kind], k),
}))])) as Record<VectorSource['kind'], { mvt: string; geom: string }[]>

const canMvt = new WeakMap<object, Promise<boolean>>()

/** Whether this database's PostGIS encodes MVT (built with protobuf-c). Asked once per db. */
export function databaseEncodesMvt(db: Queryable): Promise<boolean> {
  let p = canMvt.get(db)
  if (!p) {
    p = db.query(`SELECT length(ST_AsMVT(t, 'probe', 4096, 'geom')) AS n FROM (SELECT ST_AsMVTGeom(ST_MakeEnvelope(0, 0, 10, 10, 3857), ST_TileEnvelope(0, 0, 0)) AS geom) t`)
      .then(() => true, () => false)
    canMvt.set(db, p)
  }
  return p
}

export function checkTile(z: number, x: number, y: number): void {
  if (!Number.isInteger(z) || z < 0 || z > MAX_ZOOM) throw new BadInput(`zoom ${z}: 0..${MAX_ZOOM}`)
  const n = 2 ** z
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= n || y >= n) throw new BadInput(`tile ${z}/${x}/${y} does not exist`)
}

export interface TileParams {
  encoder?: 'auto' | 'js'
  signal?: AbortSignal
  /** the byte cap (default MAX_TILE_BYTES) */
  maxBytes?: number
}

/** The encoded tile, under the byte cap where a level of LEVELS gets it there; zero bytes when no feature reaches it. */
export async function renderVectorTile(db: Queryable, src: VectorSource, z: number, x: number, y: number, o: TileParams = {}): Promise<Uint8Array> {
  return (await renderCapped(db, src, z, x, y, o)).tile
}

/** renderVectorTile, and the level (LEVELS) the tile was made at. */
export async function renderCapped(db: Queryable, src: VectorSource, z: number, x: number, y: number, o: TileParams = {}): Promise<{ tile: Uint8Array; level: number }> {
  checkTile(z, x, y)
  const params = await paramsOf(db, src, z, x, y)
  const useMvt = o.encoder !== 'js' && (await databaseEncodesMvt(db))
  const cap = o.maxBytes ?? MAX_TILE_BYTES
  let tile: Uint8Array = new Uint8Array(0)
  for (let i = 0; i < LEVELS.length; i++) {
    tile = await renderLevel(db, src, params, i, useMvt, o.signal)
    if (tile.byteLength <= cap) return { tile, level: LEVELS[i]! }
  }
  return { tile, level: LEVELS[LEVELS.length - 1]! }
}

async function renderLevel(db: Queryable, src: VectorSource, params: unknown[], i: number, useMvt: boolean, signal?: AbortSignal): Promise<Uint8Array> {
  const s = STATEMENTS[src.kind][i]!
  const level = i ? `_k${LEVELS[i]}` : ''
  if (useMvt) {
    const rows = await db.query<{ mvt: Uint8Array | null }>(s.mvt, params, { name: `ecocensus_tile_${src.kind}${level}`, signal })
    const b = rows[0]?.mvt
    return b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(0)
  }
  const rows = await db.query<{ fid: string; props: Record<string, unknown> | string; wkb: Uint8Array }>(s.geom, params, { name: `ecocensus_tilegeom_${src.kind}${level}`, signal })
  const features: TileFeature[] = rows.map((r) => ({
    id: Number(r.fid),
    properties: typeof r.props === 'string' ? JSON.parse(r.props) : r.props,
    wkb: r.wkb,
  }))
  return encodeMvt(src.layerName, features, EXTENT)
}

async function paramsOf(db: Queryable, src: VectorSource, z: number, x: number, y: number): Promise<unknown[]> {
  if (src.kind === 'layer') return [src.ids[0], z, x, y]
  if (src.kind === 'change') return [src.ids[0], z, x, y, src.ids[1]]
  let stats = '{}'
  const scope = src.scope ? scopePatterns(src.scope) : null
  if (src.stats) {
    // only the statistics of the units in this tile travel with the statement
    const codes = await db.query<{ code: string }>(TILE_UNIT_CODES, [src.ids[0], z, x, y, scope], { name: 'ecocensus_tile_unit_codes' })
    const o: Record<string, unknown> = {}
    for (const { code } of codes) {
      const p = src.stats.get(code)
      if (p) o[code] = p
    }
    stats = JSON.stringify(o)
  }
  return [src.ids[0], z, x, y, stats, scope]
}
const TILE_UNIT_CODES = statement(loadSql(import.meta.url, 'tile-unit-codes.sql'))

/** The PostGIS statement and parameters of a tile (the benchmark runs it bare through pg). */
export async function tileStatement(db: Queryable, src: VectorSource, z: number, x: number, y: number): Promise<{ sql: string; params: unknown[] }> {
  checkTile(z, x, y)
  return { sql: STATEMENTS[src.kind][0]!.mvt, params: await paramsOf(db, src, z, x, y) }
}
