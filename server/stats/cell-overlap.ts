// Exact overlap of polygons with small simple units (grid cells), pure. Coordinates are
// lon/lat degrees and segments are straight in lon/lat, exactly as PostGIS overlays
// them; areas are ellipsoidal with geodesic edges (GeographicLib, the algorithm
// PostGIS's ST_Area(geography) uses), so a clipped area here equals
// ST_Area(ST_Intersection(cell, piece)::geography) to rounding.
import geodesic from 'geographiclib-geodesic'

export type Pt = [number, number]

const GRS80 = new geodesic.Geodesic.Geodesic(6378137, 1 / 298.257222101)
const AREA = geodesic.Geodesic.AREA

/** Twice the signed planar area (counter-clockwise positive) of an open ring. */
export function signedArea2(ring: Pt[]): number {
  let s = 0
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += (ring[j]![0] - ring[i]![0]) * (ring[j]![1] + ring[i]![1])
  return s
}

/** The open ring (no repeated closing point) of a closed GeoJSON ring. */
export function openRing(ring: number[][]): Pt[] {
  const out = ring.map((p) => [p[0]!, p[1]!] as Pt)
  const a = out[0]
  const b = out[out.length - 1]
  if (a && b && a[0] === b[0] && a[1] === b[1]) out.pop()
  return out
}

export type Overlap =
  | { kind: 'inside' } // the polygon lies in the cell: its own area counts
  | { kind: 'covers' } // the cell lies in the polygon: the cell's area counts
  | { kind: 'outside' }
  | { kind: 'area'; area: number }
  | { kind: 'degenerate' } // a vertex on the other's boundary: ask PostGIS

/**
 * How a polygon meets a cell (any simple ring: grid cells, densified or clipped), and
 * the area they share when they cross. The area is Green's theorem on the ellipsoid:
 * the boundary of the intersection is the polygon's edges cut at the cell boundary and
 * kept where they run inside the cell, plus the cell's edges cut where the polygon
 * crosses them and kept where they run inside the polygon. Each piece is a geodesic
 * between the vertices GEOS would produce, and the area is the sum of GeographicLib's
 * per-edge areas S12: what ST_Area(ST_Intersection(cell, polygon)::geography) gives,
 * without building the polygon. (A Sutherland–Hodgman polygon would not do: its
 * zero-width bridges along the cell edge have no planar area but do have geodesic area.)
 */
export function overlap(polys: PolygonRings[], cell: Pt[]): Overlap {
  const n = cell.length
  if (strictlyInside(polys, cell)) return { kind: 'inside' }
  const cellCuts: { s: number; x: number; y: number }[][] = cell.map(() => [])
  const edges: { A: Pt; B: Pt; ts: number[] }[] = []
  let crossings = 0
  for (const { rings } of polys) {
    for (let r = 0; r < rings.length; r++) {
      const ring = rings[r]!
      // outer rings counter-clockwise, holes clockwise: then "inside" is to the left
      const reverse = (signedArea2(ring) > 0) !== (r === 0)
      const m = ring.length
      for (let e = 0; e < m; e++) {
        const A = reverse ? ring[(m - e) % m]! : ring[e]!
        const B = reverse ? ring[(2 * m - e - 1) % m]! : ring[(e + 1) % m]!
        const ts: number[] = []
        for (let k = 0; k < n; k++) {
          const a = cell[k]!
          const b = cell[(k + 1) % n]!
          const ex = b[0] - a[0]
          const ey = b[1] - a[1]
          const len2 = ex * ex + ey * ey
          if (len2 === 0) continue
          const fa = ex * (A[1] - a[1]) - ey * (A[0] - a[0])
          const fb = ex * (B[1] - a[1]) - ey * (B[0] - a[0])
          if (onSegment(fa, A, a, ex, ey, len2)) return { kind: 'degenerate' }
          if ((fa < 0) === (fb < 0) || fa === fb) continue
          const t = fa / (fa - fb)
          const x = A[0] + t * (B[0] - A[0])
          const y = A[1] + t * (B[1] - A[1])
          const sp = ((x - a[0]) * ex + (y - a[1]) * ey) / len2
          if (sp <= 0 || sp >= 1) continue
          ts.push(t)
          cellCuts[k]!.push({ s: sp, x, y })
          crossings++
        }
        edges.push({ A, B, ts })
      }
    }
  }
  if (crossings === 0) {
    // no boundary crossing: each ring lies wholly inside or wholly outside the cell
    for (const c of cell) if (pointIn(c, polys) === undefined) return { kind: 'degenerate' }
    let inRings = 0
    let allRings = 0
    for (const { rings } of polys) {
      for (const ring of rings) {
        allRings++
        const first = ring[0]
        if (!first) continue
        const inside = pointInRing(first, cell)
        if (inside === undefined) return { kind: 'degenerate' }
        if (inside) inRings++
      }
    }
    if (allRings > 0 && inRings === allRings) return { kind: 'inside' }
    if (inRings === 0) return pointIn(cell[0]!, polys) ? { kind: 'covers' } : { kind: 'outside' }
    // some rings inside, some outside (a hole in the cell, a part of a multipolygon
    // elsewhere): Green's theorem below handles it, with no cuts
  }
  let s12 = 0
  for (const { A, B, ts } of edges) {
    const cuts = [0, ...ts.sort((u, v) => u - v), 1]
    for (let i = 0; i + 1 < cuts.length; i++) {
      const t0 = cuts[i]!
      const t1 = cuts[i + 1]!
      if (t1 <= t0) continue
      const tm = (t0 + t1) / 2
      const inside = pointInRing([A[0] + tm * (B[0] - A[0]), A[1] + tm * (B[1] - A[1])], cell)
      if (inside === undefined) return { kind: 'degenerate' }
      if (inside) s12 += edgeS12(A[0] + t0 * (B[0] - A[0]), A[1] + t0 * (B[1] - A[1]), A[0] + t1 * (B[0] - A[0]), A[1] + t1 * (B[1] - A[1]))
    }
  }
  for (let k = 0; k < n; k++) {
    const a = cell[k]!
    const b = cell[(k + 1) % n]!
    const inside = pointIn(a, polys)
    if (inside === undefined) return { kind: 'degenerate' }
    let state = inside
    let px = a[0]
    let py = a[1]
    for (const c of cellCuts[k]!.sort((u, v) => u.s - v.s)) {
      if (state) s12 += edgeS12(px, py, c.x, c.y)
      state = !state
      px = c.x
      py = c.y
    }
    if (state) s12 += edgeS12(px, py, b[0], b[1])
  }
  return { kind: 'area', area: Math.max(0, -s12) }
}

