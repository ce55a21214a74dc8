// The per-pixel part of GEP: one pass over the model grid adds up, per unit and land-cover
// class, every pixel's covered area (exact fraction × ellipsoidal pixel area) and that area
// times each input field: precipitation, evapotranspiration, NPP, R·K·LS (and R·K·LS·C with a
// C raster), and the Fu water yield. Everything GEP needs from pixels is linear in these
// class sums (per-class coefficients apply after the scan), so one pass serves every item.
// Run by the zonal scan in whichever thread scans (raster/zonal-job.ts, mode 'module').
import type { UnitWindow } from '../raster/zonal-scan.ts'
import { lsPrepared, type LsGrid } from './terrain.ts'

/** the fields summed, in this order; each has its sum and its no-data area */
/** wb_p, wb_et: precipitation and ET where both have data (the water balance); et: ET alone
 *  (climate regulation) */
export const FIELDS = ['wb_p', 'wb_et', 'et', 'npp', 'rkls', 'rklsc', 'fu'] as const
export type Field = (typeof FIELDS)[number]

export interface KernelSpec {
  /** index of each input among the scan's sources (0 is the class raster); -1 when absent.
   *  tan, xaspect, acc: the terrain of the DEM over the whole grid (gep/terrain.ts) */
  inputs: { precip: number; et: number; npp: number; r: number; k: number; tan: number; xaspect: number; acc: number; c: number; et0: number; awc: number }
  /** which fields to add up */
  fields: Record<Field, boolean>
  /** cell size and L cap of LS */
  ls: LsGrid
  /** accumulation (cells) above which a cell is a stream: no hillslope erosion there; Infinity for none */
  stream: number
  /** class raster's no-data value */
  classNodata: number | null
  /** class values the mapping knows; any other value is counted as unmapped (index = length) */
  classes: number[]
  /** per class index: Fu's crop coefficient Kc and whether it is vegetated (InVEST) */
  kc: number[]
  vegetated: boolean[]
  /** Fu's seasonality factor Z */
  z: number
  /** factor to mm of precipitation, ET and ET0 as stored */
  mm: { precip: number; et: number; et0: number; awc: number }
}

/** Per unit: a row per class index (classes, then 'unmapped', then 'no data'); per row
 *  [area, then per field: Σ area·value, no-data area]. */
export interface KernelSums {
  rows: number
  width: number
  data: Float64Array
}

export const rowWidth = () => 1 + 2 * FIELDS.length

/**
 * InVEST's annual water yield per pixel (mm): Y = (1 − AET/P)·P with the Fu curve
 * AET/P = 1 + PET/P − (1 + (PET/P)^ω)^(1/ω), PET = Kc·ET0, ω = Z·AWC/P + 1.25 capped at 5;
 * on non-vegetated land AET = min(Kc·ET0, P).
 */
export function fuYield(p: number, et0: number, awc: number, kc: number, vegetated: boolean, z: number): number {
  if (!(p > 0)) return 0
  const pet = kc * et0
  let aet: number
  if (vegetated) {
    const w = Math.min(5, (z * awc) / p + 1.25)
    const r = pet / p
    aet = Math.min(1, 1 + r - Math.pow(1 + Math.pow(r, w), 1 / w)) * p
  } else aet = Math.min(pet, p)
  return p - aet
}

const NONE = new Float32Array(0)

