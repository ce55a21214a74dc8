// Terrain from a DEM on a projected grid, for soil retention's LS factor: slope by Horn's
// method (as `gdaldem slope`), depressions filled by Priority-Flood+ε (Barnes et al. 2014),
// D8 flow directions and accumulation, and LS after Desmet & Govers (1996) with McCool's
// S (1987) and rill/interrill m (1989), the forms of InVEST SDR. Pure functions on
// row-major Float32Arrays; NaN is no data.

/** neighbour offsets in D8 order: E, NE, N, NW, W, SW, S, SE (rows grow southward) */
const DR = [0, -1, -1, -1, 0, 1, 1, 1]
const DC = [1, 1, 0, -1, -1, -1, 0, 1]

export interface Grid {
  width: number
  height: number
  /** pixel size in metres along x and y (positive) */
  dx: number
  dy: number
}

/**
 * Horn's (1981) gradient, as gdaldem: dz/dx = ((c + 2f + i) − (a + 2d + g)) / (8·dx),
 * dz/dy = ((g + 2h + i) − (a + 2b + c)) / (8·dy) over the 3×3 window a b c / d e f / g h i.
 * A neighbour outside the grid or without data takes the centre's value (gdaldem leaves
 * such pixels without data unless -compute_edges). Returns slope as tan θ (rise over run)
 * and x = |sin α| + |cos α| of the aspect α (1 where flat).
 */
export function hornGradient(dem: Float32Array, g: Grid): { tan: Float32Array; xAspect: Float32Array } {
  const { width: w, height: h, dx, dy } = g
  const tan = new Float32Array(w * h)
  const xAspect = new Float32Array(w * h)
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c
      const e = dem[i]!
      if (e !== e) {
        tan[i] = NaN
        xAspect[i] = NaN
        continue
      }
      const at = (rr: number, cc: number) => {
        if (rr < 0 || rr >= h || cc < 0 || cc >= w) return e
        const v = dem[rr * w + cc]!
        return v === v ? v : e
      }
      const a = at(r - 1, c - 1), b = at(r - 1, c), cc = at(r - 1, c + 1)
      const d = at(r, c - 1), f = at(r, c + 1)
      const gg = at(r + 1, c - 1), hh = at(r + 1, c), ii = at(r + 1, c + 1)
      const gx = (cc + 2 * f + ii - (a + 2 * d + gg)) / (8 * dx)
      const gy = (gg + 2 * hh + ii - (a + 2 * b + cc)) / (8 * dy)
      const m = Math.sqrt(gx * gx + gy * gy)
      tan[i] = m
      xAspect[i] = m > 0 ? (Math.abs(gx) + Math.abs(gy)) / m : 1
    }
  }
  return { tan, xAspect }
}

/** Slope in degrees from tan θ (what `gdaldem slope` writes). */
export const slopeDegrees = (tan: number) => (Math.atan(tan) * 180) / Math.PI

/** A binary min-heap of cell indices keyed by elevation (ties: first in, first out). */
class CellHeap {
  private keys = new Float64Array(1024)
  private cells = new Int32Array(1024)
  private order = new Float64Array(1024)
  private n = 0
  private seq = 0
  get size() { return this.n }
  push(cell: number, key: number) {
    if (this.n === this.keys.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(a.length * 2); b.set(a); return b }
      this.keys = grow(this.keys); this.cells = grow(this.cells); this.order = grow(this.order)
    }
    let i = this.n++
    const s = this.seq++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.keys[p]! < key || (this.keys[p] === key && this.order[p]! < s)) break
      this.keys[i] = this.keys[p]!; this.cells[i] = this.cells[p]!; this.order[i] = this.order[p]!
      i = p
    }
    this.keys[i] = key; this.cells[i] = cell; this.order[i] = s
  }
  pop(): number {
    const top = this.cells[0]!
    const n = --this.n
    const k = this.keys[n]!, c = this.cells[n]!, o = this.order[n]!
    let i = 0
    for (;;) {
      let m = 2 * i + 1
      if (m >= n) break
      if (m + 1 < n && (this.keys[m + 1]! < this.keys[m]! || (this.keys[m + 1] === this.keys[m] && this.order[m + 1]! < this.order[m]!))) m++
      if (k < this.keys[m]! || (k === this.keys[m] && o < this.order[m]!)) break
      this.keys[i] = this.keys[m]!; this.cells[i] = this.cells[m]!; this.order[i] = this.order[m]!
      i = m
    }
    this.keys[i] = k; this.cells[i] = c; this.order[i] = o
    return top
  }
}

/**
 * Depressions filled so that every cell drains to the grid's edge or to a no-data cell:
 * Priority-Flood+ε (Barnes, Lehman & Mulla 2014, Algorithm 3): cells are visited from the
 * edges inward by rising elevation; a cell lower than the one it is reached from is raised
 * just above it (the next float32 up), so flats and pits get a gradient toward the outlet.
 * Cells in depressions go through a plain queue, not the heap.
 */
