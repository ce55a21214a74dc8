// Ellipsoidal area of each pixel (m²), the weight of a covered fraction:
// - equal-area projections (Albers, Lambert azimuthal, cylindrical equal-area, sinusoidal,
//   Mollweide, Equal Earth): every pixel has the area of the parallelogram |det|;
// - geographic (lon/lat) north-up rasters: a pixel is bounded by two meridians and two
//   parallels, and its area on the ellipsoid is exact and depends only on the row;
// - any other projection (transverse Mercator, UTM, Lambert conformal …): the exact
//   geodesic area of pixels on a lattice ~4 km apart (at most 128 pixels), interpolated
//   biquadratically (the area scale of these projections is smooth: within 1e-10 of each
//   pixel's exact area, test/pixel-area.test.ts).
import geographiclib from 'geographiclib-geodesic'
import proj4 from 'proj4'
import type { GeoTransform } from './geotiff-file.ts'

const EQUAL_AREA = new Set(['aea', 'laea', 'cea', 'sinu', 'moll', 'eqearth', 'igh', 'hammer', 'eck4', 'eck6'])
/** lattice spacing for projections that are not equal-area: ~4 km, at most 128 pixels (pixelAreas) */
const LATTICE_M = 4000
const LATTICE_MAX = 128
/** raster rows whose interpolated lattice columns are kept (pixelAreas) */
const ROW_CACHE = 4096

export interface PixelAreas {
  /** how: 'equal-area' | 'geographic-rows' | 'lattice' */
  method: string
  /** areas of pixels c0..c1−1 of row r into out[0..c1−c0) */
  row(r: number, c0: number, c1: number, out: Float64Array): void
  /** the area shared by every pixel of row r, when the row has one */
  rowConstant(r: number): number | undefined
  /** the area of every pixel, when they are all alike (equal-area projections) */
  constant?: number
}

interface Ellipsoid {
  a: number
  f: number
}

function ellipsoidOf(def: string): Ellipsoid {
  const p = proj4.Proj(def) as unknown as { a: number; b?: number; rf?: number; es?: number }
  const a = p.a
  const f = p.b !== undefined ? (a - p.b) / a : p.es !== undefined ? 1 - Math.sqrt(1 - p.es) : 1 / 298.257222101
  return { a, f }
}

export function pixelAreas(crsProj4: string, t: GeoTransform): PixelAreas {
  const p = proj4.Proj(crsProj4) as unknown as { projName: string }
  const det = Math.abs(t[1] * t[5] - t[2] * t[4])
  const name = p.projName
  if (EQUAL_AREA.has(name)) {
    return { method: `equal-area (${name}): |det| = ${det} m²`, row: (_r, c0, c1, out) => out.fill(det, 0, c1 - c0), rowConstant: () => det, constant: det }
  }
  const ell = ellipsoidOf(crsProj4)
  const geographic = name === 'longlat' || name === 'lonlat' || name === 'latlong' || name === 'latlon'
  if (geographic && t[2] === 0 && t[4] === 0) {
    const band = bandArea(ell)
    const dlon = Math.abs(t[1]) * (Math.PI / 180)
    const cache = new Map<number, number>()
    const rowArea = (r: number) => {
      let v = cache.get(r)
      if (v === undefined) {
        const lat0 = t[3] + r * t[5]
        const lat1 = t[3] + (r + 1) * t[5]
        v = dlon * Math.abs(band(Math.max(-90, Math.min(90, lat1))) - band(Math.max(-90, Math.min(90, lat0))))
        cache.set(r, v)
      }
      return v
    }
    return { method: 'geographic: exact ellipsoidal area of each row of pixels', row: (r, c0, c1, out) => out.fill(rowArea(r), 0, c1 - c0), rowConstant: rowArea }
  }
  return lattice(crsProj4, t, ell, geographic)
}

/** Area on the ellipsoid between the equator and latitude φ (degrees), per radian of longitude. */
export function bandArea(ell: Ellipsoid): (latDeg: number) => number {
  const e2 = ell.f * (2 - ell.f)
  const e = Math.sqrt(e2)
  const b = ell.a * (1 - ell.f)
  return (latDeg) => {
    const s = Math.sin((latDeg * Math.PI) / 180)
    if (e === 0) return ell.a * ell.a * s
    return ((b * b) / 2) * (s / (1 - e2 * s * s) + (1 / (2 * e)) * Math.log((1 + e * s) / (1 - e * s)))
  }
}

