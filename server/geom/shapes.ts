// WKB from the database → polygons as open lon/lat rings, and their bounding boxes.
import { wkbToGeometry } from './wkb.ts'
import { openRing, ringBox, type PolygonRings } from './overlap.ts'

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

export type Box = [number, number, number, number]

/**
 * Uniform buckets over items' bounding boxes, sized by the median item (grid cells of one
 * set, or survey patches, are all alike). `query` returns each item whose box meets the
 * given one, once.
 */
export class BoxIndex<T extends { bbox: Box }> {
  private readonly buckets = new Map<number, number[]>()
  private readonly x0: number
  private readonly y0: number
  private readonly w: number
  private readonly h: number
  private readonly seen: Uint32Array
  private stamp = 0

  constructor(private readonly items: T[], bucketScale = 1) {
    const median = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1] ?? 0
    this.w = Math.max(median(items.map((c) => c.bbox[2] - c.bbox[0])), 1e-9) * bucketScale
    this.h = Math.max(median(items.map((c) => c.bbox[3] - c.bbox[1])), 1e-9) * bucketScale
    // (a loop, not Math.min(...items): 3×10⁵ arguments overflow the stack)
    this.x0 = items.reduce((m, c) => Math.min(m, c.bbox[0]), Infinity)
    this.y0 = items.reduce((m, c) => Math.min(m, c.bbox[1]), Infinity)
    this.seen = new Uint32Array(items.length)
    items.forEach((c, n) => this.each(c.bbox, (k) => {
      const list = this.buckets.get(k)
      if (list) list.push(n)
      else this.buckets.set(k, [n])
    }))
  }

  private each(b: Box, fn: (key: number) => void) {
    const i0 = Math.floor((b[0] - this.x0) / this.w)
    const i1 = Math.floor((b[2] - this.x0) / this.w)
    const j0 = Math.floor((b[1] - this.y0) / this.h)
    const j1 = Math.floor((b[3] - this.y0) / this.h)
    for (let i = Math.max(-1, i0); i <= i1; i++) for (let j = Math.max(-1, j0); j <= j1; j++) fn(i * 4_194_304 + j)
  }

  query(b: Box): T[] {
    const out: T[] = []
    const stamp = ++this.stamp
    this.each(b, (k) => {
      for (const n of this.buckets.get(k) ?? []) {
        if (this.seen[n] === stamp) continue
        this.seen[n] = stamp
        const c = this.items[n]!.bbox
        if (c[0] <= b[2] && b[0] <= c[2] && c[1] <= b[3] && b[1] <= c[3]) out.push(this.items[n]!)
      }
    })
    return out
  }
}
