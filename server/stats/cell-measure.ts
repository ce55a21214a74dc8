// Area of a union inside each cell, and the features sharing area with each cell, pure.
// Green's theorem: the boundary of (union ∩ cell) is the union's boundary segments
// (union-boundary.ts) cut at the cell's edges and kept inside the cell, plus the cell's
// edges where they run inside the union. The union lies left of its segments, so along
// the cell boundary (counter-clockwise) it begins where a segment leaves the cell and ends
// where one enters: the cell's own edges need no point-in-polygon test unless no segment
// crosses them at all. Every point is in the run's equal-area projection (laea.ts) when
// measured; segments are cut in lon/lat, where GEOS cuts them.
//
// A vertex within 1e-12° of a cell edge, a crossing within that of a cell corner, or
// crossings that do not alternate mark the cell "degenerate" for this set; the caller
// measures those few cells in PostGIS instead (cell-fallback.sql).
import { boxGrid, BoxQuery } from './box-grid.ts'
import type { Laea } from './laea.ts'
import type { Box } from './shapes.ts'
import { EPS, IN, Locator, LONG_M, ON, orientedRing, pointEdge, shoelace, type Boundary, type Feat } from './union-boundary.ts'
import { widenBox } from '../units/wkb-polygons.ts'

export interface MeasureCell {
  /** open ring, lon/lat, counter-clockwise */
  ring: Float64Array
  /** the ring projected */
  proj: Float64Array
  bbox: Box
  /** projected area, m² */
  area: number
  /** per edge k: [vx, vy, ex, ey, len², tol, δ] — start, direction, squared length, EPS·length, EPS/length */
  edges: Float64Array
}

/** A simple cell: one polygon of one ring with at most 256 vertices and edges of at most LONG_M, convex or not. */
export function measureCell(polygons: Float64Array[][], pr: Laea): MeasureCell | undefined {
  if (polygons.length !== 1 || polygons[0]!.length !== 1 || polygons[0]![0]!.length > 2 * 257) return undefined
  const o = orientedRing(polygons[0]![0]!, true, pr)
  if (!o || o.ring.length > 2 * 256 || o.longest > LONG_M) return undefined
  const { ring, proj } = o
  const n = ring.length >> 1
  const edges = new Float64Array(7 * n)
  const box = [Infinity, Infinity, -Infinity, -Infinity]
  widenBox(ring, box)
  for (let i = 0; i < n; i++) {
    const x = ring[2 * i]!, y = ring[2 * i + 1]!
    const j = i + 1 === n ? 0 : i + 1
    const ex = ring[2 * j]! - x, ey = ring[2 * j + 1]! - y
    const len2 = ex * ex + ey * ey
    const len = Math.sqrt(len2)
    edges.set([x, y, ex, ey, len2, EPS * len, len > 0 ? EPS / len : 1], 7 * i)
  }
  return { ring, proj, bbox: box as Box, area: shoelace(proj), edges }
}

export interface SetSums {
  area: Float64Array
  count: Int32Array
  degenerate: Uint8Array
}

const DEGENERATE = -1

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
  const n = e.length / 7
  let m = 0
  for (let k = 0; k < n; k++) {
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
  if (m > 1) {
    // insertion sort: few crossings
    for (let i = 1; i < m; i++) {
      const v = order[i]!
      let j = i - 1
      while (j >= 0 && cT[order[j]!]! > cT[v]!) { order[j + 1] = order[j]!; j-- }
      order[j + 1] = v
    }
  }
  return m
}