export function accumulator(spec: KernelSpec, units: number): { sums: KernelSums[]; take: (w: UnitWindow) => void } {
  const nClass = spec.classes.length
  const rows = nClass + 2
  const width = rowWidth()
  const sums: KernelSums[] = Array.from({ length: units }, () => ({ rows, width, data: new Float64Array(rows * width) }))
  const dense = new Int32Array(65536).fill(nClass)
  const sparse = new Map<number, number>()
  spec.classes.forEach((v, i) => (Number.isInteger(v) && v >= 0 && v < 65536 ? (dense[v] = i) : sparse.set(v, i)))
  const nd = spec.classNodata ?? NaN
  const I = spec.inputs
  const F = spec.fields
  const { precip: mmP, et: mmE, et0: mmE0, awc: mmW } = spec.mm
  const lsAt = spec.fields.rkls ? lsPrepared(spec.ls) : () => NaN
  const stream = spec.stream
  const kc = Float64Array.from(spec.kc)
  const veg = spec.vegetated
  const zf = spec.z
  let area = new Float64Array(0)
  // field offsets in a class row: 1 + 2·j is the sum, 2 + 2·j the no-data area
  const WB_P = 1, WB_E = 3, ET_ = 5, NPP_ = 7, RKLS = 9, RKLSC = 11, FU = 13
  return {
    sums,
    take: (x: UnitWindow) => {
      const d = sums[x.unit]!.data
      const v = x.values
      const cls = v[0]!
      const P = I.precip >= 0 ? v[I.precip]! : NONE
      const ET = I.et >= 0 ? v[I.et]! : NONE
      const NPP = I.npp >= 0 ? v[I.npp]! : NONE
      const R = I.r >= 0 ? v[I.r]! : NONE
      const K = I.k >= 0 ? v[I.k]! : NONE
      const TAN = I.tan >= 0 ? v[I.tan]! : NONE
      const XA = I.xaspect >= 0 ? v[I.xaspect]! : NONE
      const ACC = I.acc >= 0 ? v[I.acc]! : NONE
      const C = I.c >= 0 ? v[I.c]! : NONE
      const ET0 = I.et0 >= 0 ? v[I.et0]! : NONE
      const AWC = I.awc >= 0 ? v[I.awc]! : NONE
      const fWb = F.wb_p, fEt = F.et, fNpp = F.npp, fRkls = F.rkls, fC = F.rklsc, fFu = F.fu
      if (area.length < x.w) area = new Float64Array(x.w)
      const delta = x.delta
      for (let r = 0; r < x.h; r++) {
        const constant = x.areas.rowConstant(x.row + r)
        if (constant === undefined) x.areas.row(x.row + r, x.col, x.col + x.w, area)
        const db = r * (x.w + 1)
        const vb = x.offset + r * x.stride
        let f = 0
        for (let c = 0; c < x.w; c++) {
          f += delta[db + c]!
          if (f <= 0) continue
          // a running sum of differences reaches 1 only to rounding: a covered pixel weighs 1
          const wa = (f < 1 ? f : 1) * (constant ?? area[c]!)
          const k = vb + c
          const cv = cls[k]!
          const ci = cv === cv && cv !== nd ? (cv >= 0 && cv < 65536 && (cv | 0) === cv ? dense[cv]! : sparse.get(cv) ?? nClass) : nClass + 1
          const o = ci * width
          d[o] += wa
          if (fWb) {
            const p = P[k]! * mmP
            const e = ET[k]! * mmE
            if (p === p && e === e) { d[o + WB_P] += wa * p; d[o + WB_E] += wa * e } else { d[o + WB_P + 1] += wa; d[o + WB_E + 1] += wa }
          }
          if (fEt) {
            const e = ET[k]! * mmE
            if (e === e) d[o + ET_] += wa * e
            else d[o + ET_ + 1] += wa
          }
          if (fNpp) {
            const n = NPP[k]!
            if (n === n) d[o + NPP_] += wa * n
            else d[o + NPP_ + 1] += wa
          }
          if (fRkls) {
            const rk = R[k]! * K[k]!
            const a = ACC[k]!
            const rkls = rk !== rk ? NaN : a > stream ? 0 : rk * lsAt(TAN[k]!, XA[k]!, a)
            // with a C raster, R·K·LS counts only where C has data too: both sums cover the same pixels
            if (fC) {
              const rc = rkls * C[k]!
              if (rc === rc) { d[o + RKLS] += wa * rkls; d[o + RKLSC] += wa * rc } else { d[o + RKLS + 1] += wa; d[o + RKLSC + 1] += wa }
            } else if (rkls === rkls) d[o + RKLS] += wa * rkls
            else d[o + RKLS + 1] += wa
          }
          if (fFu) {
            const p = P[k]! * mmP
            const e0 = ET0[k]! * mmE0
            const aw = AWC[k]! * mmW
            if (p === p && e0 === e0 && aw === aw && ci < nClass) d[o + FU] += wa * fuYield(p, e0, aw, kc[ci]!, veg[ci]!, zf)
            else d[o + FU + 1] += wa
          }
        }
      }
    },
  }
}