function lattice(crsProj4: string, t: GeoTransform, ell: Ellipsoid, geographic: boolean): PixelAreas {
  const geod = new geographiclib.Geodesic.Geodesic(ell.a, ell.f)
  const toLonLat = geographic ? undefined : proj4(crsProj4, `+proj=longlat +a=${ell.a} +f=${ell.f} +no_defs`)
  const pt = (c: number, r: number): [number, number] => {
    const x = t[0] + c * t[1] + r * t[2]
    const y = t[3] + c * t[4] + r * t[5]
    return toLonLat ? (toLonLat.forward([x, y]) as [number, number]) : [x, y]
  }
  /** exact geodesic area of the pixel whose top-left corner is (c, r) */
  const exact = (c: number, r: number) => {
    const poly = geod.Polygon(false)
    for (const [dc, dr] of [[0, 0], [1, 0], [1, 1], [0, 1]] as const) {
      const [lon, lat] = pt(c + dc, r + dr)
      poly.AddPoint(lat, lon)
    }
    return Math.abs(poly.Compute(false, true).area!)
  }
  // lattice points every L pixels, about LATTICE_M apart on the ground; each the mean pixel
  // area of the K × K pixels around it (its boundary through every pixel corner), K·size ≤
  // ~300 m: a single 30 m pixel's geodesic area carries ~1e-6 m² of rounding (1e-9 of it),
  // a block's the same in m², K² times less per pixel
  const size = Math.sqrt(exact(0, 0))
  const L = Math.max(1, Math.min(LATTICE_MAX, Math.floor(LATTICE_M / size)))
  const K = Math.max(1, Math.min(9, 2 * Math.floor(150 / size) + 1))
  const h = (K - 1) / 2
  const mean = (c: number, r: number) => {
    const poly = geod.Polygon(false)
    const add = (x: number, y: number) => { const [lon, lat] = pt(x, y); poly.AddPoint(lat, lon) }
    for (let i = 0; i < K; i++) add(c - h + i, r - h)
    for (let i = 0; i < K; i++) add(c - h + K, r - h + i)
    for (let i = K; i > 0; i--) add(c - h + i, r - h + K)
    for (let i = K; i > 0; i--) add(c - h, r - h + i)
    return Math.abs(poly.Compute(false, true).area!) / (K * K)
  }
  const rows = new Map<number, Map<number, number>>()
  const at = (lc: number, lr: number) => {
    let row = rows.get(lr)
    if (!row) rows.set(lr, (row = new Map()))
    let v = row.get(lc)
    if (v === undefined) row.set(lc, (v = mean(lc * L, lr * L)))
    return v
  }
  // per raster row, its lattice columns interpolated between lattice rows (NaN: not yet): a
  // scan band's units revisit the same rows, each for a short window
  const rowCols = new Map<number, Float64Array>()
  const colsOf = (r: number, end: number): Float64Array => {
    let a = rowCols.get(r)
    if (!a || a.length < end) {
      const b = new Float64Array(Math.max(end, 2 * (a?.length ?? 0), 16)).fill(NaN)
      if (a) b.set(a)
      if (!a && rowCols.size >= ROW_CACHE) rowCols.clear()
      rowCols.set(r, (a = b))
    }
    return a
  }
  return {
    method: `lattice: exact geodesic mean pixel areas of ${K}×${K} blocks every ${L} pixels, biquadratic between`,
    rowConstant: () => undefined,
    row(r, c0, c1, out) {
      // quadratic through lattice rows lr, lr + 1, lr + 2 at wr ∈ [0, 1)
      const lr = Math.floor(r / L)
      const wr = r / L - lr
      const a0 = ((wr - 1) * (wr - 2)) / 2, a1 = -wr * (wr - 2), a2 = (wr * (wr - 1)) / 2
      const lc0 = Math.floor(c0 / L)
      const end = Math.floor((c1 - 1) / L) + 3
      const col = colsOf(r, end)
      for (let k = lc0; k < end; k++) if (col[k] !== col[k]) col[k] = a0 * at(k, lr) + a1 * at(k, lr + 1) + a2 * at(k, lr + 2)
      // along the row, per lattice interval: the quadratic q0 + b·t + c2·t² in t = c − k·L,
      // each pixel from its own t (the same area whatever window asks for it)
      for (let c = c0; c < c1; ) {
        const k = Math.floor(c / L)
        const stop = Math.min(c1, (k + 1) * L)
        const q0 = col[k]!, q1 = col[k + 1]!, q2 = col[k + 2]!
        const b = (-3 * q0 + 4 * q1 - q2) / (2 * L), c2 = (q0 - 2 * q1 + q2) / (2 * L * L)
        for (let t = c - k * L; c < stop; c++, t++) out[c - c0] = q0 + t * (b + c2 * t)
      }
    },
  }
}
