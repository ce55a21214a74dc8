// Area of a union inside each cell, and the features sharing area with each cell, pure.
// Green's theorem: the boundary of (union ∩ cell) is the union's boundary segments
// (union-boundary.ts) cut at the cell's edges and kept inside the cell, plus the cell's
// edges where they run inside the union. The union lies left of its segments, so along
// the cell boundary (counter-clockwise) it begins where a segment leaves the cell and ends
// where one enters: the cell's own edges need no point-in-polygon test unless no segment
// crosses them at all. Every point is in the run's equal-area projection (laea.ts) when
// measured; segments are cut in lon/lat, where GEOS cuts them.
//
// A cell may be any polygon (parts, holes): each ring is walked on its own, and a cell of
// several rings or many edges finds them through a bucket grid (edgeIndex).
//
// A vertex within 1e-12° of a cell edge, a crossing within that of a cell corner, or
// crossings that do not alternate mark the cell "degenerate" for this set; the caller
// measures those few cells in PostGIS instead (cells/fallback.sql).
import { boxGrid, bucketOf, BoxQuery, type BoxGrid } from '../../geom/box-grid.ts'
import type { Laea } from '../../geom/laea.ts'
import type { Box } from '../../geom/shapes.ts'
import { EPS, IN, locateInUnion, LONG_M, ON, orientedRing, shoelace, type Boundary, type Feat } from './union-boundary.ts'
import { widenBox } from '../../geom/wkb.ts'

export interface MeasureCell {
  /** open rings one after another, lon/lat; outer rings counter-clockwise, holes clockwise */
  ring: Float64Array
  /** the rings projected */
  proj: Float64Array
  /** ring r is vertices starts[r] … starts[r + 1] − 1 (one ring of n vertices: [0, n]) */
  starts: Int32Array
  /** per ring, its projected area (holes negative), m² */
  ringAreas: Float64Array
  bbox: Box
  /** projected area, m² (holes subtracted) */
  area: number
  /** per edge k: [vx, vy, ex, ey, len², tol, δ] — start, direction, squared length, EPS·length, EPS/length */
  edges: Float64Array
  /**
   * A lon/lat box strictly left of every edge's line by more than its tolerance: inside the
   * cell's kernel, so a segment within it lies inside the cell, crossing nothing, touching
   * nothing. Empty (x0 > x1) when no such box was found.
   */
  inner: Box
  /** a cell of several rings or many edges: its edges are found through an index (edgeIndex) */
  indexed: boolean
  /** a unit this engine does not measure (an edge longer than LONG_M, a ring without area): PostGIS measures it alone */
  declined: boolean
}

/** Cells with more edges than this (or several rings) find them through an index. */
const INDEXED_EDGES = 32

/**
 * A unit as a cell: its polygons' rings oriented (outer counter-clockwise, holes clockwise)
 * and projected; declined (measured by PostGIS alone) when an edge is longer than LONG_M or
 * a ring has no area.
 */
export function measureCell(polygons: Float64Array[][], pr: Laea): MeasureCell {
  const box = [Infinity, Infinity, -Infinity, -Infinity]
  for (const p of polygons) for (const r of p) widenBox(r, box)
  const rings: { ring: Float64Array; proj: Float64Array }[] = []
  for (const p of polygons) {
    for (let ri = 0; ri < p.length; ri++) {
      const o = orientedRing(p[ri]!, ri === 0, pr)
      if (!o || o.longest > LONG_M) return declinedCell(box as Box)
      rings.push(o)
    }
  }
  if (!rings.length) return declinedCell(box as Box)
  const starts = new Int32Array(rings.length + 1)
  rings.forEach((r, i) => { starts[i + 1] = starts[i]! + (r.ring.length >> 1) })
  const n = starts[rings.length]!
  const ring = new Float64Array(2 * n), proj = new Float64Array(2 * n)
  const ringAreas = new Float64Array(rings.length)
  let area = 0
  rings.forEach((r, i) => {
    ring.set(r.ring, 2 * starts[i]!)
    proj.set(r.proj, 2 * starts[i]!)
    ringAreas[i] = shoelace(r.proj)
    area += ringAreas[i]!
  })
  const edges = new Float64Array(7 * n)
  for (let r = 0; r < rings.length; r++) {
    const s = starts[r]!, e = starts[r + 1]!
    for (let i = s; i < e; i++) {
      const x = ring[2 * i]!, y = ring[2 * i + 1]!
      const j = i + 1 === e ? s : i + 1
      const ex = ring[2 * j]! - x, ey = ring[2 * j + 1]! - y
      const len2 = ex * ex + ey * ey
      const len = Math.sqrt(len2)
      edges.set([x, y, ex, ey, len2, EPS * len, len > 0 ? EPS / len : 1], 7 * i)
    }
  }
  const indexed = rings.length > 1 || n > INDEXED_EDGES
  return { ring, proj, starts, ringAreas, bbox: box as Box, area, edges, inner: indexed ? [1, 1, 0, 0] : innerBox(edges, box as Box), indexed, declined: false }
}

