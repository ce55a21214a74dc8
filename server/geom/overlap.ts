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
export function overlap(shape: Shape | PolygonRings[], cell: Pt[], opts: { areaNeeded?: boolean } = {}): Overlap {
  const sh = Array.isArray(shape) ? prepare(shape) : shape
  const n = cell.length
  const cb = ringBox(cell)
  if (boxWithin(sh.bbox, cb) && strictlyInside(sh.polys, cell)) return { kind: 'inside' }
  const near = sh.near(cb)
  const cellCuts: { s: number; x: number; y: number }[][] = cell.map(() => [])
  const edges: { A: Pt; B: Pt; ts: number[] }[] = []
  let crossings = 0
  for (const e of near) {
    const A = sh.a[e]!
    const B = sh.b[e]!
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
  // boundaries crossing properly: interiors overlap; a caller that only counts is done
  if (crossings > 0 && opts.areaNeeded === false) return { kind: 'area', area: Number.NaN }
  if (crossings === 0) {
    // no boundary crossing: each ring lies wholly inside or wholly outside the cell
    for (const c of cell) if (sh.contains(c) === undefined) return { kind: 'degenerate' }
    let inRings = 0
    for (const r of sh.rings) {
      if (!boxWithin(r.bbox, cb)) continue // a ring reaching out of the cell's box is outside it
      const inside = pointInRing(r.first, cell)
      if (inside === undefined) return { kind: 'degenerate' }
      if (inside) inRings++
    }
    if (sh.rings.length > 0 && inRings === sh.rings.length) return { kind: 'inside' }
    if (inRings === 0) return sh.contains(cell[0]!) ? { kind: 'covers' } : { kind: 'outside' }
    // some rings inside, some outside (a hole in the cell, a part of a multipolygon
    // elsewhere): Green's theorem below handles it, with no cuts
  }
  // only edges near the cell can run inside it
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
    const inside = sh.contains(a)
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

/**
 * A polygon ready to meet many cells: its edges oriented (outer rings counter-clockwise,
 * holes clockwise, so that the inside is on the left) and, for large polygons, indexed in
 * buckets, so that a cell looks only at the edges near it and a point-in-polygon test only
 * at the edges on its row. Without the index a large protected area met every cell of a
 * 100 m grid with all its vertices: time grew with the square of the input.
 */
export interface Shape {
  polys: PolygonRings[]
  bbox: [number, number, number, number]
  a: Pt[]
  b: Pt[]
  rings: { first: Pt; bbox: [number, number, number, number] }[]
  near(box: [number, number, number, number]): Iterable<number>
  contains(p: Pt): boolean | undefined
}

const INDEX_ABOVE = 64

export function prepare(polys: PolygonRings[]): Shape {
  const a: Pt[] = []
  const b: Pt[] = []
  const rings: Shape['rings'] = []
  for (const { rings: rs } of polys) {
    rs.forEach((ring, r) => {
      if (!ring.length) return
      rings.push({ first: ring[0]!, bbox: ringBox(ring) })
      const reverse = (signedArea2(ring) > 0) !== (r === 0)
      const m = ring.length
      for (let e = 0; e < m; e++) {
        a.push(reverse ? ring[(m - e) % m]! : ring[e]!)
        b.push(reverse ? ring[(2 * m - e - 1) % m]! : ring[(e + 1) % m]!)
      }
    })
  }
  const bbox = rings.reduce<[number, number, number, number]>((acc, r) => [Math.min(acc[0], r.bbox[0]), Math.min(acc[1], r.bbox[1]), Math.max(acc[2], r.bbox[2]), Math.max(acc[3], r.bbox[3])], [Infinity, Infinity, -Infinity, -Infinity])
  const all = a.map((_, i) => i)
  const edgeBox = (i: number) => [Math.min(a[i]![0], b[i]![0]), Math.min(a[i]![1], b[i]![1]), Math.max(a[i]![0], b[i]![0]), Math.max(a[i]![1], b[i]![1])] as const
  if (a.length <= INDEX_ABOVE) {
    return { polys, bbox, a, b, rings, near: () => all, contains: (p) => pointIn(p, polys) }
  }
  // buckets of about 4 edges' extent each side
  const side = Math.max(1, Math.round(Math.sqrt(a.length)))
  const bw = (bbox[2] - bbox[0]) / side || 1
  const bh = (bbox[3] - bbox[1]) / side || 1
  const col = (x: number) => Math.min(side - 1, Math.max(0, Math.floor((x - bbox[0]) / bw)))
  const row = (y: number) => Math.min(side - 1, Math.max(0, Math.floor((y - bbox[1]) / bh)))
  const buckets: number[][] = Array.from({ length: side * side }, () => [])
  for (let i = 0; i < a.length; i++) {
    const [x0, y0, x1, y1] = edgeBox(i)
    for (let r = row(y0); r <= row(y1); r++) for (let c = col(x0); c <= col(x1); c++) buckets[r * side + c]!.push(i)
  }
  let stamp = 0
  const seen = new Uint32Array(a.length)
  const near = (box: [number, number, number, number]) => {
    const out: number[] = []
    if (box[2] < bbox[0] || box[0] > bbox[2] || box[3] < bbox[1] || box[1] > bbox[3]) return out
    stamp++
    for (let r = row(box[1]); r <= row(box[3]); r++) {
      for (let c = col(box[0]); c <= col(box[2]); c++) {
        for (const i of buckets[r * side + c]!) {
          if (seen[i] === stamp) continue
          seen[i] = stamp
          const [x0, y0, x1, y1] = edgeBox(i)
          if (x1 >= box[0] && x0 <= box[2] && y1 >= box[1] && y0 <= box[3]) out.push(i)
        }
      }
    }
    return out
  }
  const contains = (p: Pt): boolean | undefined => {
    if (p[0] < bbox[0] || p[0] > bbox[2] || p[1] < bbox[1] || p[1] > bbox[3]) return false
    // on an edge? only edges near the point can tell
    for (const i of near([p[0] - 1e-9, p[1] - 1e-9, p[0] + 1e-9, p[1] + 1e-9])) if (onEdge(p, a[i]!, b[i]!)) return undefined
    // parity of the crossings of a ray to the east: only edges on the point's row
    stamp++
    let inside = false
    const r = row(p[1])
    for (let c = col(p[0]); c < side; c++) {
      for (const i of buckets[r * side + c]!) {
        if (seen[i] === stamp) continue
        seen[i] = stamp
        if (crossesEast(p, a[i]!, b[i]!)) inside = !inside
      }
    }
    return inside
  }
  return { polys, bbox, a, b, rings, near, contains }
}

export function ringBox(ring: Pt[]): [number, number, number, number] {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity
  for (const [x, y] of ring) {
    if (x < x0) x0 = x
    if (x > x1) x1 = x
    if (y < y0) y0 = y
    if (y > y1) y1 = y
  }
  return [x0, y0, x1, y1]
}

const boxWithin = (a: number[], b: number[]) => a[0]! >= b[0]! && a[2]! <= b[2]! && a[1]! >= b[1]! && a[3]! <= b[3]!

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
export const EPS = 1e-12
function onSegment(f: number, p: Pt, a: Pt, ex: number, ey: number, len2: number): boolean {
  if (Math.abs(f) > EPS * Math.sqrt(len2)) return false
  const s = ((p[0] - a[0]) * ex + (p[1] - a[1]) * ey) / len2
  return s >= -EPS && s <= 1 + EPS
}

/** Where p lies along a→b (0 at a, 1 at b) when it is on that line within EPS, else undefined. */
export function lineParam(p: Pt, a: Pt, b: Pt): number | undefined {
  const ex = b[0] - a[0]
  const ey = b[1] - a[1]
  const len2 = ex * ex + ey * ey
  if (len2 === 0 || Math.abs(ex * (p[1] - a[1]) - ey * (p[0] - a[0])) > EPS * Math.sqrt(len2)) return undefined
  return ((p[0] - a[0]) * ex + (p[1] - a[1]) * ey) / len2
}

/** p lies on the segment a–b (within EPS). */
export function onEdge(p: Pt, a: Pt, b: Pt): boolean {
  // outside the edge's box by more than 1e-9°: not on it (a cheap test for the common case)
  if (((p[0] < a[0] && p[0] < b[0]) || (p[0] > a[0] && p[0] > b[0]) || (p[1] < a[1] && p[1] < b[1]) || (p[1] > a[1] && p[1] > b[1])) &&
    Math.min(Math.abs(p[0] - a[0]), Math.abs(p[0] - b[0]), Math.abs(p[1] - a[1]), Math.abs(p[1] - b[1])) > 1e-9) return false
  const t = lineParam(p, a, b)
  return t !== undefined && t >= -EPS && t <= 1 + EPS
}

/** The edge a–b crosses the ray from p to the east (half-open in y, for parity counting). */
function crossesEast(p: Pt, a: Pt, b: Pt): boolean {
  return (a[1] > p[1]) !== (b[1] > p[1]) && p[0] < a[0] + ((p[1] - a[1]) / (b[1] - a[1])) * (b[0] - a[0])
}

/** Where p lies against polygons with holes: inside, outside, or on a boundary (within EPS). */
export function locate(p: Pt, polys: PolygonRings[]): 'in' | 'out' | 'on' {
  for (const { rings } of polys) for (const ring of rings) for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) if (onEdge(p, ring[j]!, ring[i]!)) return 'on'
  let inside = false
  for (const { rings } of polys) for (const ring of rings) for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) if (crossesEast(p, ring[j]!, ring[i]!)) inside = !inside
  return inside ? 'in' : 'out'
}

/** Parity point-in-polygon over all rings; undefined when p lies (almost) on an edge. */
function pointIn(p: Pt, polys: PolygonRings[]): boolean | undefined {
  const w = locate(p, polys)
  return w === 'on' ? undefined : w === 'in'
}

function edgeS12(x1: number, y1: number, x2: number, y2: number): number {
  if (x1 === x2 && y1 === y2) return 0
  return GRS80.Inverse(y1, x1, y2, x2, AREA).S12
}

export interface PolygonRings {
  /** outer ring first, holes after; open rings */
  rings: Pt[][]
}
