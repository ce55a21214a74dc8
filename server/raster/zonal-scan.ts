// Streaming zonal scan: the raster is read once, top to bottom, in bands of whole block
// rows; each band is handed, unit by unit, with the units' exact pixel coverage, to an
// accumulator. Memory holds one band of the raster and one unit window of coverage at
// a time, whatever the raster's size.
import proj4 from 'proj4'
import type { Queryable } from '../db/db.ts'
import { toBytes } from '../stats/shapes.ts'
import { coverageDeltas, pixelRings, type PixelRing } from './coverage-fraction.ts'
import type { GeoTransform } from './geotiff-file.ts'
import type { PixelAreas } from './pixel-area.ts'
import type { PixelSource } from './raster-store.ts'

const CGCS2000 = '+proj=longlat +ellps=GRS80 +no_defs'
/** pixels per band read (about 32 MB of float64) */
const BAND_PIXELS = 1 << 22

export interface ZonalUnit {
  id: string
  code: string
  name: string | null
  area_m2: number
  rings: PixelRing[]
  /** window in pixels, clamped to the raster: rows [r0, r1), columns [c0, c1) */
  r0: number
  r1: number
  c0: number
  c1: number
}

/** Units of a set that meet the raster, in pixel coordinates of the raster. */
export async function loadZonalUnits(
  db: Queryable, setId: number, crsProj4: string, t: GeoTransform, width: number, height: number, extent: [number, number, number, number],
): Promise<{ inside: ZonalUnit[]; outside: { id: string }[] }> {
  const rows = await db.query<{ id: string; code: string; name: string | null; area_m2: number; wkb: Uint8Array; meets: boolean }>(
    `SELECT id::text AS id, code, name, area_m2, ST_AsBinary(geom) AS wkb,
            geom && ST_MakeEnvelope($2, $3, $4, $5, 4490) AS meets
     FROM unit WHERE set_id = $1 ORDER BY id`,
    [setId, ...extent],
  )
  const geographic = /\+proj=(longlat|latlong|lonlat|latlon)\b/.test(crsProj4)
  const conv = geographic && /\+(ellps=GRS80|datum=WGS84|ellps=WGS84)/.test(crsProj4) ? undefined : proj4(CGCS2000, crsProj4)
  const det = t[1] * t[5] - t[2] * t[4]
  // inverse affine: col = ia·(x − t0) + ib·(y − t3); row = ic·(x − t0) + id·(y − t3)
  const ia = t[5] / det
  const ib = -t[2] / det
  const ic = -t[4] / det
  const id = t[1] / det
  const inside: ZonalUnit[] = []
  const outside: { id: string }[] = []
  for (const u of rows) {
    if (!u.meets) {
      outside.push({ id: u.id })
      continue
    }
    let [xmin, ymin, xmax, ymax] = [Infinity, Infinity, -Infinity, -Infinity]
    const p: number[] = [0, 0]
    const polys = wkbPolygons(toBytes(u.wkb)).map((rings) => rings.map((xy) => {
      for (let k = 0; k < xy.length; k += 2) {
        let x = xy[k]!
        let y = xy[k + 1]!
        if (conv) {
          p[0] = x
          p[1] = y
          const q = conv.forward(p) as number[]
          x = q[0]!
          y = q[1]!
        }
        const dx = x - t[0]
        const dy = y - t[3]
        const c = ia * dx + ib * dy
        const r = ic * dx + id * dy
        xy[k] = c
        xy[k + 1] = r
        if (c < xmin) xmin = c
        if (c > xmax) xmax = c
        if (r < ymin) ymin = r
        if (r > ymax) ymax = r
      }
      return xy
    }))
    const c0 = Math.max(0, Math.floor(xmin))
    const c1 = Math.min(width, Math.ceil(xmax))
    const r0 = Math.max(0, Math.floor(ymin))
    const r1 = Math.min(height, Math.ceil(ymax))
    if (!(c0 < c1 && r0 < r1)) {
      outside.push({ id: u.id })
      continue
    }
    inside.push({ id: u.id, code: u.code, name: u.name, area_m2: Number(u.area_m2), rings: pixelRings(polys), r0, r1, c0, c1 })
  }
  return { inside, outside }
}

/**
 * (Multi)Polygon WKB → polygons of rings as flat [x0, y0, x1, y1 …] arrays, read straight
 * from the bytes (either byte order; 2D, or Z/M dimensions skipped).
 */