function declinedCell(bbox: Box): MeasureCell {
  const none = new Float64Array(0)
  return { ring: none, proj: none, starts: new Int32Array(1), ringAreas: none, bbox, area: 0, edges: none, inner: [1, 1, 0, 0], indexed: false, declined: true }
}

/** Corners of box (x0, y0, x1, y1) all strictly left of every edge line by more than its tolerance. */
function leftOfAll(edges: Float64Array, x0: number, y0: number, x1: number, y1: number): boolean {
  for (let o = 0; o < edges.length; o += 7) {
    const vx = edges[o]!, vy = edges[o + 1]!, ex = edges[o + 2]!, ey = edges[o + 3]!, tol = edges[o + 5]!
    if (ex * (y0 - vy) - ey * (x0 - vx) <= tol || ex * (y0 - vy) - ey * (x1 - vx) <= tol ||
      ex * (y1 - vy) - ey * (x0 - vx) <= tol || ex * (y1 - vy) - ey * (x1 - vx) <= tol) return false
  }
  return true
}

/** The cell's box shrunk until it lies in the cell's kernel (leftOfAll). */
function innerBox(edges: Float64Array, b: Box): Box {
  const w = b[2] - b[0], h = b[3] - b[1]
  for (const f of [0.001, 0.003, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4]) {
    const x0 = b[0] + f * w, y0 = b[1] + f * h, x1 = b[2] - f * w, y1 = b[3] - f * h
    if (leftOfAll(edges, x0, y0, x1, y1)) return [x0, y0, x1, y1]
  }
  return [1, 1, 0, 0]
}

/**
 * An indexed cell's edges in a bucket grid, their boxes widened by EDGE_MARGIN (so every
 * edge a test within EPS could meet is found), and per bucket without edges whether it lies
 * inside the cell (found once, by parity at its centre). Built on first use and kept with
 * the cell (a cell copied to a measure worker builds its own).
 */
interface EdgeIndex {
  q: BoxQuery
  grid: BoxGrid
  /** per bucket: −1 not yet known, 0 outside, IN inside, 3 holds edges */
  state: Int8Array
}

const EDGE_MARGIN = 4 * EPS
const edgeIndexes = new WeakMap<MeasureCell, EdgeIndex>()

function edgeIndex(c: MeasureCell): EdgeIndex {
  let ix = edgeIndexes.get(c)
  if (ix) return ix
  const e = c.edges
  const n = e.length / 7
  const boxes = new Float64Array(4 * n)
  for (let k = 0; k < n; k++) {
    const o = 7 * k
    const x0 = e[o]!, y0 = e[o + 1]!, x1 = x0 + e[o + 2]!, y1 = y0 + e[o + 3]!
    boxes[4 * k] = (x0 < x1 ? x0 : x1) - EDGE_MARGIN
    boxes[4 * k + 1] = (y0 < y1 ? y0 : y1) - EDGE_MARGIN
    boxes[4 * k + 2] = (x0 < x1 ? x1 : x0) + EDGE_MARGIN
    boxes[4 * k + 3] = (y0 < y1 ? y1 : y0) + EDGE_MARGIN
  }
  const grid = boxGrid(boxes, 2, 1)
  ix = { q: new BoxQuery(grid), grid, state: new Int8Array(grid.nx * grid.ny).fill(-1) }
  edgeIndexes.set(c, ix)
  return ix
}

