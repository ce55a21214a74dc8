import type { Geometry, Position } from 'geojson'

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
    const le = view.getUint8(o) === 1
    o += 1
    let type = view.getUint32(o, le)
    o += 4
    let dims = 2
    if (type & 0x20000000) { need(4); o += 4 } // EWKB SRID
    if (type & 0x80000000) dims++
    if (type & 0x40000000) dims++
    type &= 0x0fffffff
    if (type >= 1000) {
      const iso = Math.floor(type / 1000)
      dims = iso === 3 ? 4 : 3
      type %= 1000
    }
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