export function wkbPolygons(b: Uint8Array): Float64Array[][] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let o = 0
  const out: Float64Array[][] = []
  const geometry = () => {
    const le = dv.getUint8(o) === 1
    o += 1
    let type = dv.getUint32(o, le)
    o += 4
    let dims = 2
    if (type & 0x80000000) dims++ // EWKB Z
    if (type & 0x40000000) dims++ // EWKB M
    if (type & 0x20000000) o += 4 // EWKB SRID
    type &= 0xffff
    if (type > 1000) { dims += type >= 3000 ? 2 : 1; type %= 1000 }
    if (type === 6 || type === 7) {
      const n = dv.getUint32(o, le)
      o += 4
      for (let i = 0; i < n; i++) geometry()
      return
    }
    if (type !== 3) throw new Error(`unit geometry of WKB type ${type} is not polygonal`)
    const nr = dv.getUint32(o, le)
    o += 4
    const rings: Float64Array[] = []
    for (let r = 0; r < nr; r++) {
      const np = dv.getUint32(o, le)
      o += 4
      const xy = new Float64Array(np * 2)
      for (let k = 0; k < np; k++) {
        xy[2 * k] = dv.getFloat64(o, le)
        xy[2 * k + 1] = dv.getFloat64(o + 8, le)
        o += 8 * dims
      }
      rings.push(xy)
    }
    out.push(rings)
  }
  geometry()
  return out
}

/** What an accumulator is handed: one unit's coverage over some rows, and the values under it. */
export interface UnitWindow {
  unit: number
  /** first raster row and column of the window, its size */
  row: number
  col: number
  h: number
  w: number
  /** coverage as differences, row-major h×(w+1): the running sum along a row is the covered fraction */
  delta: Float64Array
  /** per source: the band's values and where the window's first pixel is, and the row stride */
  values: ArrayLike<number>[]
  offset: number
  stride: number
  /** pixel areas of row `row + i` of the window into out */
  areas: PixelAreas
}

export interface ScanOptions {
  signal?: AbortSignal
  progress?: (fraction: number) => Promise<void>
}

/**
 * Reads the sources (same grid) in bands and calls take() for each unit and band it meets.
 * Units must lie within the raster (loadZonalUnits clamps them).
 */
export async function scan(
  sources: PixelSource[], units: ZonalUnit[], areas: PixelAreas, take: (w: UnitWindow) => void, o: ScanOptions = {},
): Promise<number> {
  const first = sources[0]!
  const { height, width, blockHeight } = first
  if (!units.length) return 0
  const order = units.map((_, i) => i).sort((a, b) => units[a]!.r0 - units[b]!.r0)
  const top = units[order[0]!]!.r0
  const bottom = Math.max(...units.map((u) => u.r1))
  const bandRows = Math.max(blockHeight, Math.floor(BAND_PIXELS / width / blockHeight) * blockHeight)
  let next = 0
  let active: number[] = []
  let scratch = new Float64Array(0)
  let pixels = 0
  for (let y = Math.floor(top / blockHeight) * blockHeight; y < bottom; y += bandRows) {
    const y1 = Math.min(height, y + bandRows)
    while (next < order.length && units[order[next]!]!.r0 < y1) active.push(order[next++]!)
    active = active.filter((i) => units[i]!.r1 > y)
    if (!active.length) continue
    let x0 = width
    let x1 = 0
    for (const i of active) {
      const u = units[i]!
      if (u.c0 < x0) x0 = u.c0
      if (u.c1 > x1) x1 = u.c1
    }
    const values = await Promise.all(sources.map((s) => s.read(x0, y, x1, y1, o.signal)))
    const stride = x1 - x0
    for (const i of active) {
      const u = units[i]!
      const ra = Math.max(u.r0, y)
      const rb = Math.min(u.r1, y1)
      const h = rb - ra
      const w = u.c1 - u.c0
      if (h <= 0) continue
      if (scratch.length < h * (w + 1)) scratch = new Float64Array(h * (w + 1))
      coverageDeltas(u.rings, ra, rb, u.c0, u.c1, scratch)
      take({ unit: i, row: ra, col: u.c0, h, w, delta: scratch, values, offset: (ra - y) * stride + (u.c0 - x0), stride, areas })
      pixels += h * w
    }
    await o.progress?.((y1 - top) / Math.max(1, bottom - top))
  }
  return pixels
}