export interface SetSums {
  area: Float64Array
  count: Int32Array
  degenerate: Uint8Array
}

const DEGENERATE = -1
const LONG_M2 = LONG_M * LONG_M

/*
 * Segments longer than LONG_M (metres, in the projection) are not measured here: a straight
 * line in the projection departs from the geodesic by ~L²·d/(8R²) (d from the centre), so
 * the area error grows with L³. At 400 m and 100 km from the centre it is ~0.01 m²; cells
 * such a segment enters go to PostGIS, units with such edges to the piece engine.
 */

// crossings of the current segment with the cell: parameter, cell edge, position along it, entering, point
const MAXC = 512
const cT = new Float64Array(MAXC), cK = new Int32Array(MAXC), cS = new Float64Array(MAXC), cIn = new Uint8Array(MAXC)
const cX = new Float64Array(MAXC), cY = new Float64Array(MAXC)
const order = new Int32Array(MAXC)

/**
 * Crossings of segment (x0,y0)→(x1,y1) with the cell's boundary, sorted along the
 * segment, or DEGENERATE. Computed from the endpoint that sorts first, so the two
 * directions of a shared edge cut at bit-identical points.
 */
function crossings(c: MeasureCell, x0: number, y0: number, x1: number, y1: number): number {
  const swap = x0 > x1 || (x0 === x1 && y0 > y1)
  const ax = swap ? x1 : x0, ay = swap ? y1 : y0, bx = swap ? x0 : x1, by = swap ? y0 : y1
  const e = c.edges
  let n = e.length / 7
  let list: Int32Array | undefined
  if (c.indexed) {
    const q = edgeIndex(c).q
    n = q.query(ax < bx ? ax : bx, ay < by ? ay : by, ax < bx ? bx : ax, ay < by ? by : ay)
    list = q.out
  }
  let m = 0
  for (let j = 0; j < n; j++) {
    const k = list ? list[j]! : j
    const o = 7 * k
    const vx = e[o]!, vy = e[o + 1]!, ex = e[o + 2]!, ey = e[o + 3]!, len2 = e[o + 4]!, tol = e[o + 5]!, d = e[o + 6]!
    const fa = ex * (ay - vy) - ey * (ax - vx)
    const fb = ex * (by - vy) - ey * (bx - vx)
    if (Math.abs(fa) <= tol) {
      const s = ((ax - vx) * ex + (ay - vy) * ey) / len2
      if (s >= -d && s <= 1 + d) return DEGENERATE
    }
    if (Math.abs(fb) <= tol) {
      const s = ((bx - vx) * ex + (by - vy) * ey) / len2
      if (s >= -d && s <= 1 + d) return DEGENERATE
    }
    if ((fa > 0) === (fb > 0)) continue
    const t = fa / (fa - fb)
    const x = ax + t * (bx - ax), y = ay + t * (by - ay)
    const s = ((x - vx) * ex + (y - vy) * ey) / len2
    if (s < -d || s > 1 + d) continue
    if (s <= d || s >= 1 - d) return DEGENERATE // through a corner
    if (m === MAXC) return DEGENERATE
    cT[m] = swap ? 1 - t : t
    cK[m] = k
    cS[m] = s
    cIn[m] = (fb > 0) !== swap ? 1 : 0 // towards the inner (left) side: entering
    cX[m] = x
    cY[m] = y
    m++
  }
  for (let i = 0; i < m; i++) order[i] = i
  insertionSort(order, m, cT) // few crossings
  return m
}

/** Sorts idx[0 … m−1] by key[idx[i]], stable. */
function insertionSort(idx: Int32Array, m: number, key: Float64Array): void {
  for (let i = 1; i < m; i++) {
    const v = idx[i]!
    let j = i - 1
    while (j >= 0 && key[idx[j]!]! > key[v]!) { idx[j + 1] = idx[j]!; j-- }
    idx[j + 1] = v
  }
}

