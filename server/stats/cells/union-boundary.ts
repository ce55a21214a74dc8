// The boundary of the union of a set of polygons, as directed segments (the union on
// their left), pure. No polygon is built: by Green's theorem the area of the union inside
// any cell follows from these segments alone (cells/measure.ts).
//
// Survey layers are mostly tilings: neighbours share edges vertex for vertex and overlap
// nothing. Their edges go out as they are — a shared edge appears once in each direction,
// and the two cancel in every area sum. Only features that may overlap another are cut
// up: where edges of two features cross or one's vertex lies on the other's edge, both
// are split there, and each piece is kept unless it runs inside another feature or along
// another's edge in the same direction (kept once, by the lower feature number). Pieces
// along another's edge in the opposite direction stay, like shared edges of uncut
// features: inner edges of the union in pairs that cancel.
// Coordinates are lon/lat degrees, segments straight in lon/lat as GEOS overlays them;
// every kept point also carries its equal-area projection (laea.ts) for measuring.
import type { Laea } from '../../geom/laea.ts'
import { bucketOf, boxGrid, BoxQuery, type BoxGrid } from '../../geom/box-grid.ts'
import type { Box } from '../../geom/shapes.ts'

/** Edges longer than this (metres, projected) are left to PostGIS by cells/measure.ts. */
export const LONG_M = 400

/** A point within ~1e-7 m (1e-12°) of a line counts as on it. */
export const EPS = 1e-12

export interface Feat {
  id: string
  category: string | null
  /** open rings as flat [lon0, lat0, lon1, lat1 …]; outer rings counter-clockwise, holes clockwise */
  rings: Float64Array[]
  /** the same rings in the run's equal-area projection, metres */
  proj: Float64Array[]
  bbox: Box
  /** area in the projection (m²), holes subtracted */
  area: number
  /** some edge is longer than cells/measure.ts measures in the projection (LONG_M) */
  long: boolean
  /** 1 when the feature meets another of its layer (contactFlags), 0 when not; undefined: not known (cells/read/contacts.ts) */
  meets?: number
}

/**
 * A closed flat lon/lat ring opened (no repeated closing point), turned counter-clockwise
 * (`ccw`) or clockwise, and projected, with its longest projected edge (metres).
 * Undefined when it has no area.
 */
export function orientedRing(closed: Float64Array, ccw: boolean, pr: Laea): { ring: Float64Array; proj: Float64Array; longest: number } | undefined {
  let n = closed.length >> 1
  if (n > 1 && closed[0] === closed[2 * n - 2] && closed[1] === closed[2 * n - 1]) n--
  if (n < 3) return undefined
  const ring = closed.slice(0, 2 * n)
  const proj = new Float64Array(2 * n)
  const longest2 = orientInPlace(ring, ccw, pr, proj)
  return longest2 < 0 ? undefined : { ring, proj, longest: Math.sqrt(longest2) }
}

/**
 * An open ring turned in place counter-clockwise (`ccw`) or clockwise, and projected into
 * `proj` (as long as the ring); returns its longest projected edge squared, or −1 when the
 * ring has no area (then neither array is to be used). Cells (orientedRing) and features
 * (feature-parse.ts) both go through it.
 */
export function orientInPlace(ring: Float64Array, ccw: boolean, pr: Laea, proj: Float64Array): number {
  const n = ring.length >> 1
  let s = 0
  for (let i = 0, j = n - 1; i < n; j = i++) s += (ring[2 * j]! - ring[2 * i]!) * (ring[2 * j + 1]! + ring[2 * i + 1]!)
  if (!(s !== 0)) return -1
  if ((s < 0) === ccw) {
    // s is twice the area, counter-clockwise positive
    for (let i = 0, j = n - 1; i < j; i++, j--) {
      const x = ring[2 * i]!, y = ring[2 * i + 1]!
      ring[2 * i] = ring[2 * j]!
      ring[2 * i + 1] = ring[2 * j + 1]!
      ring[2 * j] = x
      ring[2 * j + 1] = y
    }
  }
  for (let i = 0; i < n; i++) pr.forward(ring[2 * i]!, ring[2 * i + 1]!, proj, 2 * i)
  let longest2 = 0
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const dx = proj[2 * i]! - proj[2 * j]!, dy = proj[2 * i + 1]! - proj[2 * j + 1]!
    const l2 = dx * dx + dy * dy
    if (l2 > longest2) longest2 = l2
  }
  return longest2
}

