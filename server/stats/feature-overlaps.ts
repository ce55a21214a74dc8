// Which features of a layer overlap each other (share interior, not just an edge), found
// in-process: a bucket index on bounding boxes, then an exact test per candidate pair.
// Survey layers are mostly tilings whose neighbours share edges vertex for vertex; asking
// GEOS for a full relate of every such pair was the slowest step of the engine. Pairs the
// test cannot decide (one boundary lying wholly on the other's) are left to PostGIS.
import type { PolygonRings, Pt } from './cell-overlap.ts'

export interface FeatureShape {
  id: string
  category: string | null
  polys: PolygonRings[]
  bbox: [number, number, number, number]
}

export interface OverlapPairs {
  pairs: { a: string; b: string; ca: string | null; cb: string | null }[]
  /** pairs for PostGIS to decide */
  uncertain: [string, string][]
}

export function findOverlaps(features: FeatureShape[]): OverlapPairs {
  const out: OverlapPairs = { pairs: [], uncertain: [] }
  if (features.length < 2) return out
  const widths = features.map((f) => f.bbox[2] - f.bbox[0]).sort((x, y) => x - y)
  const heights = features.map((f) => f.bbox[3] - f.bbox[1]).sort((x, y) => x - y)
  const w = Math.max(widths[widths.length >> 1]!, 1e-9) * 2
  const h = Math.max(heights[heights.length >> 1]!, 1e-9) * 2
  const buckets = new Map<number, number[]>()
  const cellsOf = (b: number[], fn: (k: number) => void) => {
    for (let i = Math.floor(b[0]! / w); i <= Math.floor(b[2]! / w); i++) {
      for (let j = Math.floor(b[1]! / h); j <= Math.floor(b[3]! / h); j++) fn(i * 4_194_304 + j)
    }
  }
  features.forEach((f, n) => cellsOf(f.bbox, (k) => {
    const l = buckets.get(k)
    if (l) l.push(n)
    else buckets.set(k, [n])
  }))
  const seen = new Set<number>()
  features.forEach((f, n) => {
    seen.clear()
    cellsOf(f.bbox, (k) => {
      for (const m of buckets.get(k)!) {
        if (m <= n || seen.has(m)) continue
        seen.add(m)
        const g = features[m]!
        // boxes that only touch cannot hold overlapping interiors
        if (!(f.bbox[0] < g.bbox[2] && g.bbox[0] < f.bbox[2] && f.bbox[1] < g.bbox[3] && g.bbox[1] < f.bbox[3])) continue
        const o = interiorsOverlap(f.polys, g.polys)
        if (o === undefined) out.uncertain.push([f.id, g.id])
        else if (o) out.pairs.push({ a: f.id, b: g.id, ca: f.category, cb: g.category })
      }
    })
  })
  return out
}

type Where = 'in' | 'out' | 'on'
const EPS = 1e-12

/**
 * Whether two valid polygons share interior. Without a proper crossing of their
 * boundaries, interiors meet only where one boundary enters the other's interior — tested
 * at every vertex and at the middle of every edge piece between the other's vertices on
 * it — or where the boundaries coincide, which is undecided here (undefined).
 */
export function interiorsOverlap(a: PolygonRings[], b: PolygonRings[]): boolean | undefined {
  const ea = edgesOf(a)
  const eb = edgesOf(b)
  for (const [p, q] of ea) for (const [r, s] of eb) if (properCross(p, q, r, s)) return true
  const sa = enters(ea, eb, b)
  if (sa === true) return true
  const sb = enters(eb, ea, a)
  if (sb === true) return true
  // sa / sb false: some sample strictly outside; 'onAll': every sample on the other's boundary
  if (sa === 'onAll' || sb === 'onAll') return undefined
  return false
}

function edgesOf(polys: PolygonRings[]): [Pt, Pt][] {
  const out: [Pt, Pt][] = []
  for (const { rings } of polys) for (const r of rings) for (let i = 0; i < r.length; i++) out.push([r[i]!, r[(i + 1) % r.length]!])
  return out
}