/** Point strictly inside the cell (parity), or ON within EPS of its boundary. */
function inCell(c: MeasureCell, px: number, py: number): number {
  if (!c.indexed) return parity(c, px, py, c.edges.length / 7, undefined)
  const ix = edgeIndex(c)
  const g = ix.grid
  if (px < g.minx || px > g.maxx || py < g.miny || py > g.maxy) return 0
  const b = bucketOf(g, px, py)
  let st = ix.state[b]!
  if (st < 0) {
    // a bucket without edges lies inside or outside as a whole: its centre tells
    if (g.count[b + 1]! > g.count[b]!) st = 3
    else {
      const cx = g.minx + ((b % g.nx) + 0.5) / g.inv, cy = g.miny + (Math.floor(b / g.nx) + 0.5) / g.inv
      st = parity(c, cx, cy, ix.q.query(cx, cy, g.maxx, cy), ix.q.out)
    }
    ix.state[b] = st
  }
  if (st !== 3) return st
  // the edges that may meet the ray to the right, or lie within EPS of the point
  return parity(c, px, py, ix.q.query(px, py, g.maxx, py), ix.q.out)
}

/** inCell over n edges: all of them, or those listed. */
function parity(c: MeasureCell, px: number, py: number, n: number, list: Int32Array | undefined): number {
  const e = c.edges
  let inside = false
  for (let j = 0; j < n; j++) {
    const o = 7 * (list ? list[j]! : j)
    const vx = e[o]!, vy = e[o + 1]!, ex = e[o + 2]!, ey = e[o + 3]!
    const f = ex * (py - vy) - ey * (px - vx)
    if (Math.abs(f) <= e[o + 5]!) {
      const s = ((px - vx) * ex + (py - vy) * ey) / e[o + 4]!
      if (s >= -e[o + 6]! && s <= 1 + e[o + 6]!) return ON
    }
    const wy = vy + ey
    if ((vy > py) !== (wy > py) && px < vx + ((py - vy) / ey) * ex) inside = !inside
  }
  return inside ? IN : 0
}

/**
 * The box lies strictly inside the cell: within its inner box, or else left of every edge
 * line (in the kernel; a box inside a non-convex cell but outside its kernel is measured
 * segment by segment instead).
 */
function boxInside(c: MeasureCell, b: Box): boolean {
  if (c.declined) return false
  if (c.indexed) {
    // no edge near the box, and the box inside
    if (b[0] <= c.bbox[0] || b[2] >= c.bbox[2] || b[1] <= c.bbox[1] || b[3] >= c.bbox[3]) return false
    return edgeIndex(c).q.query(b[0], b[1], b[2], b[3]) === 0 && inCell(c, b[0], b[1]) === IN
  }
  const i = c.inner
  if (b[0] > i[0] && b[2] < i[2] && b[1] > i[1] && b[3] < i[3]) return true
  if (b[0] <= c.bbox[0] || b[2] >= c.bbox[2] || b[1] <= c.bbox[1] || b[3] >= c.bbox[3]) return false
  return leftOfAll(c.edges, b[0], b[1], b[2], b[3])
}

export interface CellSet {
  cells: MeasureCell[]
  /** cells whose boxes meet a box, written into `out` (a reused buffer); returns how many */
  query(x0: number, y0: number, x1: number, y1: number): number
  out: Int32Array
  /** per cell, its box: x0, y0, x1, y1 */
  boxes: Float64Array
}

/** Cells in a bucket grid sized by the median cell (box-grid.ts). */
export function cellSet(cells: MeasureCell[]): CellSet {
  const boxes = new Float64Array(4 * cells.length)
  cells.forEach((c, i) => boxes.set(c.bbox, 4 * i))
  const q = new BoxQuery(boxGrid(boxes, 1, 4))
  return { cells, out: q.out, boxes, query: (x0, y0, x1, y1) => q.query(x0, y0, x1, y1) }
}

/** The cell whose kernel holds box `b` (boxInside), or −1: a feature so boxed, uncut and without long edges, measureSet measures by its area alone. */
export function cellHolding(cs: CellSet, b: Box): number {
  return holding(cs.cells, cs.out, cs.query(b[0], b[1], b[2], b[3]), b)
}

/** The first of cells idx[0 … n−1] whose kernel holds box `b` (boxInside), or −1. */
function holding(cells: MeasureCell[], idx: Int32Array, n: number, b: Box): number {
  for (let i = 0; i < n; i++) if (boxInside(cells[idx[i]!]!, b)) return idx[i]!
  return -1
}

