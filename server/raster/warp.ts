// A raster resampled onto another grid on read (a model grid: GEP), window by window:
// each target pixel centre is carried to the source grid (exactly at a lattice every 16
// pixels of the target grid, bilinearly between: GDAL's approximate transformer does the
// same), then sampled
// by the stated method. Without data outside the source and where the source has none.
import proj4 from 'proj4'
import type { GeoTransform } from './geotiff-file.ts'

export const RESAMPLING = ['nearest', 'bilinear', 'average'] as const
export type Resampling = (typeof RESAMPLING)[number]

export interface GridDef {
  crsProj4: string
  transform: GeoTransform
  width: number
  height: number
}

export interface WindowReader {
  width: number
  height: number
  nodata: number | null
  read(x0: number, y0: number, x1: number, y1: number, signal?: AbortSignal): Promise<ArrayLike<number>>
}

const LATTICE = 16

/** Target (column, row) → source (column, row), both in pixel units (centre of pixel i at i + 0.5). */
export function gridMapping(to: GridDef, from: { crsProj4: string; transform: GeoTransform }): (c: number, r: number, out: Float64Array) => void {
  const t = to.transform
  const s = from.transform
  const det = s[1] * s[5] - s[2] * s[4]
  const ia = s[5] / det, ib = -s[2] / det, ic = -s[4] / det, id = s[1] / det
  const same = to.crsProj4 === from.crsProj4
  const tr = same ? undefined : proj4(to.crsProj4, from.crsProj4)
  return (c, r, out) => {
    let x = t[0] + c * t[1] + r * t[2]
    let y = t[3] + c * t[4] + r * t[5]
    if (tr) [x, y] = tr.forward([x, y]) as [number, number]
    const dx = x - s[0]
    const dy = y - s[3]
    out[0] = ia * dx + ib * dy
    out[1] = ic * dx + id * dy
  }
}

/**
 * Source pixel coordinates of target points (x0 + i + fx, y0 + j + fy) of a window, from an
 * exact lattice every 16 pixels of the whole target grid (W × H) interpolated bilinearly.
 * The lattice is the grid's, not the window's: a pixel gets the same source coordinates to
 * the last bit whichever window reads it (scan threads, worker tasks).
 */
function windowMap(map: ReturnType<typeof gridMapping>, x0: number, y0: number, w: number, h: number, sub: number, W: number, H: number) {
  // lattice nodes of the grid: columns 0, 16, 32 … W, rows likewise; this window's are i0…i1, j0…j1
  const nX = Math.ceil(W / LATTICE) + 1
  const nY = Math.ceil(H / LATTICE) + 1
  const cellOf = (u: number, n: number) => Math.max(0, Math.min(n - 2, Math.floor(u / LATTICE)))
  const i0 = cellOf(x0, nX), i1 = cellOf(x0 + w, nX) + 1
  const j0 = cellOf(y0, nY), j1 = cellOf(y0 + h, nY) + 1
  const nx = i1 - i0 + 1
  const ny = j1 - j0 + 1
  const lx = new Float64Array(nx * ny)
  const ly = new Float64Array(nx * ny)
  const p = new Float64Array(2)
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      map(Math.min(W, (i0 + i) * LATTICE), Math.min(H, (j0 + j) * LATTICE), p)
      lx[j * nx + i] = p[0]!
      ly[j * nx + i] = p[1]!
    }
  }
  // source coordinates of the sub×sub sample points of every target pixel; a sample's
  // lattice cell and fraction depend on its column alone and its row alone, so they are
  // found once per column and once per row (the same expressions, the same bits)
  /** per sample along one axis (origin o, n pixels, grid size N, nodes, first node): its lattice cell from the first, and its fraction across the cell */
  const along = (o: number, n: number, N: number, nodes: number, first: number) => {
    const cell = new Int32Array(n * sub), frac = new Float64Array(n * sub)
    for (let c = 0; c < n; c++) {
      for (let a = 0; a < sub; a++) {
        const u = o + c + (a + 0.5) / sub
        const i = cellOf(u, nodes)
        const u0 = i * LATTICE
        const du = Math.min(N, (i + 1) * LATTICE) - u0
        cell[c * sub + a] = i - first
        frac[c * sub + a] = du > 0 ? (u - u0) / du : 0
      }
    }
    return { cell, frac }
  }
  const { cell: ci, frac: cf } = along(x0, w, W, nX, i0)
  const { cell: rj, frac: rf } = along(y0, h, H, nY, j0)
  const n = w * h * sub * sub
  const sx = new Float64Array(n)
  const sy = new Float64Array(n)
  let k = 0
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      for (let b = 0; b < sub; b++) {
        const fv = rf[r * sub + b]!
        const row = rj[r * sub + b]! * nx
        for (let a = 0; a < sub; a++) {
          const fu = cf[c * sub + a]!
          const q = row + ci[c * sub + a]!
          sx[k] = (1 - fv) * ((1 - fu) * lx[q]! + fu * lx[q + 1]!) + fv * ((1 - fu) * lx[q + nx]! + fu * lx[q + nx + 1]!)
          sy[k] = (1 - fv) * ((1 - fu) * ly[q]! + fu * ly[q + 1]!) + fv * ((1 - fu) * ly[q + nx]! + fu * ly[q + nx + 1]!)
          k++
        }
      }
    }
  }
  return { sx, sy }
}

