// Terrain from a DEM on a projected grid, for soil retention's LS factor: slope by Horn's
// method (as `gdaldem slope`), depressions filled flat to their pour point and flats drained
// toward their way out (as InVEST SDR's pygeoprocessing), D8 flow directions and
// accumulation, and LS after Desmet & Govers (1996) with McCool's S (1987) and
// rill/interrill m (1989), the forms of InVEST SDR. Pure functions on
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

/**
 * Depressions filled flat to their pour point, with work local to the depressions (as InVEST
 * SDR's pygeoprocessing `fill_pits`, without its re-filling of merged pits). Every cell is
 * labelled with the end of its path along `dir` (d8Directions on the raw DEM, its flats
 * resolved): an end drains if it lies on the grid's edge or next to no data; the others are
 * pits. From each pit a search in
 * rising order (a radix heap) floods until it takes a cell that drains, whatever other pits'
 * basins it passes through on the way: the highest height taken is the pit's level, the
 * lowest highest point of any way out (what a Priority-Flood from the edges gives, test/
 * terrain.test.ts). The cells below that level connected to the pit are raised to it, and
 * the ends of their paths now drain. `dir` is updated for the raised cells and their
 * neighbours (all of `dir` again when most of the grid was raised); flats (filled or natural)
 * are left to resolveFlats. Fills z in place; returns how many cells were raised and the
 * cells whose D8 was redone (undefined: every cell).
 */
export function fillPits(z: Float32Array, g: Grid, dir: Int8Array): { raised: number; again: Int32Array | undefined } {
  const { width: w, height: h } = g
  const n = w * h
  const off = DR.map((dr, k) => dr * w + DC[k]!)
  const queue = new Growable()
  const touched = new Growable()
  const heap = new RadixQueue()
  const outlet = (i: number) => isOutlet(z, w, h, off, i)
  // the end of a cell's path (the cell itself where it has no direction), found when first
  // asked for and kept for every cell on the way (+1: 0 not known yet)
  const endOf = new Int32Array(n)
  const path = new Growable()
  const endAt = (i: number): number => {
    const known = endOf[i]!
    if (known !== 0) return known - 1
    path.clear()
    let j = i
    while (endOf[j] === 0 && dir[j]! >= 0) { path.push(j); j += off[dir[j]!]! }
    const e = endOf[j] !== 0 ? endOf[j]! : j + 1
    endOf[j] = e
    for (let q = 0; q < path.length; q++) endOf[path.at(q)] = e
    return e - 1
  }
  // per end: 1 drains (an outlet), 2 pit, 3 pit filled
  const state = new Uint8Array(n)
  let count = 0
  for (let i = 0; i < n; i++) {
    if (dir[i] !== -1) continue
    const zi = z[i]!
    if (zi !== zi || outlet(i)) state[i] = 1
    else { state[i] = 2; count++ }
  }
  // pits lowest first: a pit that spills into a lower one then finds it filled, where in grid
  // order a chain of pits spilling one into the next would be flooded again by each
  const pits = new Int32Array(count)
  count = 0
  for (let i = 0; i < n; i++) if (state[i] === 2) pits[count++] = i
  const order = byHeight(z, pits)
  const seen = new Int32Array(n)
  let id = 0
  let raised = 0
  for (let p = 0; p < order.length; p++) {
    const root = order[p]!
    if (state[root] !== 2) continue
    id++
    heap.clear()
    heap.push(z[root]!, root)
    seen[root] = id
    let level = -Infinity
    while (heap.size > 0) {
      const i = heap.pop()
      const zi = z[i]!
      if (zi > level) level = zi
      if (state[endAt(i)] !== 2 || outlet(i)) break
      for (let k = 0; k < 8; k++) {
        const j = i + off[k]!
        if (seen[j] === id) continue
        seen[j] = id
        const v = z[j]!
        if (v === v) heap.push(v, j)
      }
    }
    // raise the cells below the level that connect to the pit; their paths' ends now drain
    queue.clear()
    queue.push(root)
    state[root] = 3
    if (z[root]! < level) { z[root] = level; touched.push(root); raised++ }
    for (let q = 0; q < queue.length; q++) {
      const i = queue.at(q)
      for (let k = 0; k < 8; k++) {
        const j = i + off[k]!
        const v = z[j]!
        if (v < level) { z[j] = level; queue.push(j); touched.push(j); raised++; state[endAt(j)] = 3 }
      }
    }
  }
  // D8 again where a cell or a neighbour was raised: over the whole grid when that is most
  // of it (every flat is then resolved again)
  if (touched.length > n >> 4) return { raised, again: undefined }
  const d8At = d8Cell(z, g, dir)
  const again = new Uint8Array(n)
  const redone = new Growable()
  for (let t = 0; t < touched.length; t++) {
    const i = touched.at(t)
    const r = (i / w) | 0, c = i - r * w
    for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) {
      const rr = r + dr, cc = c + dc
      if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue
      const j = rr * w + cc
      if (again[j]) continue
      again[j] = 1
      d8At(j, rr, cc)
      redone.push(j)
    }
  }
  return { raised, again: redone.data.subarray(0, redone.length) }
}