/** Features with more union-boundary segments than this are measured segment by segment. */
const BY_SEGMENT = 64

/**
 * Area of the union of `features` (boundary `b`) inside every cell and, with `counting`,
 * the number of features sharing area with each cell.
 */
export function measureSet(cs: CellSet, features: Feat[], b: Boundary, pr: Laea, counting: boolean): SetSums {
  const nc = cs.cells.length
  const cells = cs.cells
  const area = new Float64Array(nc)
  const count = new Int32Array(nc)
  const degenerate = new Uint8Array(nc)
  const events = new Events(nc)
  for (let ci = 0; ci < nc; ci++) if (cells[ci]!.declined) degenerate[ci] = 1
  // the current feature's segments: a cut feature's kept pieces (b.seg), else its own edges
  let seg: Float64Array = b.seg
  let own: Float64Array = new Float64Array(8 * BY_SEGMENT)
  const pt = new Float64Array(2)
  const locator = b.locator
  // per feature: cells where one of its edges runs inside (stamp = feature + 1)
  const hitBy = new Int32Array(nc)
  let candidates = new Int32Array(64)
  // a small feature's segment boxes
  let sb = new Float64Array(4 * BY_SEGMENT)
  const cb = cs.boxes

  /** Measures segment s against cell ci: area terms, crossing events, hit mark. */
  const segmentInCell = (s: number, ci: number, fi: number) => {
    const c = cells[ci]!
    const o = 8 * s
    const dx = seg[o + 6]! - seg[o + 4]!, dy = seg[o + 7]! - seg[o + 5]!
    if (dx * dx + dy * dy > LONG_M2) { degenerate[ci] = 1; return }
    const x0 = seg[o]!, y0 = seg[o + 1]!, x1 = seg[o + 2]!, y1 = seg[o + 3]!
    const ib = c.inner
    if ((x0 < x1 ? x0 : x1) > ib[0] && (x0 < x1 ? x1 : x0) < ib[2] && (y0 < y1 ? y0 : y1) > ib[1] && (y0 < y1 ? y1 : y0) < ib[3]) {
      // inside the cell's kernel: no crossing, nothing near an edge
      hitBy[ci] = fi + 1
      area[ci] += term(seg[o + 4]!, seg[o + 5]!, seg[o + 6]!, seg[o + 7]!, c.proj[0]!, c.proj[1]!)
      return
    }
    const m = crossings(c, x0, y0, x1, y1)
    if (m === DEGENERATE) { degenerate[ci] = 1; return }
    const ox = c.proj[0]!, oy = c.proj[1]!
    if (m === 0) {
      const w = inCell(c, (x0 + x1) / 2, (y0 + y1) / 2)
      if (w === ON) degenerate[ci] = 1
      else if (w === IN) {
        hitBy[ci] = fi + 1
        area[ci] += term(seg[o + 4]!, seg[o + 5]!, seg[o + 6]!, seg[o + 7]!, ox, oy)
      }
      return
    }
    // pieces between crossings: inside where the next crossing leaves
    hitBy[ci] = fi + 1
    let px = seg[o + 4]!, py = seg[o + 5]!
    for (let i = 0; i < m; i++) {
      const k = order[i]!
      pr.forward(cX[k]!, cY[k]!, pt, 0)
      if (!cIn[k]) area[ci] += term(px, py, pt[0]!, pt[1]!, ox, oy)
      events.push(ci, cK[k]! + cS[k]!, cIn[k] ? -1 : 1, pt[0]!, pt[1]!)
      px = pt[0]!
      py = pt[1]!
    }
    if (cIn[order[m - 1]!]) area[ci] += term(px, py, seg[o + 6]!, seg[o + 7]!, ox, oy)
  }

  for (let fi = 0; fi < features.length; fi++) {
    const f = features[fi]!
    const isCut = b.cut[fi] === 1
    if (isCut && b.start[fi] === b.start[fi + 1] && !counting) continue
    const bb = f.bbox
    let nk = cs.query(bb[0], bb[1], bb[2], bb[3])
    if (!nk) continue
    if (nk > candidates.length) candidates = new Int32Array(2 * nk)
    candidates.set(cs.out.subarray(0, nk))
    if (!b.cut[fi] && !f.long) {
      const inOne = holding(cells, candidates, nk, bb)
      if (inOne >= 0) {
        area[inOne] += f.area
        count[inOne]++
        continue
      }
    }
    let s0 = 0, s1: number
    if (isCut) {
      seg = b.seg
      s0 = b.start[fi]!
      s1 = b.start[fi + 1]!
    } else {
      own = edgeSegments(f, own)
      seg = own
      s1 = edgeCount(f)
    }
    if (s1 - s0 > BY_SEGMENT && nk > 4) {
      // a large feature: each segment meets the few cells near it
      for (let s = s0; s < s1; s++) {
        const o = 8 * s
        const m = cs.query(Math.min(seg[o]!, seg[o + 2]!), Math.min(seg[o + 1]!, seg[o + 3]!), Math.max(seg[o]!, seg[o + 2]!), Math.max(seg[o + 1]!, seg[o + 3]!))
        for (let i = 0; i < m; i++) if (!degenerate[cs.out[i]!]) segmentInCell(s, cs.out[i]!, fi)
      }
    } else {
      // the feature's segment boxes once, then each candidate cell against them
      const ns = s1 - s0
      if (4 * ns > sb.length) sb = new Float64Array(8 * ns)
      for (let s = s0, k = 0; s < s1; s++, k += 4) {
        const o = 8 * s
        const x0 = seg[o]!, y0 = seg[o + 1]!, x1 = seg[o + 2]!, y1 = seg[o + 3]!
        sb[k] = x0 < x1 ? x0 : x1
        sb[k + 1] = y0 < y1 ? y0 : y1
        sb[k + 2] = x0 < x1 ? x1 : x0
        sb[k + 3] = y0 < y1 ? y1 : y0
      }
      for (let i = 0; i < nk; i++) {
        const ci = candidates[i]!
        const q = 4 * ci
        const cx0 = cb[q]!, cy0 = cb[q + 1]!, cx1 = cb[q + 2]!, cy1 = cb[q + 3]!
        for (let s = s0, k = 0; s < s1; s++, k += 4) {
          if (sb[k + 2]! < cx0 || sb[k]! > cx1 || sb[k + 3]! < cy0 || sb[k + 1]! > cy1) continue
          if (degenerate[ci]) break
          segmentInCell(s, ci, fi)
        }
      }
    }
    if (!counting) continue
    if (b.cut[fi]) {
      // some of its edges are not in the union's boundary: count by its own edges
      for (let i = 0; i < nk; i++) if (hitBy[candidates[i]!] === fi + 1) hitBy[candidates[i]!] = 0
      rawHits(cs, f, fi, hitBy, degenerate)
    }
    for (let i = 0; i < nk; i++) {
      const ci = candidates[i]!
      if (degenerate[ci]) continue
      if (hitBy[ci] !== fi + 1) {
        // no edge of the feature inside the cell: the cell lies in it or apart from it
        const w = cellInFeature(cells[ci]!, locator, fi)
        if (w === ON) { degenerate[ci] = 1; continue }
        if (w !== IN) continue
      }
      count[ci]++
    }
  }

  // the cells' own edges where they run inside the union
  for (let ci = 0; ci < nc; ci++) {
    if (degenerate[ci]) continue
    const add = boundaryArea(cells[ci]!, b, gather(events, ci))
    if (add === undefined) degenerate[ci] = 1
    else area[ci] += add
  }
  return { area, count, degenerate }
}