/**
 * `source` read on the grid `to`. Nearest takes the source pixel under the target centre;
 * bilinear weighs the four source pixels around it (weights of pixels without data left out
 * and the rest renormalised); average is the mean of sub×sub points spread over the target
 * pixel (sub = the ratio of pixel sizes, rounded up: area-weighted to that resolution).
 * Returns Float32Array windows with NaN where there is no data.
 */
export function warped(source: WindowReader, from: { crsProj4: string; transform: GeoTransform }, to: GridDef, method: Resampling): WindowReader {
  const map = gridMapping(to, from)
  let sub = 1
  if (method === 'average') {
    const a = new Float64Array(2), b = new Float64Array(2), c = new Float64Array(2)
    const mc = to.width / 2, mr = to.height / 2
    map(mc, mr, a); map(mc + 1, mr, b); map(mc, mr + 1, c)
    const scale = Math.max(Math.hypot(b[0]! - a[0]!, b[1]! - a[1]!), Math.hypot(c[0]! - a[0]!, c[1]! - a[1]!))
    sub = Math.max(1, Math.min(16, Math.ceil(scale - 1e-9)))
  }
  const nd = source.nodata
  return {
    width: to.width,
    height: to.height,
    nodata: null,
    async read(x0, y0, x1, y1, signal) {
      const w = x1 - x0, h = y1 - y0
      const out = new Float32Array(w * h).fill(NaN)
      if (w <= 0 || h <= 0) return out
      const { sx, sy } = windowMap(map, x0, y0, w, h, sub, to.width, to.height)
      let cx0 = Infinity, cy0 = Infinity, cx1 = -Infinity, cy1 = -Infinity
      for (let k = 0; k < sx.length; k++) {
        const x = sx[k]!, y = sy[k]!
        if (x < cx0) cx0 = x; if (x > cx1) cx1 = x
        if (y < cy0) cy0 = y; if (y > cy1) cy1 = y
      }
      const rx0 = Math.max(0, Math.floor(cx0) - 1), ry0 = Math.max(0, Math.floor(cy0) - 1)
      const rx1 = Math.min(source.width, Math.ceil(cx1) + 1), ry1 = Math.min(source.height, Math.ceil(cy1) + 1)
      if (!(rx0 < rx1 && ry0 < ry1)) return out
      const v = await source.read(rx0, ry0, rx1, ry1, signal)
      const sw = rx1 - rx0
      /** the source value at (c, r), NaN outside the window read or without data */
      const get = (c: number, r: number) => {
        if (c < rx0 || c >= rx1 || r < ry0 || r >= ry1) return NaN
        const x = v[(r - ry0) * sw + (c - rx0)]!
        return x === nd ? NaN : x
      }
      const n2 = sub * sub
      if (method === 'nearest') {
        for (let p = 0; p < w * h; p++) out[p] = get(Math.floor(sx[p]!), Math.floor(sy[p]!))
        return out
      }
      if (method === 'bilinear') {
        for (let p = 0; p < w * h; p++) {
          const u = sx[p]! - 0.5, t = sy[p]! - 0.5
          const i = Math.floor(u), j = Math.floor(t)
          const fu = u - i, fv = t - j
          // the four pixels around, in this order, each weighed where it has data
          let s = 0, wsum = 0
          let x = get(i, j), wt = (1 - fu) * (1 - fv)
          if (x === x && wt > 0) { s += wt * x; wsum += wt }
          x = get(i + 1, j); wt = fu * (1 - fv)
          if (x === x && wt > 0) { s += wt * x; wsum += wt }
          x = get(i, j + 1); wt = (1 - fu) * fv
          if (x === x && wt > 0) { s += wt * x; wsum += wt }
          x = get(i + 1, j + 1); wt = fu * fv
          if (x === x && wt > 0) { s += wt * x; wsum += wt }
          // a centre outside the source's pixel centres but inside the source: nearest
          out[p] = wsum === 0 ? get(Math.floor(sx[p]!), Math.floor(sy[p]!)) : s / wsum
        }
        return out
      }
      for (let p = 0, k = 0; p < w * h; p++) {
        let s = 0, m = 0
        for (let q = 0; q < n2; q++, k++) {
          const x = get(Math.floor(sx[k]!), Math.floor(sy[k]!))
          if (x === x) { s += x; m++ }
        }
        out[p] = m ? s / m : NaN
      }
      return out
    },
  }
}

/** Whether two grids are the same to 1e-9 of a pixel: no resampling needed. */
export function sameGrid(a: GridDef, b: GridDef): boolean {
  return a.width === b.width && a.height === b.height && a.crsProj4 === b.crsProj4 &&
    a.transform.every((v, i) => Math.abs(v - b.transform[i]!) <= 1e-9 * Math.max(1, Math.abs(a.transform[1]), Math.abs(v)))
}
