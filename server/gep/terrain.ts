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
export function hornGradient(dem: Float32Array, g: Grid, out?: { tan: Float32Array; xAspect: Float32Array }): { tan: Float32Array; xAspect: Float32Array } {
  const { width: w, height: h, dx, dy } = g
  const tan = out?.tan ?? new Float32Array(w * h)
  const xAspect = out?.xAspect ?? new Float32Array(w * h)
  const kx = 1 / (8 * dx)
  const ky = 1 / (8 * dy)
  const put = (i: number, a: number, b: number, c: number, d: number, f: number, gg: number, hh: number, ii: number) => {
    const gx = (c + 2 * f + ii - (a + 2 * d + gg)) * kx
    const gy = (gg + 2 * hh + ii - (a + 2 * b + c)) * ky
    const m = Math.sqrt(gx * gx + gy * gy)
    tan[i] = m
    xAspect[i] = m > 0 ? (Math.abs(gx) + Math.abs(gy)) / m : 1
  }
  // a neighbour outside the grid or without data reads as the centre
  const at = (rr: number, cc: number, e: number) => {
    if (rr < 0 || rr >= h || cc < 0 || cc >= w) return e
    const v = dem[rr * w + cc]!
    return v === v ? v : e
  }
  for (let r = 0; r < h; r++) {
    const inner = r > 0 && r < h - 1
    const up = (r - 1) * w
    const mid = r * w
    const dn = (r + 1) * w
    for (let c = 0; c < w; c++) {
      const i = mid + c
      const e = dem[i]!
      if (e !== e) { tan[i] = NaN; xAspect[i] = NaN; continue }
      if (inner && c > 0 && c < w - 1) {
        const a = dem[up + c - 1]!, b = dem[up + c]!, cc = dem[up + c + 1]!
        const d = dem[i - 1]!, f = dem[i + 1]!
        const gg = dem[dn + c - 1]!, hh = dem[dn + c]!, ii = dem[dn + c + 1]!
        // NaN-free neighbourhood: the common case, without per-neighbour checks
        if (a + b + cc + d + f + gg + hh + ii === a + b + cc + d + f + gg + hh + ii) { put(i, a, b, cc, d, f, gg, hh, ii); continue }
      }
      put(i, at(r - 1, c - 1, e), at(r - 1, c, e), at(r - 1, c + 1, e), at(r, c - 1, e), at(r, c + 1, e), at(r + 1, c - 1, e), at(r + 1, c, e), at(r + 1, c + 1, e))
    }
  }
  return { tan, xAspect }
}

/** Slope in degrees from tan θ (what `gdaldem slope` writes). */
export const slopeDegrees = (tan: number) => (Math.atan(tan) * 180) / Math.PI

/** Elevation step of the fill's queue: cells are flooded in order of elevation to this step. */
export const FILL_STEP_M = 0.001

/**
 * Depressions filled so that every cell drains to the grid's edge or to a no-data cell:
 * Priority-Flood+ε (Barnes, Lehman & Mulla 2014, Algorithm 3): cells are visited from the
 * edges inward by rising elevation; a cell lower than the one it is reached from is raised
 * just above it (the next float32 up), so flats and pits get a gradient toward the outlet.
 * Cells in depressions, and cells on slopes that can raise nothing, go through a plain queue
 * (Zhou, Sun & Fu 2016). The priority queue is a bucket queue of
 * 1 mm steps (first in, first out within a step): a cell may be raised up to 1 mm more than
 * an exact order would raise it, and every cell still drains, whatever the order within a
 * step (each raised cell drains through the cell that raised it).
 */