/** How many edges a feature's rings have. */
function edgeCount(f: Feat): number {
  let n = 0
  for (const r of f.rings) n += r.length >> 1
  return n
}

/** A feature's edges as segments (8 numbers each, as Boundary.seg), into `out` or a larger buffer. */
function edgeSegments(f: Feat, out: Float64Array): Float64Array {
  const n = edgeCount(f)
  if (8 * n > out.length) out = new Float64Array(16 * n)
  let k = 0
  for (let ri = 0; ri < f.rings.length; ri++) {
    const r = f.rings[ri]!, p = f.proj[ri]!
    const m = r.length >> 1
    for (let i = 0; i < m; i++) {
      const j = i + 1 === m ? 0 : i + 1
      out[k] = r[2 * i]!; out[k + 1] = r[2 * i + 1]!; out[k + 2] = r[2 * j]!; out[k + 3] = r[2 * j + 1]!
      out[k + 4] = p[2 * i]!; out[k + 5] = p[2 * i + 1]!; out[k + 6] = p[2 * j]!; out[k + 7] = p[2 * j + 1]!
      k += 8
    }
  }
  return out
}

function term(px: number, py: number, qx: number, qy: number, ox: number, oy: number): number {
  return ((px - ox) * (qy - oy) - (py - oy) * (qx - ox)) / 2
}

