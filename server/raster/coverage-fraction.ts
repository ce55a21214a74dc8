// The exact fraction of each pixel that a polygon covers (the exactextract idea: clip
// the polygon against the pixel grid, no centroid sampling), computed without building
// any clipped polygon. In pixel coordinates (x = column, y = row, both growing from the
// raster's top-left corner) every pixel is a unit square, and by Green's theorem the
// area of the polygon inside row r right of an edge piece is ∫(c+1−x)dy inside the
// piece's own pixel and ∫dy in every pixel further right. Each edge is cut at row and
// column lines; a piece adds its area to its pixel and the rest of its dy to the next
// one, and a running sum along each row turns those differences into areas. Cost:
// the number of edge pieces plus the number of pixels in the window.

/** One ring in pixel coordinates, closed implicitly; `sign` makes exterior areas positive and holes negative. */
export interface PixelRing {
  xy: Float64Array
  sign: number
  ymin: number
  ymax: number
}

/** Rings of polygons (exterior first, then holes) → pixel rings with orientation-independent signs. */
export function pixelRings(polygons: Float64Array[][]): PixelRing[] {
  const out: PixelRing[] = []
  for (const poly of polygons) {
    poly.forEach((xy, i) => {
      const n = ringLength(xy)
      if (n < 3) return
      let a = 0
      let ymin = Infinity
      let ymax = -Infinity
      for (let k = 0; k < n; k++) {
        const j = (k + 1) % n
        a += (xy[2 * k]! + xy[2 * j]!) * (xy[2 * j + 1]! - xy[2 * k + 1]!)
        const y = xy[2 * k + 1]!
        if (y < ymin) ymin = y
        if (y > ymax) ymax = y
      }
      if (a === 0) return
      // a = 2∮x dy; a piece contributes −∮x dy in total, so exteriors need −sign(a)
      const hole = i > 0
      out.push({ xy: xy.subarray(0, 2 * n), sign: (a < 0 ? 1 : -1) * (hole ? -1 : 1), ymin, ymax })
    })
  }
  return out
}

/** Vertex count without a repeated closing vertex. */
function ringLength(xy: Float64Array): number {
  let n = xy.length >> 1
  if (n > 1 && xy[0] === xy[2 * n - 2] && xy[1] === xy[2 * n - 1]) n--
  return n
}

/**
 * Writes into `out` (row-major, (r1−r0)·(c1−c0), overwritten) the area of the rings inside
 * each pixel of rows [r0, r1) and columns [c0, c1): the covered fraction, 0..1.
 * `scratch` must hold (r1−r0)·(c1−c0+1) numbers.
 */
export function coverageFractions(rings: PixelRing[], r0: number, r1: number, c0: number, c1: number, out: Float64Array, scratch: Float64Array): void {
  const w = c1 - c0
  const stride = w + 1
  const h = r1 - r0
  coverageDeltas(rings, r0, r1, c0, c1, scratch)
  for (let r = 0; r < h; r++) {
    let acc = 0
    const base = r * stride
    const ob = r * w
    for (let c = 0; c < w; c++) {
      acc += scratch[base + c]!
      out[ob + c] = acc < 0 ? 0 : acc > 1 ? 1 : acc
    }
  }
}

/**
 * The same as differences: after this, the running sum of `d` along each row (stride
 * c1−c0+1) is the covered fraction, up to rounding (clamp to 0..1). Accumulators take the
 * running sum as they go, so the window is written and read once.
 */
export function coverageDeltas(rings: PixelRing[], r0: number, r1: number, c0: number, c1: number, d: Float64Array): void {
  const w = c1 - c0
  const stride = w + 1
  const h = r1 - r0
  d.fill(0, 0, h * stride)
  for (const ring of rings) {
    if (ring.ymax <= r0 || ring.ymin >= r1) continue
    const xy = ring.xy
    const n = xy.length >> 1
    for (let k = 0; k < n; k++) {
      const j = k + 1 === n ? 0 : k + 1
      const xa = xy[2 * k]!
      const ya = xy[2 * k + 1]!
      const xb = xy[2 * j]!
      const yb = xy[2 * j + 1]!
      if (ya === yb) continue
      // walk the edge downward (increasing y); the direction goes into the sign
      let x0: number, y0: number, x1: number, y1: number, s: number
      if (ya < yb) { x0 = xa; y0 = ya; x1 = xb; y1 = yb; s = ring.sign } else { x0 = xb; y0 = yb; x1 = xa; y1 = ya; s = -ring.sign }
      if (y1 <= r0 || y0 >= r1) continue
      const dxdy = (x1 - x0) / (y1 - y0)
      const top = y0 > r0 ? y0 : r0
      const bottom = y1 < r1 ? y1 : r1
      let row = Math.floor(top)
      let ys = top
      while (ys < bottom) {
        const ye = row + 1 < bottom ? row + 1 : bottom
        const xs = x0 + (ys - y0) * dxdy
        const xe = x0 + (ye - y0) * dxdy
        piece(d, (row - r0) * stride, c0, w, xs, xe, (ye - ys) * s)
        ys = ye
        row++
      }
    }
  }
}

/** Adds one edge piece inside a row (x from xs to xe over signed height dy) to the row's differences. */
function piece(acc: Float64Array, base: number, c0: number, w: number, xs: number, xe: number, dy: number): void {
  let xl = xs < xe ? xs : xe
  const xr = xs < xe ? xe : xs
  if (xr <= c0) {
    acc[base] += dy // left of the window: the whole height covers every window pixel right of it
    return
  }
  if (xl >= c0 + w) return
  let c = Math.floor(xl)
  if (xr <= c + 1) {
    add(acc, base, c - c0, w, dy, dy * (c + 1 - (xl + xr) / 2))
    return
  }
  const per = dy / (xr - xl)
  if (xl < c0) {
    acc[base] += (c0 - xl) * per
    xl = c0
    c = c0
  }
  let cx = xl
  while (cx < xr) {
    const nx = c + 1 < xr ? c + 1 : xr
    const d = (nx - cx) * per
    add(acc, base, c - c0, w, d, d * (c + 1 - (cx + nx) / 2))
    cx = nx
    c++
    if (c - c0 >= w) return // further right than the window: nothing to add
  }
}

function add(acc: Float64Array, base: number, c: number, w: number, dy: number, area: number): void {
  if (c >= w) return
  if (c < 0) {
    acc[base] += dy // left of the window: the whole height covers every window pixel right of it
    return
  }
  acc[base + c] += area
  acc[base + c + 1] += dy - area
}