/** Signed area of an open flat ring (counter-clockwise positive), relative to its first vertex for precision. */
export function shoelace(p: Float64Array): number {
  const n = p.length >> 1
  const ox = p[0]!
  const oy = p[1]!
  let s = 0
  for (let i = 1; i + 1 < n; i++) s += (p[2 * i]! - ox) * (p[2 * i + 3]! - oy) - (p[2 * i + 1]! - oy) * (p[2 * i + 2]! - ox)
  return s / 2
}

export interface Boundary {
  /** per cut feature, its first kept piece in seg; start[features.length] = piece count */
  start: Int32Array
  /**
   * The kept pieces of cut features, 8 numbers each: lon/lat from, lon/lat to, projected
   * from, projected to. An uncut feature's part of the boundary is its own edges, all of
   * them (not copied here: most features are measured whole, and their edges never read).
   */
  seg: Float64Array
  /** segments of the boundary: pieces of cut features and edges of the others */
  segments: number
  /** features that may overlap another (their edges were cut and sorted) */
  cut: Uint8Array
  /** the features by their boxes, and point location in each (for locateInUnion and counts) */
  near: BoxQuery
  locator: Locator
}

/** A point in the union (IN), on its boundary or on an edge of one of its features not inside another (ON), or OUT. */
export function locateInUnion(b: Boundary, px: number, py: number): number {
  const m = b.near.query(px, py, px, py)
  let on = false
  for (let k = 0; k < m; k++) {
    const w = b.locator.locate(b.near.out[k]!, px, py)
    if (w === IN) return IN
    if (w === ON) on = true
  }
  return on ? ON : OUT
}

/**
 * Features that may overlap another of the set and so must be cut (1) or not (0): an edge
 * crossing or touching another's edge other than vertex for vertex, the same edge twice in
 * one direction, or a box within another's box. A property of the set alone, so a layer's
 * flags are found once (cells/read/contacts.ts) and given to unionBoundary for every later run.
 */
export function contactFlags(features: Feat[]): Uint8Array {
  const cut = new Uint8Array(features.length)
  findContacts(features, undefined, cut)
  containedInBox(featureGrid(features).grid, cut)
  return cut
}

/**
 * The union's boundary. `known`: the set's contact flags when known beforehand (a layer's,
 * or a superset of them, e.g. a layer's for one of its categories or a tile of it): only
 * flagged features are then searched for crossings — the others' edges go out whole.
 */
