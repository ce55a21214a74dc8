// Polygon WKB read straight from the bytes into flat coordinate arrays (no GeoJSON objects).

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