/** Marks the cells in which an edge of the feature itself runs (hitBy = fi + 1), or degenerate ones. */
function rawHits(cs: CellSet, f: Feat, fi: number, hitBy: Int32Array, degenerate: Uint8Array) {
  for (const r of f.rings) {
    const n = r.length >> 1
    for (let i = 0; i < n; i++) {
      const j = i + 1 === n ? 0 : i + 1
      const x0 = r[2 * i]!, y0 = r[2 * i + 1]!, x1 = r[2 * j]!, y1 = r[2 * j + 1]!
      const m = cs.query(Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1))
      for (let k = 0; k < m; k++) {
        const ci = cs.out[k]!
        if (hitBy[ci] === fi + 1 || degenerate[ci]) continue
        const c = cs.cells[ci]!
        const x = crossings(c, x0, y0, x1, y1)
        if (x === DEGENERATE) { degenerate[ci] = 1; continue }
        if (x > 0) { hitBy[ci] = fi + 1; continue }
        const w = inCell(c, (x0 + x1) / 2, (y0 + y1) / 2)
        if (w === ON) degenerate[ci] = 1
        else if (w === IN) hitBy[ci] = fi + 1
      }
    }
  }
}

/** Crossing events of all cells, linked per cell: [position (edge + fraction), +1 leaving / −1 entering, x, y]. */
class Events {
  val = new Float64Array(4 * 1024)
  next = new Int32Array(1024)
  n = 0
  readonly head: Int32Array

  constructor(cells: number) {
    this.head = new Int32Array(cells).fill(-1)
  }

  push(ci: number, pos: number, dir: number, x: number, y: number): void {
    if (this.n === this.next.length) {
      const v = new Float64Array(2 * this.val.length)
      v.set(this.val)
      this.val = v
      const nx = new Int32Array(2 * this.next.length)
      nx.set(this.next)
      this.next = nx
    }
    const e = this.n++
    const o = 4 * e
    this.val[o] = pos
    this.val[o + 1] = dir
    this.val[o + 2] = x
    this.val[o + 3] = y
    this.next[e] = this.head[ci]!
    this.head[ci] = e
  }
}

// one cell's events, gathered and sorted by position (sIdx)
let sPos = new Float64Array(256), sDir = new Float64Array(256), sX = new Float64Array(256), sY = new Float64Array(256), sIdx = new Int32Array(256)
const byPosition = (a: number, b: number) => sPos[a]! - sPos[b]!

/** Gathers cell ci's events into the scratch arrays, sorted by position; returns how many. */
function gather(ev: Events, ci: number): number {
  let m = 0
  for (let e = ev.head[ci]!; e >= 0; e = ev.next[e]!) {
    if (m === sPos.length) {
      const grow = (a: Float64Array) => { const g = new Float64Array(2 * a.length); g.set(a); return g }
      sPos = grow(sPos); sDir = grow(sDir); sX = grow(sX); sY = grow(sY)
      const idx = new Int32Array(sPos.length)
      idx.set(sIdx) // (the order so far kept: a cell of more than 256 events, a township's)
      sIdx = idx
    }
    const o = 4 * e
    sPos[m] = ev.val[o]!
    sDir[m] = ev.val[o + 1]!
    sX[m] = ev.val[o + 2]!
    sY[m] = ev.val[o + 3]!
    sIdx[m] = m
    m++
  }
  if (m > 32) sIdx.subarray(0, m).sort(byPosition)
  else insertionSort(sIdx, m, sPos)
  return m
}

/**
 * Where no segment crosses a cell whose features' edges all lie outside it: IN when one of
 * its rings lies in feature fi (a vertex of each ring located), ON when a ring's vertices all
 * lie on the feature's boundary, else outside.
 */