export function unionBoundary(features: Feat[], pr: Laea, known?: Uint8Array): Boundary {
  const nf = features.length
  const cut = known ? Uint8Array.from(known) : new Uint8Array(nf)
  const ed = findContacts(features, known, cut)
  // --- features by their boxes: a feature inside another's box may lie inside it without
  // any boundary contact; a piece of a cut feature is tested against the features around it
  const near = featureGrid(features)
  if (!known) containedInBox(near.grid, cut)
  const { ax, ay, bx, by, pax, pay, pbx, pby, firstEdge, splits } = ed

  // --- output: kept pieces of cut features (the others' edges stay in their rings)
  let ne = 0
  let whole = 0
  for (let fi = 0; fi < nf; fi++) {
    let m = 0
    for (const r of features[fi]!.rings) m += r.length >> 1
    if (cut[fi]) ne += m
    else whole += m
  }
  let seg = new Float64Array(8 * ne + 64)
  let n = 0
  const start = new Int32Array(nf + 1)
  const locator = new Locator(features)
  const pt = [0, 0]
  const push = (x0: number, y0: number, x1: number, y1: number, px0: number, py0: number, px1: number, py1: number) => {
    if (n + 8 > seg.length) {
      const grown = new Float64Array(seg.length * 2)
      grown.set(seg)
      seg = grown
    }
    seg[n] = x0; seg[n + 1] = y0; seg[n + 2] = x1; seg[n + 3] = y1; seg[n + 4] = px0; seg[n + 5] = py0; seg[n + 6] = px1; seg[n + 7] = py1
    n += 8
  }
  for (let fi = 0; fi < nf; fi++) {
    start[fi] = n >> 3
    if (!cut[fi]) continue
    const e0 = firstEdge[fi]!, e1 = firstEdge[fi + 1]!
    for (let i = e0; i < e1; i++) {
      const s = splits.get(i)
      // the edge's cut points in order: t, lon, lat, x, y
      const pts: number[] = [0, ax[i]!, ay[i]!, pax[i]!, pay[i]!]
      if (s) {
        const order: number[] = []
        for (let k = 0; k < s.length; k += 3) order.push(k)
        order.sort((p, q) => s[p]! - s[q]!)
        for (const k of order) {
          pr.forward(s[k + 1]!, s[k + 2]!, pt, 0)
          pts.push(s[k]!, s[k + 1]!, s[k + 2]!, pt[0]!, pt[1]!)
        }
      }
      pts.push(1, bx[i]!, by[i]!, pbx[i]!, pby[i]!)
      const dx = bx[i]! - ax[i]!, dy = by[i]! - ay[i]!
      for (let k = 0; k + 5 < pts.length; k += 5) {
        const x0 = pts[k + 1]!, y0 = pts[k + 2]!, x1 = pts[k + 6]!, y1 = pts[k + 7]!
        if (x0 === x1 && y0 === y1) continue
        if (!keeps(fi, (x0 + x1) / 2, (y0 + y1) / 2, dx, dy)) continue
        push(x0, y0, x1, y1, pts[k + 3]!, pts[k + 4]!, pts[k + 8]!, pts[k + 9]!)
      }
    }
  }
  start[nf] = n >> 3
  return { start, seg: seg.subarray(0, n), segments: whole + (n >> 3), cut, near, locator }

  function keeps(fi: number, mx: number, my: number, dx: number, dy: number): boolean {
    const m = near.query(mx, my, mx, my)
    for (let k = 0; k < m; k++) {
      const gi = near.out[k]!
      if (gi === fi) continue
      const w = locator.locate(gi, mx, my)
      if (w === IN) return false
      // along g's edge in the same direction (g on the same side): kept once. Along it in
      // the other direction (g on the other side) it stays: g's edge stays too, whether
      // g is cut or not, and the two cancel in every sum.
      if (w !== OUT && locator.ox * dx + locator.oy * dy > 0 && gi < fi) return false
    }
    return true
  }
}

function featureGrid(features: Feat[]): BoxQuery {
  const featureBoxes = new Float64Array(4 * features.length)
  features.forEach((f, i) => featureBoxes.set(f.bbox, 4 * i))
  return new BoxQuery(boxGrid(featureBoxes, 1, 1))
}

/**
 * Edges of the searched features (all, or those flagged in `known`), with the points where
 * other searched features' edges cross or touch them (`splits`: t, lon, lat per point), and
 * the features so found to meet another marked in `cut`. A split of one feature's edge always
 * marks both features, so a feature not flagged in `known` is never split: its edges are
 * not kept here (firstEdge gives it an empty range).
 */
