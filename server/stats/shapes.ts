// WKB from the database → polygons as open lon/lat rings, and their bounding boxes.
import { wkbToGeometry } from '../ingest/wkb.ts'
import { openRing, type PolygonRings } from './cell-overlap.ts'

/** bytea arrives as Uint8Array (PGlite), Buffer (pg) or, in text mode, \\x-hex. */
export function toBytes(v: Uint8Array | Buffer | string): Uint8Array {
  if (typeof v === 'string') return Buffer.from(v.replace(/^\\x/, ''), 'hex')
  return v
}

export function polygonsOf(wkb: Uint8Array | Buffer | string): PolygonRings[] {
  const g = wkbToGeometry(toBytes(wkb))
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : []
  return polys.map((rings) => ({ rings: rings.map((r) => openRing(r)) }))
}

export function bboxOf(polys: PolygonRings[]): [number, number, number, number] {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity
  for (const { rings } of polys) for (const [x, y] of rings[0] ?? []) {
    if (x < x0) x0 = x
    if (x > x1) x1 = x
    if (y < y0) y0 = y
    if (y > y1) y1 = y
  }
  return [x0, y0, x1, y1]
}