/** true: some sample of edges `e` is strictly inside `other`; 'onAll': all on its boundary; false otherwise. */
function enters(e: [Pt, Pt][], otherEdges: [Pt, Pt][], other: PolygonRings[]): true | false | 'onAll' {
  let allOn = true
  for (const [p, q] of e) {
    const w = where(p, otherEdges, other)
    if (w === 'in') return true
    if (w === 'out') allOn = false
    // split the edge at the other's vertices lying on it, test the middle of every piece
    const ts = [0, 1]
    for (const [r] of otherEdges) {
      const t = paramOn(r, p, q)
      if (t !== undefined) ts.push(t)
    }
    ts.sort((x, y) => x - y)
    for (let i = 0; i + 1 < ts.length; i++) {
      if (ts[i + 1]! - ts[i]! <= 0) continue
      const t = (ts[i]! + ts[i + 1]!) / 2
      const m: Pt = [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]
      const wm = where(m, otherEdges, other)
      if (wm === 'in') return true
      if (wm === 'out') allOn = false
    }
  }
  return allOn ? 'onAll' : false
}

/** Parameter of point r on segment p→q (strictly between), if it lies on it. */
function paramOn(r: Pt, p: Pt, q: Pt): number | undefined {
  const ex = q[0] - p[0]
  const ey = q[1] - p[1]
  const len2 = ex * ex + ey * ey
  if (len2 === 0) return undefined
  const f = ex * (r[1] - p[1]) - ey * (r[0] - p[0])
  if (Math.abs(f) > EPS * Math.sqrt(len2)) return undefined
  const t = ((r[0] - p[0]) * ex + (r[1] - p[1]) * ey) / len2
  return t > 0 && t < 1 ? t : undefined
}

function where(p: Pt, edges: [Pt, Pt][], polys: PolygonRings[]): Where {
  const x = p[0]
  const y = p[1]
  for (const [a, b] of edges) {
    if ((x < a[0] && x < b[0]) || (x > a[0] && x > b[0]) || (y < a[1] && y < b[1]) || (y > a[1] && y > b[1])) {
      // outside the edge's box: on it only within rounding of an axis-parallel edge
      if (Math.min(Math.abs(x - a[0]), Math.abs(x - b[0]), Math.abs(y - a[1]), Math.abs(y - b[1])) > 1e-9) continue
    }
    const ex = b[0] - a[0]
    const ey = b[1] - a[1]
    const len2 = ex * ex + ey * ey
    if (len2 === 0) continue
    const f = ex * (p[1] - a[1]) - ey * (p[0] - a[0])
    if (Math.abs(f) > EPS * Math.sqrt(len2)) continue
    const t = ((p[0] - a[0]) * ex + (p[1] - a[1]) * ey) / len2
    if (t >= -EPS && t <= 1 + EPS) return 'on'
  }
  let inside = false
  for (const { rings } of polys) {
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const a = ring[j]!
        const b = ring[i]!
        if ((a[1] > p[1]) !== (b[1] > p[1]) && p[0] < a[0] + ((p[1] - a[1]) / (b[1] - a[1])) * (b[0] - a[0])) inside = !inside
      }
    }
  }
  return inside ? 'in' : 'out'
}

function orient(a: Pt, b: Pt, c: Pt): number {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/** Segments p–q and r–s cross at one point interior to both (no touching, no collinearity). */
function properCross(p: Pt, q: Pt, r: Pt, s: Pt): boolean {
  if (Math.max(p[0], q[0]) < Math.min(r[0], s[0]) || Math.max(r[0], s[0]) < Math.min(p[0], q[0])) return false
  if (Math.max(p[1], q[1]) < Math.min(r[1], s[1]) || Math.max(r[1], s[1]) < Math.min(p[1], q[1])) return false
  const d1 = orient(p, q, r)
  const d2 = orient(p, q, s)
  const d3 = orient(r, s, p)
  const d4 = orient(r, s, q)
  const tol = (u: Pt, v: Pt) => EPS * Math.hypot(v[0] - u[0], v[1] - u[1])
  const t1 = tol(p, q)
  const t2 = tol(r, s)
  if (Math.abs(d1) <= t1 || Math.abs(d2) <= t1 || Math.abs(d3) <= t2 || Math.abs(d4) <= t2) return false
  return (d1 > 0) !== (d2 > 0) && (d3 > 0) !== (d4 > 0)
}