function cellInFeature(c: MeasureCell, locator: Boundary['locator'], fi: number): number {
  const st = c.starts
  for (let r = 0; r + 1 < st.length; r++) {
    let w = ON
    for (let v = 2 * st[r]!; v < 2 * st[r + 1]! && w === ON; v += 2) w = locator.locate(fi, c.ring[v]!, c.ring[v + 1]!)
    if (w !== 0) return w
  }
  return 0
}

/**
 * Area terms of the cell's boundary where it runs inside the union, from its m crossing
 * events (gather), ring by ring (their positions lie in their rings' edge ranges); a ring
 * without events lies in the union or apart from it. Undefined when the events do not
 * describe a union covering each point at most once, or a ring lies on its boundary.
 */
function boundaryArea(c: MeasureCell, b: Boundary, m: number): number | undefined {
  const st = c.starts
  let sum = 0
  for (let r = 0, i = 0; r + 1 < st.length; r++) {
    let j = i
    while (j < m && sPos[sIdx[j]!]! < st[r + 1]!) j++
    const add = j === i ? ringInUnion(c, b, r) : ringTerms(c, b, r, i, j)
    if (add === undefined) return undefined
    sum += add
    i = j
  }
  return sum
}

/** Ring r's area when it lies in the union (its first vertex located), 0 when apart; undefined on its boundary. */
function ringInUnion(c: MeasureCell, b: Boundary, r: number): number | undefined {
  const v = 2 * c.starts[r]!
  const w = locateInUnion(b, c.ring[v]!, c.ring[v + 1]!)
  return w === ON ? undefined : w === IN ? c.ringAreas[r]! : 0
}

/** Area terms along ring r where the union covers it, from events i0 … i1 − 1 (sorted along the ring). */
function ringTerms(c: MeasureCell, b: Boundary, r: number, i0: number, i1: number): number | undefined {
  // winding before the first event: whatever keeps it within 0..1 everywhere
  let w = 0, lo = 0, hi = 0
  for (let i = i0; i < i1; i++) {
    w += sDir[sIdx[i]!]!
    const last = i + 1 === i1 || sPos[sIdx[i + 1]!] !== sPos[sIdx[i]!]
    if (last) { lo = Math.min(lo, w); hi = Math.max(hi, w) }
  }
  if (w !== 0 || hi - lo > 1) return undefined
  const s = c.starts[r]!, e = c.starts[r + 1]!
  if (hi === lo) {
    // only pairs of opposite crossings at one point (an inner edge of the union crossing
    // the cell edge): the union covers the whole ring or none of it
    const at = locateInUnion(b, c.ring[2 * s]!, c.ring[2 * s + 1]!)
    if (at === ON) return undefined
    w = at === IN ? 1 : 0
  } else w = -lo
  const p = c.proj
  let sum = 0
  let pos = s, px = p[2 * s]!, py = p[2 * s + 1]!
  for (let i = i0; i < i1; ) {
    const at = sPos[sIdx[i]!]!
    const qx = sX[sIdx[i]!]!, qy = sY[sIdx[i]!]!
    if (w > 0) sum += alongCell(p, e, pos, px, py, at, qx, qy)
    while (i < i1 && sPos[sIdx[i]!] === at) w += sDir[sIdx[i++]!]!
    pos = at
    px = qx
    py = qy
  }
  if (w > 0) sum += alongCell(p, e, pos, px, py, e, p[2 * s]!, p[2 * s + 1]!)
  return sum
}

/**
 * Area terms along a ring (projected vertices up to e − 1 in `p`, whose first vertex is the
 * cell's origin) from (px, py) at position `from` to (qx, qy) at `to`.
 */
function alongCell(p: Float64Array, e: number, from: number, px: number, py: number, to: number, qx: number, qy: number): number {
  const ox = p[0]!, oy = p[1]!
  let sum = 0
  let x = px, y = py
  for (let k = Math.floor(from) + 1; k < Math.ceil(to) && k < e; k++) {
    sum += term(x, y, p[2 * k]!, p[2 * k + 1]!, ox, oy)
    x = p[2 * k]!
    y = p[2 * k + 1]!
  }
  return sum + term(x, y, qx, qy, ox, oy)
}