function findContacts(features: Feat[], known: Uint8Array | undefined, cut: Uint8Array) {
  const nf = features.length
  let ne = 0
  for (let fi = 0; fi < nf; fi++) if (!known || known[fi]) for (const r of features[fi]!.rings) ne += r.length >> 1
  // edges: endpoints (lon/lat and projected), owner
  const ax = new Float64Array(ne), ay = new Float64Array(ne), bx = new Float64Array(ne), by = new Float64Array(ne)
  const pax = new Float64Array(ne), pay = new Float64Array(ne), pbx = new Float64Array(ne), pby = new Float64Array(ne)
  const owner = new Int32Array(ne)
  const firstEdge = new Int32Array(nf + 1)
  let e = 0
  for (let fi = 0; fi < nf; fi++) {
    firstEdge[fi] = e
    if (known && !known[fi]) continue
    const f = features[fi]!
    for (let ri = 0; ri < f.rings.length; ri++) {
      const r = f.rings[ri]!
      const p = f.proj[ri]!
      const n = r.length >> 1
      for (let i = 0; i < n; i++) {
        const j = i + 1 === n ? 0 : i + 1
        ax[e] = r[2 * i]!; ay[e] = r[2 * i + 1]!; bx[e] = r[2 * j]!; by[e] = r[2 * j + 1]!
        pax[e] = p[2 * i]!; pay[e] = p[2 * i + 1]!; pbx[e] = p[2 * j]!; pby[e] = p[2 * j + 1]!
        owner[e] = fi
        e++
      }
    }
  }
  firstEdge[nf] = ne
  const splits = new Map<number, number[]>()
  const split = (edge: number, t: number, x: number, y: number) => {
    const s = splits.get(edge)
    if (s) s.push(t, x, y)
    else splits.set(edge, [t, x, y])
  }
  if (ne > 1 && nf > 1) candidatePairs(ax, ay, bx, by, owner, pair)
  return { ax, ay, bx, by, pax, pay, pbx, pby, firstEdge, splits }

  function pair(e1: number, e2: number) {
    const a0 = ax[e1]!, a1 = ay[e1]!, b0 = bx[e1]!, b1 = by[e1]!
    const c0 = ax[e2]!, c1 = ay[e2]!, d0 = bx[e2]!, d1 = by[e2]!
    const f = owner[e1]!, g = owner[e2]!
    if (a0 === c0 && a1 === c1 && b0 === d0 && b1 === d1) { cut[f] = 1; cut[g] = 1; return } // same edge, same side
    if (a0 === d0 && a1 === d1 && b0 === c0 && b1 === c1) return // a shared edge between neighbours
    const ux = b0 - a0, uy = b1 - a1, vx = d0 - c0, vy = d1 - c1
    const o1 = ux * (c1 - a1) - uy * (c0 - a0)
    const o2 = ux * (d1 - a1) - uy * (d0 - a0)
    const o3 = vx * (a1 - c1) - vy * (a0 - c0)
    const o4 = vx * (b1 - c1) - vy * (b0 - c0)
    const tol1 = EPS * Math.sqrt(ux * ux + uy * uy)
    const tol2 = EPS * Math.sqrt(vx * vx + vy * vy)
    const cOn = Math.abs(o1) <= tol1, dOn = Math.abs(o2) <= tol1, aOn = Math.abs(o3) <= tol2, bOn = Math.abs(o4) <= tol2
    if (!cOn && !dOn && !aOn && !bOn) {
      if ((o1 > 0) !== (o2 > 0) && (o3 > 0) !== (o4 > 0)) {
        // where along a→b: by the sides of a and b of c→d; and along c→d by those of c and d
        const t = o3 / (o3 - o4)
        const x = a0 + t * ux, y = a1 + t * uy
        split(e1, t, x, y)
        split(e2, o1 / (o1 - o2), x, y)
        cut[f] = 1; cut[g] = 1
      }
      return
    }
    // touching or collinear: each edge is split where the other's end lies inside it
    let touched = false
    if (cOn) touched = splitAt(e1, c0, c1, a0, a1, b0, b1) || touched
    if (dOn) touched = splitAt(e1, d0, d1, a0, a1, b0, b1) || touched
    if (aOn) touched = splitAt(e2, a0, a1, c0, c1, d0, d1) || touched
    if (bOn) touched = splitAt(e2, b0, b1, c0, c1, d0, d1) || touched
    // collinear: sides are decided per piece below
    if (touched || (cOn && dOn) || (aOn && bOn)) { cut[f] = 1; cut[g] = 1 }
  }

  /** Splits edge s→w at p when p lies strictly between its ends. */
  function splitAt(edge: number, px: number, py: number, sx: number, sy: number, wx: number, wy: number): boolean {
    if ((px === sx && py === sy) || (px === wx && py === wy)) return false
    const ex = wx - sx, ey = wy - sy
    const t = ((px - sx) * ex + (py - sy) * ey) / (ex * ex + ey * ey)
    if (!(t > 0 && t < 1)) return false
    split(edge, t, px, py)
    return true
  }
}

