// Which features of a layer overlap each other (share interior, not just an edge), found
// in-process: a bucket index on bounding boxes, then an exact test per candidate pair.
// Survey layers are mostly tilings whose neighbours share edges vertex for vertex; asking
// GEOS for a full relate of every such pair was the slowest step of the engine. Pairs the
// test cannot decide (one boundary lying wholly on the other's) are left to PostGIS.
import { EPS, lineParam, locate, type PolygonRings, type Pt } from '../../geom/overlap.ts'
import { BoxIndex, type Box } from '../../geom/shapes.ts'

export interface FeatureShape {
  id: string
  category: string | null
  polys: PolygonRings[]
  bbox: Box
}

export interface OverlapPairs {
  pairs: { a: string; b: string; ca: string | null; cb: string | null }[]
  /** pairs for PostGIS to decide */
  uncertain: [string, string][]
}

export function findOverlaps(features: FeatureShape[]): OverlapPairs {
  const out: OverlapPairs = { pairs: [], uncertain: [] }
  if (features.length < 2) return out
  // buckets twice the median patch: a patch meets its neighbours in few buckets
  const index = new BoxIndex(features.map((f, n) => ({ f, n, bbox: f.bbox })), 2)
  features.forEach((f, n) => {
    for (const { f: g, n: m } of index.query(f.bbox)) {
      if (m <= n) continue
      // boxes that only touch cannot hold overlapping interiors
      if (!(f.bbox[0] < g.bbox[2] && g.bbox[0] < f.bbox[2] && f.bbox[1] < g.bbox[3] && g.bbox[1] < f.bbox[3])) continue
      const o = interiorsOverlap(f.polys, g.polys)
      if (o === undefined) out.uncertain.push([f.id, g.id])
      else if (o) out.pairs.push({ a: f.id, b: g.id, ca: f.category, cb: g.category })
    }
  })
  return out
}


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
    const w = locate(p, other)
    if (w === 'in') return true
    if (w === 'out') allOn = false
    // split the edge at the other's vertices lying on it, test the middle of every piece
    const ts = [0, 1]
    for (const [r] of otherEdges) {
      const t = lineParam(r, p, q)
      if (t !== undefined && t > 0 && t < 1) ts.push(t)
    }
    ts.sort((x, y) => x - y)
    for (let i = 0; i + 1 < ts.length; i++) {
      if (ts[i + 1]! - ts[i]! <= 0) continue
      const t = (ts[i]! + ts[i + 1]!) / 2
      const m: Pt = [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]
      const wm = locate(m, other)
      if (wm === 'in') return true
      if (wm === 'out') allOn = false
    }
  }
  return allOn ? 'onAll' : false
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