export function fillDepressions(dem: Float32Array, g: Grid): Float32Array {
  const { width: w, height: h } = g
  const n = w * h
  const z = Float32Array.from(dem)
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < n; i++) { const v = z[i]!; if (v < lo) lo = v; if (v > hi) hi = v }
  if (!(lo <= hi)) return z
  const step = Math.max(FILL_STEP_M, (hi - lo) / (1 << 24))
  const nb = Math.floor((hi - lo) / step) + 2
  // buckets as linked lists (head/tail per bucket, next per cell)
  const head = new Int32Array(nb).fill(-1)
  const tail = new Int32Array(nb).fill(-1)
  const next = new Int32Array(n)
  let cur = nb
  const push = (i: number, v: number) => {
    const b = Math.min(nb - 1, Math.floor((v - lo) / step))
    next[i] = -1
    if (head[b] === -1) head[b] = i
    else next[tail[b]!] = i
    tail[b] = i
    if (b < cur) cur = b
  }
  const closed = new Uint8Array(n)
  const pit = new Int32Array(n)
  let pitHead = 0
  let pitTail = 0
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c
      const v = z[i]!
      if (v !== v) { closed[i] = 1; continue }
      let edge = r === 0 || c === 0 || r === h - 1 || c === w - 1
      if (!edge) for (let k = 0; k < 8; k++) { const u = z[(r + DR[k]!) * w + c + DC[k]!]!; if (u !== u) { edge = true; break } }
      if (edge) { closed[i] = 1; push(i, v) }
    }
  }
  // a cell above the one that reaches it, with no open neighbour at or below it, raises
  // nothing when processed: it may go through the plain queue at once, whatever the order of
  // the rest (Zhou, Sun & Fu 2016's variant): the heap sees only cells that may spill
  const slope = (j: number, r: number, c: number, zj: number) => {
    if (r === 0 || c === 0 || r === h - 1 || c === w - 1) return false
    for (let k = 0; k < 8; k++) {
      const q = j + DR[k]! * w + DC[k]!
      if (!closed[q] && !(z[q]! > zj)) return false
    }
    return true
  }
  const f32 = new Float32Array(1)
  const u32 = new Int32Array(f32.buffer)
  const up = (v: number) => {
    if (v === 0) return 1.401298464324817e-45
    f32[0] = v
    u32[0] = v > 0 ? u32[0]! + 1 : u32[0]! - 1
    return f32[0]!
  }
  for (;;) {
    let i: number
    if (pitHead < pitTail) i = pit[pitHead++]!
    else {
      while (cur < nb && head[cur] === -1) cur++
      if (cur >= nb) break
      i = head[cur]!
      head[cur] = next[i]!
      if (head[cur] === -1) tail[cur] = -1
      pitHead = pitTail = 0
    }
    const r = (i / w) | 0
    const c = i - r * w
    const zi = z[i]!
    const interior = r > 0 && r < h - 1 && c > 0 && c < w - 1
    for (let k = 0; k < 8; k++) {
      const rr = r + DR[k]!
      const cc = c + DC[k]!
      if (!interior && (rr < 0 || rr >= h || cc < 0 || cc >= w)) continue
      const j = rr * w + cc
      if (closed[j]) continue
      closed[j] = 1
      const zj = z[j]!
      if (zj <= zi) {
        z[j] = up(zi)
        pit[pitTail++] = j
      } else if (slope(j, rr, cc, zj)) pit[pitTail++] = j
      else push(j, zj)
    }
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

/**
 * Cells draining through each cell, itself included (D8; cells without data count 0): a
 * depth-first walk up from every outlet (a cell with no direction), adding each cell's count
 * to the cell it drains to on the way back. Walking up the drainage network keeps to
 * neighbouring memory, where a breadth-first order from the ridges jumps across the grid.
 */
export function flowAccumulation(dir: Int8Array, z: Float32Array, g: Grid, out?: Uint32Array): Uint32Array {
  const { width: w, height: h } = g
  const n = dir.length
  // d8Directions points only at cells inside the grid: the downstream cell is i + offset;
  // neighbour k drains into i when its direction is the opposite of k
  const off = DR.map((dr, k) => dr * w + DC[k]!)
  const opposite = [4, 5, 6, 7, 0, 1, 2, 3]
  const acc = out ?? new Uint32Array(n)
  let stack = new Int32Array(1 << 20)
  for (let o = 0; o < n; o++) {
    if (dir[o] !== -1) continue
    let sp = 0
    stack[sp++] = o
    while (sp > 0) {
      const top = stack[--sp]!
      if (top < 0) {
        // every cell upstream of i is counted: pass i's count down
        const i = ~top
        if (z[i] === z[i]) acc[i] += 1
        const k = dir[i]!
        if (k >= 0) acc[i + off[k]!] += acc[i]!
        continue
      }
      if (sp + 9 > stack.length) { const bigger = new Int32Array(stack.length * 2); bigger.set(stack); stack = bigger }
      stack[sp++] = ~top
      const r = (top / w) | 0
      const c = top - r * w
      const inner = r > 0 && r < h - 1 && c > 0 && c < w - 1
      for (let k = 0; k < 8; k++) {
        if (!inner) { const rr = r + DR[k]!, cc = c + DC[k]!; if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue }
        const j = top + off[k]!
        if (dir[j] === opposite[k]) stack[sp++] = j
      }
    }
  }
  return acc
}

export interface LsOptions {
  /** fill depressions first (default true, as InVEST SDR) */
  fill?: boolean
  /** cap of the L factor (InVEST SDR's l_max, default there 122); none by default */
  lMax?: number
}

const LN_22_13 = Math.log(22.13)

/** Constants of LS on a grid of cell size D (m); lMax caps L (InVEST's l_max). */
export interface LsGrid { D: number; cell: number; lMax?: number }

/**
 * LS of one cell (dimensionless), after Desmet & Govers (1996) as in InVEST SDR:
 *   L = ((A + D²)^(m+1) − A^(m+1)) / (D^(m+2) · x^m · 22.13^m)
 * with A the contributing area at the cell's inlet ((flow accumulation − 1)·D², m²), D the
 * cell size, x = |sin α| + |cos α| of the aspect, m = β/(1 + β), β = (sin θ/0.0896)/(3·sin θ^0.8 + 0.56)
 * (McCool et al. 1989); S = 10.8·sin θ + 0.03 where tan θ < 0.09, else 16.8·sin θ − 0.5
 * (McCool et al. 1987). NaN where the slope is.
 */
export function lsAt(tan: number, x: number, acc: number, g: LsGrid): number {
  if (tan !== tan) return NaN
  const D = g.D
  const sin = tan / Math.sqrt(1 + tan * tan)
  const beta = sin > 0 ? sin / 0.0896 / (3 * Math.exp(0.8 * Math.log(sin)) + 0.56) : 0
  const m = beta / (1 + beta)
  const A = acc > 1 ? (acc - 1) * g.cell : 0
  // (A + D²)^(m+1) − A^(m+1) without cancellation: (A + D²)^(m+1)·(1 − (A/(A + D²))^(m+1));
  // in logarithms: D^(m+2) = D²·D^m
  const up = A + D * D
  const diff = Math.exp((m + 1) * Math.log(up)) * -Math.expm1((m + 1) * Math.log1p(-(D * D) / up))
  let L = diff / (D * D * Math.exp(m * (Math.log(D) + Math.log(x) + LN_22_13)))
  if (g.lMax !== undefined && L > g.lMax) L = g.lMax
  const S = tan < 0.09 ? 10.8 * sin + 0.03 : 16.8 * sin - 0.5
  return L * S
}

/**
 * lsAt for square cells (D² = cell area) with the logarithms it can share: A + D² = acc·D² and
 * A = (acc − 1)·D² with acc a whole count, so L = e^{m(ln D² − ln D − ln 22.13 − ln x)} ·
 * acc^{m+1}·(1 − (1 − 1/acc)^{m+1}), the logarithms of counts from a table. Same value as lsAt to
 * rounding (test/terrain.test.ts); the scan threads call it for every covered pixel.
 */
export function lsPrepared(g: LsGrid): (tan: number, x: number, acc: number) => number {
  const N = 1 << 20
  const ln = new Float64Array(N)
  for (let k = 1; k < N; k++) ln[k] = Math.log(k)
  const lnOf = (k: number) => (k < N ? ln[k]! : Math.log(k))
  const D = g.D
  const k0 = Math.log(D * D) - Math.log(D) - LN_22_13
  const lMax = g.lMax ?? Infinity
  return (tan, x, acc) => {
    if (tan !== tan) return NaN
    const sin = tan / Math.sqrt(1 + tan * tan)
    const beta = sin > 0 ? sin / 0.0896 / (3 * Math.exp(0.8 * Math.log(sin)) + 0.56) : 0
    const m = beta / (1 + beta)
    const n = acc > 1 ? acc : 1
    // acc^(m+1) − (acc − 1)^(m+1) = acc^(m+1)·(1 − (1 − 1/acc)^(m+1)), without cancellation
    let L = Math.exp(m * (k0 - Math.log(x)) + (m + 1) * lnOf(n)) * -Math.expm1((m + 1) * Math.log1p(-1 / n))
    if (L > lMax) L = lMax
    const S = tan < 0.09 ? 10.8 * sin + 0.03 : 16.8 * sin - 0.5
    return L * S
  }
}

/** Slope, aspect factor and flow accumulation of a DEM: what LS needs per cell. */
export function terrain(dem: Float32Array, g: Grid, o: LsOptions = {}): { tan: Float32Array; xAspect: Float32Array; acc: Uint32Array } {
  const z = o.fill === false ? dem : fillDepressions(dem, g)
  const { tan, xAspect } = hornGradient(dem, g)
  const acc = flowAccumulation(d8Directions(z, g), z, g)
  return { tan, xAspect, acc }
}

/** LS factor of every cell (lsAt over terrain()). */
export function lsFactor(dem: Float32Array, g: Grid, o: LsOptions = {}): { ls: Float32Array; tan: Float32Array; acc: Uint32Array } {
  const { tan, xAspect, acc } = terrain(dem, g, o)
  const lg: LsGrid = { D: Math.sqrt(g.dx * g.dy), cell: g.dx * g.dy, lMax: o.lMax }
  const ls = new Float32Array(dem.length)
  for (let i = 0; i < ls.length; i++) ls[i] = lsAt(tan[i]!, xAspect[i]!, acc[i]!, lg)
  return { ls, tan, acc }
}