export function fillDepressions(dem: Float32Array, g: Grid): Float32Array {
  const { width: w, height: h } = g
  const z = Float32Array.from(dem)
  const closed = new Uint8Array(w * h)
  const heap = new CellHeap()
  const pit = new Int32Array(w * h)
  let pitHead = 0
  let pitTail = 0
  const edge = (i: number, r: number, c: number) => {
    if (r === 0 || c === 0 || r === h - 1 || c === w - 1) return true
    for (let k = 0; k < 8; k++) { const v = z[(r + DR[k]!) * w + c + DC[k]!]!; if (v !== v) return true }
    return false
  }
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c
      const v = z[i]!
      if (v !== v) { closed[i] = 1; continue }
      if (edge(i, r, c)) { closed[i] = 1; heap.push(i, v) }
    }
  }
  const up = (v: number) => { const a = new Float32Array([v]); const u = new Int32Array(a.buffer); u[0] = v >= 0 ? u[0]! + 1 : u[0]! - 1; return v === 0 ? 1.401298464324817e-45 : a[0]! }
  while (heap.size || pitHead < pitTail) {
    const i = pitHead < pitTail ? pit[pitHead++]! : heap.pop()
    const r = (i / w) | 0
    const c = i - r * w
    const zi = z[i]!
    for (let k = 0; k < 8; k++) {
      const rr = r + DR[k]!
      const cc = c + DC[k]!
      if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue
      const j = rr * w + cc
      if (closed[j]) continue
      closed[j] = 1
      const zj = z[j]!
      if (zj <= zi) {
        z[j] = up(zi)
        pit[pitTail++] = j
      } else heap.push(j, zj)
    }
    if (pitHead === pitTail) pitHead = pitTail = 0
  }
  return z
}

/**
 * D8 flow directions: the neighbour of steepest descent (drop over distance), −1 where no
 * neighbour is lower (pits, flats) or the cell has no data. Ties go to the first in the
 * order E, NE, N, NW, W, SW, S, SE.
 */
export function d8Directions(z: Float32Array, g: Grid): Int8Array {
  const { width: w, height: h, dx, dy } = g
  const dist = DR.map((dr, k) => Math.hypot(dr * dy, DC[k]! * dx))
  const dir = new Int8Array(w * h).fill(-1)
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c
      const zi = z[i]!
      if (zi !== zi) continue
      let best = 0
      let bk = -1
      for (let k = 0; k < 8; k++) {
        const rr = r + DR[k]!
        const cc = c + DC[k]!
        if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue
        const zj = z[rr * w + cc]!
        if (zj !== zj) continue
        const s = (zi - zj) / dist[k]!
        if (s > best) { best = s; bk = k }
      }
      dir[i] = bk
    }
  }
  return dir
}

/** Cells draining through each cell, itself included (D8; cells without data count 0). */
export function flowAccumulation(dir: Int8Array, z: Float32Array, g: Grid): Float64Array {
  const { width: w, height: h } = g
  const n = w * h
  const indeg = new Uint8Array(n)
  const down = (i: number) => {
    const k = dir[i]!
    if (k < 0) return -1
    const r = ((i / w) | 0) + DR[k]!
    const c = (i % w) + DC[k]!
    return r < 0 || r >= h || c < 0 || c >= w ? -1 : r * w + c
  }
  for (let i = 0; i < n; i++) { const j = down(i); if (j >= 0) indeg[j]!++ }
  const acc = new Float64Array(n)
  const queue = new Int32Array(n)
  let tail = 0
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue[tail++] = i
  for (let head = 0; head < tail; head++) {
    const i = queue[head]!
    const zi = z[i]!
    if (zi === zi) acc[i] += 1
    const j = down(i)
    if (j < 0) continue
    acc[j] += acc[i]!
    if (--indeg[j]! === 0) queue[tail++] = j
  }
  return acc
}

export interface LsOptions {
  /** fill depressions first (default true, as InVEST SDR) */
  fill?: boolean
  /** cap of the upslope contributing length in metres (InVEST's l_max); none by default */
  lMax?: number
}

/**
 * LS factor per cell (dimensionless), after Desmet & Govers (1996) as in InVEST SDR:
 *   L = ((A + D²)^(m+1) − A^(m+1)) / (D^(m+2) · x^m · 22.13^m)
 * with A the contributing area at the cell's inlet ((flow accumulation − 1)·D², m²), D the
 * cell size, x = |sin α| + |cos α| of the aspect, m = β/(1 + β), β = (sin θ/0.0896)/(3·sin θ^0.8 + 0.56)
 * (McCool et al. 1989); S = 10.8·sin θ + 0.03 where tan θ < 0.09, else 16.8·sin θ − 0.5
 * (McCool et al. 1987). NaN where the DEM has no data.
 */
export function lsFactor(dem: Float32Array, g: Grid, o: LsOptions = {}): { ls: Float32Array; tan: Float32Array; acc: Float64Array } {
  const z = o.fill === false ? dem : fillDepressions(dem, g)
  const { tan, xAspect } = hornGradient(dem, g)
  const acc = flowAccumulation(d8Directions(z, g), z, g)
  const D = Math.sqrt(g.dx * g.dy)
  const cell = g.dx * g.dy
  const ls = new Float32Array(dem.length)
  for (let i = 0; i < ls.length; i++) {
    const t = tan[i]!
    if (t !== t) { ls[i] = NaN; continue }
    const sin = t / Math.sqrt(1 + t * t)
    const beta = sin > 0 ? sin / 0.0896 / (3 * Math.pow(sin, 0.8) + 0.56) : 0
    const m = beta / (1 + beta)
    let A = Math.max(0, acc[i]! - 1) * cell
    if (o.lMax !== undefined) A = Math.min(A, o.lMax * D)
    const x = xAspect[i]!
    const L = (Math.pow(A + D * D, m + 1) - Math.pow(A, m + 1)) / (Math.pow(D, m + 2) * Math.pow(x, m) * Math.pow(22.13, m))
    const S = t < 0.09 ? 10.8 * sin + 0.03 : 16.8 * sin - 0.5
    ls[i] = L * S
  }
  return { ls, tan, acc }
}
