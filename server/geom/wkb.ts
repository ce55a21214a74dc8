// Well-known binary: one header reader (byte order, type, dimensions, EWKB SRID) and the
// readers built on it — GeoJSON for ingest (wkbToGeometry), flat rings for units and tiles
// (wkbPolygons); the cell engine's feature parser (stats/cells/read/feature-parse.ts) reads
// the header here too and projects coordinates as it goes.
import type { Geometry, Position } from 'geojson'

/**
 * The header of the geometry at byte `o`, packed in one number (no object on hot paths):
 * bits 0–7 the type (1 Point … 7 GeometryCollection), 8–10 the dimensions (2–4), bit 11
 * little-endian, bit 12 an EWKB SRID follows the type. Reads ISO (type + 1000/2000/3000)
 * and EWKB (flag bits) dimension markers.
 */
export function wkbHeader(dv: DataView, o: number): number {
  const le = dv.getUint8(o) === 1
  let type = dv.getUint32(o + 1, le)
  let dims = 2
  if (type & 0x80000000) dims++ // EWKB Z
  if (type & 0x40000000) dims++ // EWKB M
  const srid = type & 0x20000000 ? 1 : 0
  type &= 0x0fffffff
  if (type >= 1000) { dims = type >= 3000 ? 4 : 3; type %= 1000 }
  return (type & 0xff) | (dims << 8) | (le ? 1 << 11 : 0) | (srid << 12)
}
export const wkbType = (h: number): number => h & 0xff
export const wkbDims = (h: number): number => (h >> 8) & 7
export const wkbLittle = (h: number): boolean => (h & (1 << 11)) !== 0
/** bytes of the header: order, type and the SRID when there is one */
export const wkbHeaderBytes = (h: number): number => (h & (1 << 12) ? 9 : 5)

/**
 * Well-known binary → GeoJSON geometry (2-D). Reads ISO (type + 1000/2000/3000) and
 * EWKB (flag bits) dimension markers; Z and M values are dropped.
 */
export function wkbToGeometry(buf: Uint8Array, offset = 0): Geometry {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let o = offset
  const need = (n: number) => {
    if (o + n > buf.byteLength) throw new Error(`WKB truncated at byte ${o}`)
  }
  const read = (): Geometry => {
    need(5)
    const h = wkbHeader(view, o)
    need(wkbHeaderBytes(h))
    o += wkbHeaderBytes(h)
    const [type, dims, le] = [wkbType(h), wkbDims(h), wkbLittle(h)]
    const u32 = () => { need(4); const v = view.getUint32(o, le); o += 4; return v }
    const pt = (): Position => {
      need(8 * dims)
      const p = [view.getFloat64(o, le), view.getFloat64(o + 8, le)]
      o += 8 * dims
      return p
    }
    const pts = () => Array.from({ length: u32() }, pt)
    const rings = () => Array.from({ length: u32() }, pts)
    switch (type) {
      case 1: return { type: 'Point', coordinates: pt() }
      case 2: return { type: 'LineString', coordinates: pts() }
      case 3: return { type: 'Polygon', coordinates: rings() }
      case 4: return { type: 'MultiPoint', coordinates: Array.from({ length: u32() }, () => (read() as GeoJSON.Point).coordinates) }
      case 5: return { type: 'MultiLineString', coordinates: Array.from({ length: u32() }, () => (read() as GeoJSON.LineString).coordinates) }
      case 6: return { type: 'MultiPolygon', coordinates: Array.from({ length: u32() }, () => (read() as GeoJSON.Polygon).coordinates) }
      case 7: return { type: 'GeometryCollection', geometries: Array.from({ length: u32() }, read) }
      default: throw new Error(`WKB geometry type ${type} is not supported`)
    }
  }
  return read()
}

/** GeoPackage binary header (GP magic, flags, srs id, envelope) → offset of the WKB and emptiness. */
export function gpkgWkbOffset(buf: Uint8Array): { offset: number; empty: boolean; srsId: number } {
  if (buf.byteLength < 8 || buf[0] !== 0x47 || buf[1] !== 0x50) throw new Error('not a GeoPackage geometry blob (no GP magic)')
  const flags = buf[3]!
  const le = (flags & 1) === 1
  const envelope = (flags >> 1) & 7
  const envelopeBytes = [0, 32, 48, 48, 64][envelope]
  if (envelopeBytes === undefined) throw new Error(`invalid GeoPackage envelope code ${envelope}`)
  const srsId = new DataView(buf.buffer, buf.byteOffset + 4, 4).getInt32(0, le)
  return { offset: 8 + envelopeBytes, empty: ((flags >> 4) & 1) === 1, srsId }
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
    const h = wkbHeader(dv, o)
    o += wkbHeaderBytes(h)
    const type = wkbType(h), dims = wkbDims(h), le = wkbLittle(h)
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

/** Widens box (x0, y0, x1, y1) to hold the pairs of a flat coordinate array. */
export function widenBox(xy: Float64Array, box: Float64Array | number[]): void {
  let x0 = box[0]!, y0 = box[1]!, x1 = box[2]!, y1 = box[3]!
  for (let k = 0; k < xy.length; k += 2) {
    const x = xy[k]!
    const y = xy[k + 1]!
    if (x < x0) x0 = x
    if (x > x1) x1 = x
    if (y < y0) y0 = y
    if (y > y1) y1 = y
  }
  box[0] = x0
  box[1] = y0
  box[2] = x1
  box[3] = y1
}