/**
 * Calls `pair` once for every two edges of different owners whose boxes meet: edges in a
 * bucket grid about twice the median edge, a pair tested in the bucket that holds the low
 * corner of the boxes' overlap.
 */
function candidatePairs(ax: Float64Array, ay: Float64Array, bx: Float64Array, by: Float64Array, owner: Int32Array, pair: (e1: number, e2: number) => void) {
  const ne = ax.length
  const boxes = new Float64Array(4 * ne)
  for (let i = 0; i < ne; i++) {
    const a = ax[i]!, b = bx[i]!, c = ay[i]!, d = by[i]!
    boxes[4 * i] = a < b ? a : b
    boxes[4 * i + 1] = c < d ? c : d
    boxes[4 * i + 2] = a < b ? b : a
    boxes[4 * i + 3] = c < d ? d : c
  }
  const g = boxGrid(boxes, 2, 2)
  const { count, list } = g
  for (let k = 0; k < g.nx * g.ny; k++) {
    const from = count[k]!, to = count[k + 1]!
    if (to - from < 2) continue
    for (let i = from; i < to; i++) {
      const e1 = list[i]!
      const f1 = owner[e1]!
      const l1 = boxes[4 * e1]!, b1 = boxes[4 * e1 + 1]!, r1 = boxes[4 * e1 + 2]!, t1 = boxes[4 * e1 + 3]!
      for (let j = i + 1; j < to; j++) {
        const e2 = list[j]!
        if (owner[e2] === f1) continue
        const l2 = boxes[4 * e2]!, r2 = boxes[4 * e2 + 2]!
        if (l2 > r1 || l1 > r2) continue
        const b2 = boxes[4 * e2 + 1]!, t2 = boxes[4 * e2 + 3]!
        if (b2 > t1 || b1 > t2) continue
        if (bucketOf(g, l1 > l2 ? l1 : l2, b1 > b2 ? b1 : b2) !== k) continue
        pair(e1, e2)
      }
    }
  }
}

/** Marks features whose box lies within another's (either may hold the other without touching it). */
function containedInBox(g: BoxGrid, cut: Uint8Array) {
  const { boxes, count, list } = g
  const nf = boxes.length >> 2
  // a box holding f's box holds its centre: look in that bucket only
  for (let i = 0; i < nf; i++) {
    if (cut[i]) continue
    const x0 = boxes[4 * i]!, y0 = boxes[4 * i + 1]!, x1 = boxes[4 * i + 2]!, y1 = boxes[4 * i + 3]!
    const k = bucketOf(g, (x0 + x1) / 2, (y0 + y1) / 2)
    for (let j = count[k]!; j < count[k + 1]!; j++) {
      const o = 4 * list[j]!
      if (list[j] === i) continue
      if (boxes[o]! <= x0 && boxes[o + 1]! <= y0 && boxes[o + 2]! >= x1 && boxes[o + 3]! >= y1) { cut[i] = 1; break }
    }
  }
}

export const OUT = 0
export const IN = 1
export const ON = 2