/** Every vertex clearly inside every edge of the (counter-clockwise) cell: the common case, decided cheaply. */
function strictlyInside(polys: PolygonRings[], cell: Pt[]): boolean {
  const n = cell.length
  for (let k = 0; k < n; k++) {
    const a = cell[k]!
    const b = cell[(k + 1) % n]!
    const ex = b[0] - a[0]
    const ey = b[1] - a[1]
    const tol = EPS * Math.sqrt(ex * ex + ey * ey)
    for (const { rings } of polys) for (const ring of rings) for (const p of ring) {
      if (ex * (p[1] - a[1]) - ey * (p[0] - a[0]) <= tol) return false
    }
  }
  return true
}

/** A ring, counter-clockwise; undefined if it has no area. */
export function ccw(ring: Pt[]): Pt[] | undefined {
  const a = signedArea2(ring)
  if (!(Math.abs(a) > 0) || ring.length < 3) return undefined
  return a > 0 ? ring : [...ring].reverse()
}

function pointInRing(p: Pt, ring: Pt[]): boolean | undefined {
  return pointIn(p, [{ rings: [ring] }])
}

/** |distance| of a point to a segment below ~1e-7 m (1e-12°): degenerate contact. */
const EPS = 1e-12
function onSegment(f: number, p: Pt, a: Pt, ex: number, ey: number, len2: number): boolean {
  if (Math.abs(f) > EPS * Math.sqrt(len2)) return false
  const s = ((p[0] - a[0]) * ex + (p[1] - a[1]) * ey) / len2
  return s >= -EPS && s <= 1 + EPS
}

/** Parity point-in-polygon over all rings; undefined when p lies (almost) on an edge. */
function pointIn(p: Pt, polys: PolygonRings[]): boolean | undefined {
  let inside = false
  for (const { rings } of polys) {
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const a = ring[j]!
        const b = ring[i]!
        const ex = b[0] - a[0]
        const ey = b[1] - a[1]
        const len2 = ex * ex + ey * ey
        if (len2 > 0 && onSegment(ex * (p[1] - a[1]) - ey * (p[0] - a[0]), p, a, ex, ey, len2)) return undefined
        if ((a[1] > p[1]) !== (b[1] > p[1]) && p[0] < a[0] + ((p[1] - a[1]) / (b[1] - a[1])) * ex) inside = !inside
      }
    }
  }
  return inside
}

function edgeS12(x1: number, y1: number, x2: number, y2: number): number {
  if (x1 === x2 && y1 === y2) return 0
  return GRS80.Inverse(y1, x1, y2, x2, AREA).S12
}

/** Ellipsoidal area (GRS80, geodesic edges) of an open lon/lat ring, m², unsigned. */
export function geodesicRingArea(ring: Pt[]): number {
  if (ring.length < 3) return 0
  const p = GRS80.Polygon(false)
  for (const [lon, lat] of ring) p.AddPoint(lat, lon)
  return Math.abs(p.Compute(false, true).area)
}

export interface PolygonRings {
  /** outer ring first, holes after; open rings */
  rings: Pt[][]
}