/** The grid's edge or no data next to cell i (neighbour offsets `off`): water leaves there. */
function isOutlet(z: Float32Array, w: number, h: number, off: number[], i: number): boolean {
  const r = (i / w) | 0, c = i - r * w
  if (r === 0 || c === 0 || r === h - 1 || c === w - 1) return true
  for (let k = 0; k < 8; k++) { const v = z[i + off[k]!]!; if (v !== v) return true }
  return false
}

/**
 * Directions across flats: a cell without a lower neighbour that is not an outlet (the grid's
 * edge, next to no data) drains to a neighbour of the same height one step nearer the flat's
 * way out, breadth-first from the flat's cells that already drain (the plateau drain of
 * pygeoprocessing's D8). Returns the cells left without a way out (pits, when unfilled).
 */
export function resolveFlats(z: Float32Array, g: Grid, dir: Int8Array, among?: Int32Array): number {
  const { width: w, height: h } = g
  const n = w * h
  const off = DR.map((dr, k) => dr * w + DC[k]!)
  const opposite = [4, 5, 6, 7, 0, 1, 2, 3]
  const undrained = (i: number) => {
    if (dir[i] !== -1) return false
    const v = z[i]!
    return v === v && !isOutlet(z, w, h, off, i)
  }
  const flat = new Growable()
  if (among) { for (let a = 0; a < among.length; a++) { const i = among[a]!; if (undrained(i)) flat.push(i) } }
  else for (let i = 0; i < n; i++) if (dir[i] === -1 && undrained(i)) flat.push(i)
  let open = flat.length
  if (open === 0) return 0
  const state = new Uint8Array(n) // 1 undrained, 2 queued
  for (let f = 0; f < flat.length; f++) state[flat.at(f)] = 1
  const queue = new Growable()
  // seeds: draining cells next to an undrained cell of the same height
  for (let f = 0; f < flat.length; f++) {
    const i = flat.at(f)
    for (let k = 0; k < 8; k++) {
      const j = i + off[k]!
      if (state[j] === 0 && z[j] === z[i]) { state[j] = 2; queue.push(j) }
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const i = queue.at(q)
    const zi = z[i]!
    const r = (i / w) | 0, c = i - r * w
    const inner = r > 0 && r < h - 1 && c > 0 && c < w - 1
    for (let k = 0; k < 8; k++) {
      if (!inner) { const rr = r + DR[k]!, cc = c + DC[k]!; if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue }
      const j = i + off[k]!
      if (state[j] !== 1 || z[j] !== zi) continue
      // j drains into i: i lies in direction opposite[k] from j
      dir[j] = opposite[k]!
      state[j] = 2
      open--
      queue.push(j)
    }
  }
  return open
}

/**
 * D8 directions that drain every cell: steepest descent on the DEM with its depressions filled
 * (fillPits, unless `fill` is false) and its flats resolved toward their way out. Without the
 * fill, the remaining pits are outlets of their own.
 */
export function drainage(dem: Float32Array, g: Grid, o: { fill?: boolean; inPlace?: boolean } = {}): { z: Float32Array; dir: Int8Array; raised: number; pits: number } {
  const dir = d8Directions(dem, g)
  // flats with a way out drain along it before the pits are told apart
  const open = resolveFlats(dem, g, dir)
  if (o.fill === false || open === 0) return { z: dem, dir, raised: 0, pits: open }
  const z = o.inPlace ? dem : dem.slice()
  const { raised, again } = fillPits(z, g, dir)
  if (!again) d8Directions(z, g, dir)
  // the cells whose D8 was redone hold every flat left
  const pits = resolveFlats(z, g, dir, again)
  return { z, dir, raised, pits }
}

/** A raster window as float32 heights, its no-data value as NaN (in place when it is float32). */
export function heights(raw: ArrayLike<number>, nodata: number | null | undefined): Float32Array {
  const z = raw instanceof Float32Array ? raw : Float32Array.from(raw)
  if (nodata !== null && nodata !== undefined) {
    const nd = Math.fround(nodata)
    for (let i = 0; i < z.length; i++) if (z[i] === nd) z[i] = NaN
  }
  return z
}

const F32 = new Float32Array(1)
const U32 = new Uint32Array(F32.buffer)
/** A float32's bits as an unsigned integer in the float's order: negative floats with every
 *  bit flipped, positive ones with the sign bit set. */
function orderedBits(v: number): number {
  F32[0] = v
  const b = U32[0]!
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0
}

/** Cells sorted by height, ties by index: a stable radix sort on the float's ordered bits. */
function byHeight(z: Float32Array, cells: Int32Array): Int32Array {
  const m = cells.length
  const key = new Uint32Array(m)
  for (let i = 0; i < m; i++) key[i] = orderedBits(z[cells[i]!]!)
  let src: Int32Array = cells, srcKey: Uint32Array = key
  let dst: Int32Array = new Int32Array(m), dstKey: Uint32Array = new Uint32Array(m)
  const count = new Uint32Array(65537)
  for (const shift of [0, 16]) {
    count.fill(0)
    for (let i = 0; i < m; i++) count[((srcKey[i]! >>> shift) & 0xffff) + 1]++
    for (let b = 1; b <= 65536; b++) count[b] += count[b - 1]!
    for (let i = 0; i < m; i++) {
      const b = (srcKey[i]! >>> shift) & 0xffff
      const at = count[b]!++
      dst[at] = src[i]!
      dstKey[at] = srcKey[i]!
    }
    ;[src, dst] = [dst, src]
    ;[srcKey, dstKey] = [dstKey, srcKey]
  }
  return src
}

/** A growable Int32 list. */
class Growable {
  data = new Int32Array(1024)
  length = 0
  push(v: number) {
    if (this.length === this.data.length) { const d = new Int32Array(this.data.length * 2); d.set(this.data); this.data = d }
    this.data[this.length++] = v
  }
  at(i: number) { return this.data[i]! }
  clear() { this.length = 0 }
}

/**
 * A monotone priority queue of cells by height (a radix heap, Ahuja et al. 1990, on the
 * float's ordered bits): keys below the last one taken count as the last one, as the search
 * needs (the level only rises), and every operation is amortised constant time where a
 * binary heap over a lake of 10⁷ cells pays a cache miss per level.
 */
class RadixQueue {
  private keys: Uint32Array[] = []
  private cells: Int32Array[] = []
  private lens = new Int32Array(33)
  private last = 0
  size = 0
  constructor() {
    for (let b = 0; b < 33; b++) { this.keys.push(new Uint32Array(64)); this.cells.push(new Int32Array(64)) }
  }
  clear() { this.lens.fill(0); this.size = 0; this.last = 0 }
  private put(k: number, c: number) {
    const b = k === this.last ? 0 : 32 - Math.clz32(k ^ this.last)
    let n = this.lens[b]!
    if (n === this.keys[b]!.length) {
      const nk = new Uint32Array(n * 2); nk.set(this.keys[b]!); this.keys[b] = nk
      const nc = new Int32Array(n * 2); nc.set(this.cells[b]!); this.cells[b] = nc
    }
    this.keys[b]![n] = k
    this.cells[b]![n] = c
    this.lens[b] = n + 1
  }
  push(v: number, c: number) {
    let k = orderedBits(v)
    if (k < this.last) k = this.last
    this.put(k, c)
    this.size++
  }
  /** a cell of the lowest key (no key below the last one taken) */
  pop(): number {
    if (this.lens[0] === 0) {
      let b = 1
      while (this.lens[b] === 0) b++
      const ks = this.keys[b]!, cs = this.cells[b]!, n = this.lens[b]!
      let min = ks[0]!
      for (let i = 1; i < n; i++) if (ks[i]! < min) min = ks[i]!
      this.last = min
      this.lens[b] = 0
      // every key of the bucket moves to a lower one: they share the bits above b with min
      for (let i = 0; i < n; i++) this.put(ks[i]!, cs[i]!)
    }
    this.size--
    return this.cells[0]![--this.lens[0]!]!
  }
}

const inverseDistances = (g: Grid) => DR.map((dr, k) => 1 / Math.hypot(dr * g.dy, DC[k]! * g.dx))

/** D8 of one cell at row r, column c, with every bound checked (edges, single cells). */
function d8Cell(z: Float32Array, g: Grid, dir: Int8Array): (i: number, r: number, c: number) => void {
  const { width: w, height: h } = g
  const inv = inverseDistances(g)
  return (i, r, c) => {
    const zi = z[i]!
    let best = 0
    let bk = -1
    if (zi === zi) {
      for (let k = 0; k < 8; k++) {
        const rr = r + DR[k]!
        const cc = c + DC[k]!
        if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue
        const zj = z[rr * w + cc]!
        if (zj !== zj) continue
        const s = (zi - zj) * inv[k]!
        if (s > best) { best = s; bk = k }
      }
    }
    dir[i] = bk
  }
}

/**
 * D8 flow directions: the neighbour of steepest descent (drop over distance), −1 where no
 * neighbour is lower (pits, flats) or the cell has no data. Ties go to the first in the
 * order E, NE, N, NW, W, SW, S, SE.
 */
export function d8Directions(z: Float32Array, g: Grid, out?: Int8Array, from = 0, to = z.length): Int8Array {
  const { width: w, height: h } = g
  const inv = inverseDistances(g)
  const [i0, i1, i2, i3, i4, i5, i6, i7] = inv as [number, number, number, number, number, number, number, number]
  const dir = out ?? new Int8Array(w * h)
  const edge = d8Cell(z, g, dir)
  for (let i = from; i < to;) {
    const r = (i / w) | 0
    const rowEnd = Math.min(to, (r + 1) * w)
    if (r === 0 || r === h - 1) { for (; i < rowEnd; i++) edge(i, r, i - r * w); continue }
    if (i === r * w) { edge(i, r, 0); i++ }
    const stop = Math.min(rowEnd, (r + 1) * w - 1)
    // interior cells: no bounds to check; a neighbour without data compares false
    for (; i < stop; i++) {
      const zi = z[i]!
      let best = 0
      let bk = -1
      let s = (zi - z[i + 1]!) * i0; if (s > best) { best = s; bk = 0 }
      s = (zi - z[i + 1 - w]!) * i1; if (s > best) { best = s; bk = 1 }
      s = (zi - z[i - w]!) * i2; if (s > best) { best = s; bk = 2 }
      s = (zi - z[i - 1 - w]!) * i3; if (s > best) { best = s; bk = 3 }
      s = (zi - z[i - 1]!) * i4; if (s > best) { best = s; bk = 4 }
      s = (zi - z[i - 1 + w]!) * i5; if (s > best) { best = s; bk = 5 }
      s = (zi - z[i + w]!) * i6; if (s > best) { best = s; bk = 6 }
      s = (zi - z[i + 1 + w]!) * i7; if (s > best) { bk = 7 }
      dir[i] = bk
    }
    if (i < rowEnd) { edge(i, r, i - r * w); i++ }
  }
  return dir
}

/**
 * Cells draining through each cell, itself included (D8; cells without data count 0). Each
 * cell's donors are counted first; then, in grid order, from every cell that nothing drains
 * into, its count is passed downstream for as long as the cell below has received from all
 * its donors (a topological order found by walking down the flow paths, as the
 * Braun & Willett 2013 stack is): every cell is passed on once, to a neighbour in memory.
 */
export function flowAccumulation(dir: Int8Array, z: Float32Array, g: Grid, out?: Uint32Array): Uint32Array {
  const { width: w } = g
  const n = dir.length
  // d8Directions points only at cells inside the grid: the downstream cell is i + offset
  const off = DR.map((dr, k) => dr * w + DC[k]!)
  const acc = out ?? new Uint32Array(n)
  const donors = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const v = z[i]!
    acc[i] = v === v ? 1 : 0
    const k = dir[i]!
    if (k >= 0) donors[i + off[k]!]++
  }
  // 255: passed on already (a cell has at most 8 donors)
  for (let i = 0; i < n; i++) {
    if (donors[i] !== 0) continue
    let j = i
    for (;;) {
      donors[j] = 255
      const k = dir[j]!
      if (k < 0) break
      const t = j + off[k]!
      acc[t] += acc[j]!
      if (--donors[t] !== 0) break
      j = t
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
    // acc^(m+1) − (acc − 1)^(m+1) = acc^(m+1)·(1 − (1 − 1/acc)^(m+1)), without cancellation;
    // 1 for a cell that nothing drains into
    let L = acc > 1
      ? Math.exp(m * (k0 - Math.log(x)) + (m + 1) * lnOf(acc)) * -Math.expm1((m + 1) * Math.log1p(-1 / acc))
      : Math.exp(m * (k0 - Math.log(x)))
    if (L > lMax) L = lMax
    const S = tan < 0.09 ? 10.8 * sin + 0.03 : 16.8 * sin - 0.5
    return L * S
  }
}

/** Slope, aspect factor and flow accumulation of a DEM: what LS needs per cell. */
export function terrain(dem: Float32Array, g: Grid, o: LsOptions = {}): { tan: Float32Array; xAspect: Float32Array; acc: Uint32Array } {
  const { z, dir } = drainage(dem, g, o)
  const { tan, xAspect } = hornGradient(dem, g)
  const acc = flowAccumulation(dir, z, g)
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
