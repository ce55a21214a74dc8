// WKB from the database → polygons as open lon/lat rings, and their bounding boxes.
import { wkbToGeometry } from '../ingest/wkb.ts'
import { openRing, ringBox, type PolygonRings } from './cell-overlap.ts'

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

/** Bounding box of the outer rings (holes lie inside them). */
export function bboxOf(polys: PolygonRings[]): [number, number, number, number] {
  return polys.reduce<[number, number, number, number]>((acc, { rings }) => {
    const [x0, y0, x1, y1] = ringBox(rings[0] ?? [])
    return [Math.min(acc[0], x0), Math.min(acc[1], y0), Math.max(acc[2], x1), Math.max(acc[3], y1)]
  }, [Infinity, Infinity, -Infinity, -Infinity])
}