/**
 * Point in feature with boundary detection. On ON, `ox`, `oy` hold the direction of the
 * edge the point lies on. Features with many edges get a row index on first use.
 */
export class Locator {
  ox = 0
  oy = 0
  private readonly rows = new Map<number, { y0: number; h: number; n: number; lists: Float64Array[] }>()

  constructor(private readonly features: Feat[]) {}

  locate(fi: number, px: number, py: number): number {
    const f = this.features[fi]!
    const b = f.bbox
    if (px < b[0] || px > b[2] || py < b[1] || py > b[3]) return OUT
    let edges = 0
    for (const r of f.rings) edges += r.length >> 1
    if (edges <= 64) {
      let inside = false
      for (const r of f.rings) {
        const n = r.length >> 1
        for (let i = 0, j = n - 1; i < n; j = i++) {
          const w = this.edge(r[2 * j]!, r[2 * j + 1]!, r[2 * i]!, r[2 * i + 1]!, px, py)
          if (w === ON) return ON
          if (w === IN) inside = !inside
        }
      }
      return inside ? IN : OUT
    }
    let idx = this.rows.get(fi)
    if (!idx) this.rows.set(fi, (idx = rowIndex(f, edges)))
    const k = Math.min(idx.n - 1, Math.max(0, Math.floor((py - idx.y0) / idx.h)))
    const l = idx.lists[k]!
    let inside = false
    for (let i = 0; i < l.length; i += 4) {
      const w = this.edge(l[i]!, l[i + 1]!, l[i + 2]!, l[i + 3]!, px, py)
      if (w === ON) return ON
      if (w === IN) inside = !inside
    }
    return inside ? IN : OUT
  }

  /** pointEdge, keeping the direction of an edge the point lies on. */
  private edge(ax: number, ay: number, bx: number, by: number, px: number, py: number): number {
    const w = pointEdge(ax, ay, bx, by, px, py)
    if (w === ON) { this.ox = bx - ax; this.oy = by - ay }
    return w
  }
}

/**
 * ON when p lies on segment a→b (within EPS); IN when a→b crosses the horizontal ray from
 * p to the east, half-open in y for parity counting;
 * else OUT.
 */
function pointEdge(ax: number, ay: number, bx: number, by: number, px: number, py: number): number {
  const ex = bx - ax, ey = by - ay
  if (!(px < Math.min(ax, bx) - EPS || px > Math.max(ax, bx) + EPS || py < Math.min(ay, by) - EPS || py > Math.max(ay, by) + EPS)) {
    const len2 = ex * ex + ey * ey
    if (len2 > 0 && Math.abs(ex * (py - ay) - ey * (px - ax)) <= EPS * Math.sqrt(len2)) {
      const t = ((px - ax) * ex + (py - ay) * ey) / len2
      if (t >= 0 && t <= 1) return ON
    }
  }
  return (ay > py) !== (by > py) && px < ax + ((py - ay) / ey) * ex ? IN : OUT
}

/** Edges of a feature bucketed by rows of its box (an edge in every row it spans). */
function rowIndex(f: Feat, edges: number) {
  const y0 = f.bbox[1]
  const n = Math.max(1, Math.round(Math.sqrt(edges)))
  const h = (f.bbox[3] - y0) / n || 1
  const acc: number[][] = Array.from({ length: n }, () => [])
  const row = (y: number) => Math.min(n - 1, Math.max(0, Math.floor((y - y0) / h)))
  for (const r of f.rings) {
    const m = r.length >> 1
    for (let i = 0, j = m - 1; i < m; j = i++) {
      const ay = r[2 * j + 1]!, by = r[2 * i + 1]!
      // rows widened by EPS so that a point on the edge finds it from either side
      for (let k = row(Math.min(ay, by) - EPS); k <= row(Math.max(ay, by) + EPS); k++) acc[k]!.push(r[2 * j]!, ay, r[2 * i]!, by)
    }
  }
  return { y0, h, n, lists: acc.map((l) => Float64Array.from(l)) }
}
