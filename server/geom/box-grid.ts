// A uniform grid of buckets over boxes, in typed arrays (counting sort), pure: the index of
// the cell engine for edges (candidate pairs), features (a box within another's) and cells
// (which cells a segment or feature meets). Buckets are sized by the median box, and made
// larger when the boxes are few for their extent so that the grid stays small.

export interface BoxGrid {
  /** per item, 4 numbers: x0, y0, x1, y1 */
  boxes: Float64Array
  minx: number
  miny: number
  maxx: number
  maxy: number
  inv: number
  nx: number
  ny: number
  /** bucket k holds list[count[k]] … list[count[k + 1] − 1] */
  count: Int32Array
  list: Int32Array
}

/**
 * Buckets `scale` × the median box's larger side, but at least large enough that there are
 * no more buckets than `density` × the number of boxes.
 */
export function boxGrid(boxes: Float64Array, scale: number, density: number): BoxGrid {
  const n = boxes.length >> 2
  let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity
  const sides: number[] = []
  for (let i = 0; i < n; i++) {
    const o = 4 * i
    if (boxes[o]! < minx) minx = boxes[o]!
    if (boxes[o + 1]! < miny) miny = boxes[o + 1]!
    if (boxes[o + 2]! > maxx) maxx = boxes[o + 2]!
    if (boxes[o + 3]! > maxy) maxy = boxes[o + 3]!
    if (i % 8 === 0) sides.push(Math.max(boxes[o + 2]! - boxes[o]!, boxes[o + 3]! - boxes[o + 1]!))
  }
  if (!n) { minx = miny = maxx = maxy = 0 }
  sides.sort((p, q) => p - q)
  const W = maxx - minx, H = maxy - miny
  const size = Math.max(scale * (sides[sides.length >> 1] ?? 0), Math.sqrt((W * H) / (density * n + 1)), 1e-9)
  const inv = 1 / size
  const nx = Math.floor(W * inv) + 1, ny = Math.floor(H * inv) + 1
  const count = new Int32Array(nx * ny + 1)
  for (let i = 0; i < n; i++) {
    const o = 4 * i
    const c0 = Math.floor((boxes[o]! - minx) * inv), c1 = Math.floor((boxes[o + 2]! - minx) * inv)
    const r0 = Math.floor((boxes[o + 1]! - miny) * inv), r1 = Math.floor((boxes[o + 3]! - miny) * inv)
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) count[r * nx + c + 1]!++
  }
  for (let k = 1; k <= nx * ny; k++) count[k]! += count[k - 1]!
  const fill = count.slice(0, nx * ny)
  const list = new Int32Array(count[nx * ny]!)
  for (let i = 0; i < n; i++) {
    const o = 4 * i
    const c0 = Math.floor((boxes[o]! - minx) * inv), c1 = Math.floor((boxes[o + 2]! - minx) * inv)
    const r0 = Math.floor((boxes[o + 1]! - miny) * inv), r1 = Math.floor((boxes[o + 3]! - miny) * inv)
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) list[fill[r * nx + c]!++] = i
  }
  return { boxes, minx, miny, maxx, maxy, inv, nx, ny, count, list }
}

/** The bucket holding point (x, y), clamped to the grid. */
export function bucketOf(g: BoxGrid, x: number, y: number): number {
  const c = Math.min(g.nx - 1, Math.max(0, Math.floor((x - g.minx) * g.inv)))
  const r = Math.min(g.ny - 1, Math.max(0, Math.floor((y - g.miny) * g.inv)))
  return r * g.nx + c
}

/** Items whose boxes meet a box, each once: written into a reused buffer. */
export class BoxQuery {
  out: Int32Array
  private readonly seen: Int32Array
  private stamp = 0

  constructor(readonly grid: BoxGrid) {
    const n = grid.boxes.length >> 2
    this.out = new Int32Array(Math.max(16, n))
    this.seen = new Int32Array(n)
  }

  /** How many items were written to `out`. */
  query(x0: number, y0: number, x1: number, y1: number): number {
    const g = this.grid
    if (x1 < g.minx || x0 > g.maxx || y1 < g.miny || y0 > g.maxy) return 0
    const c0 = Math.max(0, Math.floor((x0 - g.minx) * g.inv)), r0 = Math.max(0, Math.floor((y0 - g.miny) * g.inv))
    const c1 = Math.min(g.nx - 1, Math.floor((x1 - g.minx) * g.inv)), r1 = Math.min(g.ny - 1, Math.floor((y1 - g.miny) * g.inv))
    const stamp = ++this.stamp
    const { boxes, count, list } = g
    const out = this.out
    let m = 0
    for (let r = r0; r <= r1; r++) {
      for (let k = c0; k <= c1; k++) {
        const b = r * g.nx + k
        for (let j = count[b]!; j < count[b + 1]!; j++) {
          const i = list[j]!
          if (this.seen[i] === stamp) continue
          this.seen[i] = stamp
          const o = 4 * i
          if (boxes[o]! <= x1 && x0 <= boxes[o + 2]! && boxes[o + 1]! <= y1 && y0 <= boxes[o + 3]!) out[m++] = i
        }
      }
    }
    return m
  }
}