/** Point strictly inside the cell (parity), or ON within EPS of its boundary. */
function inCell(c: MeasureCell, px: number, py: number): number {
  const e = c.edges
  const n = e.length / 7
  let inside = false
  for (let k = 0; k < n; k++) {
    const o = 7 * k
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

/** The box lies strictly inside the cell: its corners inside, no cell vertex within it. */
function boxInside(c: MeasureCell, b: Box): boolean {
  if (b[0] <= c.bbox[0] || b[2] >= c.bbox[2] || b[1] <= c.bbox[1] || b[3] >= c.bbox[3]) return false
  const r = c.ring
  for (let i = 0; i < r.length; i += 2) if (r[i]! >= b[0] && r[i]! <= b[2] && r[i + 1]! >= b[1] && r[i + 1]! <= b[3]) return false
  return inCell(c, b[0], b[1]) === IN && inCell(c, b[2], b[1]) === IN && inCell(c, b[2], b[3]) === IN && inCell(c, b[0], b[3]) === IN
}

export interface CellSet {
  cells: MeasureCell[]
  /** cells whose boxes meet a box, written into `out` (a reused buffer); returns how many */
  query(x0: number, y0: number, x1: number, y1: number): number
  out: Int32Array
}

/** Cells in a bucket grid sized by the median cell (box-grid.ts). */
export function cellSet(cells: MeasureCell[]): CellSet {
  const boxes = new Float64Array(4 * cells.length)
  cells.forEach((c, i) => boxes.set(c.bbox, 4 * i))
  const q = new BoxQuery(boxGrid(boxes, 1, 4))
  return { cells, out: q.out, query: (x0, y0, x1, y1) => q.query(x0, y0, x1, y1) }
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
  const events: (number[] | undefined)[] = new Array(nc)
  const seg = b.seg
  const pt = [0, 0]
  const locator = counting ? new Locator(features) : undefined
  // per feature: cells where one of its edges runs inside (stamp = feature + 1)
  const hitBy = new Int32Array(nc)
  let candidates = new Int32Array(64)

  /** Measures segment s against cell ci: area terms, crossing events, hit mark. */
  const segmentInCell = (s: number, ci: number, fi: number) => {
    const c = cells[ci]!
    const o = 8 * s
    if (Math.hypot(seg[o + 6]! - seg[o + 4]!, seg[o + 7]! - seg[o + 5]!) > LONG_M) { degenerate[ci] = 1; return }
    const x0 = seg[o]!, y0 = seg[o + 1]!, x1 = seg[o + 2]!, y1 = seg[o + 3]!
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
    let ev = events[ci]
    if (!ev) events[ci] = ev = []
    for (let i = 0; i < m; i++) {
      const k = order[i]!
      pr.forward(cX[k]!, cY[k]!, pt, 0)
      if (!cIn[k]) area[ci] += term(px, py, pt[0]!, pt[1]!, ox, oy)
      ev.push(cK[k]! + cS[k]!, cIn[k] ? -1 : 1, pt[0]!, pt[1]!)
      px = pt[0]!
      py = pt[1]!
    }
    if (cIn[order[m - 1]!]) area[ci] += term(px, py, seg[o + 6]!, seg[o + 7]!, ox, oy)
  }

  for (let fi = 0; fi < features.length; fi++) {
    const f = features[fi]!
    const s0 = b.start[fi]!, s1 = b.start[fi + 1]!
    if (s0 === s1 && !counting) continue
    const bb = f.bbox
    let nk = cs.query(bb[0], bb[1], bb[2], bb[3])
    if (!nk) continue
    if (nk > candidates.length) candidates = new Int32Array(2 * nk)
    candidates.set(cs.out.subarray(0, nk))
    if (!b.cut[fi] && !f.long) {
      let inOne = -1
      for (let i = 0; i < nk; i++) if (boxInside(cells[candidates[i]!]!, bb)) { inOne = candidates[i]!; break }
      if (inOne >= 0) {
        area[inOne] += f.area
        count[inOne]++
        continue
      }
    }
    if (s1 - s0 > BY_SEGMENT && nk > 4) {
      // a large feature: each segment meets the few cells near it
      for (let s = s0; s < s1; s++) {
        const o = 8 * s
        const m = cs.query(Math.min(seg[o]!, seg[o + 2]!), Math.min(seg[o + 1]!, seg[o + 3]!), Math.max(seg[o]!, seg[o + 2]!), Math.max(seg[o + 1]!, seg[o + 3]!))
        for (let i = 0; i < m; i++) if (!degenerate[cs.out[i]!]) segmentInCell(s, cs.out[i]!, fi)
      }
    } else {
      for (let i = 0; i < nk; i++) {
        const ci = candidates[i]!
        const c = cells[ci]!
        for (let s = s0; s < s1 && !degenerate[ci]; s++) {
          const o = 8 * s
          if (Math.max(seg[o]!, seg[o + 2]!) < c.bbox[0] || Math.min(seg[o]!, seg[o + 2]!) > c.bbox[2] || Math.max(seg[o + 1]!, seg[o + 3]!) < c.bbox[1] || Math.min(seg[o + 1]!, seg[o + 3]!) > c.bbox[3]) continue
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
        const c = cells[ci]!
        let w = ON
        for (let v = 0; v < c.ring.length && w === ON; v += 2) w = locator!.locate(fi, c.ring[v]!, c.ring[v + 1]!)
        if (w === ON) { degenerate[ci] = 1; continue }
        if (w !== IN) continue
      }
      count[ci]++
    }
  }

  // the cells' own edges where they run inside the union
  let rows: SegmentRows | undefined
  for (let ci = 0; ci < nc; ci++) {
    if (degenerate[ci]) continue
    const c = cells[ci]!
    const ev = events[ci]
    // whether the cell's first vertex lies in the union, when the crossings do not tell
    const first = () => {
      rows ??= segmentRows(b)
      return rows.locate(c.ring[0]!, c.ring[1]!)
    }
    if (!ev) {
      const w = first()
      if (w === ON) degenerate[ci] = 1
      else if (w === IN) area[ci] += c.area
      continue
    }
    const add = boundaryArea(c, ev, first)
    if (add === undefined) degenerate[ci] = 1
    else area[ci] += add
  }
  return { area, count, degenerate }
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

/**
 * Area terms of the cell's boundary where it runs inside the union, from the crossing
 * events [position (edge + fraction), +1 leaving / −1 entering, x, y]; `first` locates the
 * cell's first vertex when the events leave it open. Undefined when the events do not
 * describe a union covering each point at most once.
 */
function boundaryArea(c: MeasureCell, ev: number[], first: () => number): number | undefined {
  const m = ev.length / 4
  const idx = Array.from({ length: m }, (_, i) => i).sort((a, b) => ev[4 * a]! - ev[4 * b]!)
  // winding before the first event: whatever keeps it within 0..1 everywhere
  let w = 0, lo = 0, hi = 0
  for (let i = 0; i < m; i++) {
    w += ev[4 * idx[i]! + 1]!
    const last = i + 1 === m || ev[4 * idx[i + 1]!] !== ev[4 * idx[i]!]
    if (last) { lo = Math.min(lo, w); hi = Math.max(hi, w) }
  }
  if (w !== 0 || hi - lo > 1) return undefined
  if (hi === lo) {
    // only pairs of opposite crossings at one point (an inner edge of the union crossing
    // the cell edge): the union covers the whole cell boundary or none of it
    const at = first()
    if (at === ON) return undefined
    w = at === IN ? 1 : 0
  } else w = -lo
  const n = c.ring.length >> 1
  const p = c.proj
  const ox = p[0]!, oy = p[1]!
  let sum = 0
  let pos = 0, px = ox, py = oy
  const walk = (to: number, qx: number, qy: number) => {
    let x = px, y = py
    for (let k = Math.floor(pos) + 1; k < Math.ceil(to) && k < n; k++) {
      sum += term(x, y, p[2 * k]!, p[2 * k + 1]!, ox, oy)
      x = p[2 * k]!
      y = p[2 * k + 1]!
    }
    sum += term(x, y, qx, qy, ox, oy)
  }
  for (let i = 0; i < m; ) {
    const at = ev[4 * idx[i]!]!
    const qx = ev[4 * idx[i]! + 2]!, qy = ev[4 * idx[i]! + 3]!
    if (w > 0) walk(at, qx, qy)
    while (i < m && ev[4 * idx[i]!] === at) w += ev[4 * idx[i++]! + 1]!
    pos = at
    px = qx
    py = qy
  }
  if (w > 0) walk(n, ox, oy)
  return sum
}

interface SegmentRows {
  locate(px: number, py: number): number
}

/**
 * The union's boundary segments in thin rows (about 8 a row), for the parity of a
 * horizontal ray from a point to the nearer side of their extent.
 */
function segmentRows(b: Boundary): SegmentRows {
  const seg = b.seg
  const ns = seg.length >> 3
  if (!ns) return { locate: () => 0 }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity
  for (let s = 0; s < ns; s++) {
    const o = 8 * s
    x0 = Math.min(x0, seg[o]!, seg[o + 2]!); x1 = Math.max(x1, seg[o]!, seg[o + 2]!)
    y0 = Math.min(y0, seg[o + 1]!, seg[o + 3]!); y1 = Math.max(y1, seg[o + 1]!, seg[o + 3]!)
  }
  const n = Math.max(1, Math.min(1 << 20, Math.round(ns / 8)))
  const h = (y1 - y0) / n || 1
  const row = (y: number) => Math.min(n - 1, Math.max(0, Math.floor((y - y0) / h)))
  const count = new Int32Array(n + 1)
  for (let s = 0; s < ns; s++) {
    const a = seg[8 * s + 1]!, c = seg[8 * s + 3]!
    for (let k = row(Math.min(a, c) - EPS); k <= row(Math.max(a, c) + EPS); k++) count[k + 1]!++
  }
  for (let k = 1; k <= n; k++) count[k]! += count[k - 1]!
  const fill = count.slice(0, n)
  const list = new Int32Array(count[n]!)
  for (let s = 0; s < ns; s++) {
    const a = seg[8 * s + 1]!, c = seg[8 * s + 3]!
    for (let k = row(Math.min(a, c) - EPS); k <= row(Math.max(a, c) + EPS); k++) list[fill[k]!++] = s
  }
  const mid = (x0 + x1) / 2
  return {
    locate(px, py) {
      if (py < y0 - EPS || py > y1 + EPS || px < x0 - EPS || px > x1 + EPS) return 0
      const east = px >= mid
      let inside = false
      const k = row(py)
      for (let j = count[k]!; j < count[k + 1]!; j++) {
        const o = 8 * list[j]!
        const ax = seg[o]!, ay = seg[o + 1]!, bx = seg[o + 2]!, by = seg[o + 3]!
        if (east ? Math.max(ax, bx) < px - EPS : Math.min(ax, bx) > px + EPS) continue
        const w = pointEdge(ax, ay, bx, by, px, py, east)
        if (w === ON) return ON
        if (w === IN) inside = !inside
      }
      return inside ? IN : 0
    },
  }
}
