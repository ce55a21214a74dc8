// The per-pixel part of GEP: one pass over the model grid adds up, per unit and land-cover
// class, every pixel's covered area (exact fraction × ellipsoidal pixel area) and that area
// times each input field: precipitation, evapotranspiration, NPP, R·K·LS (and R·K·LS·C with a
// C raster), and the Fu water yield. Everything GEP needs from pixels is linear in these
// class sums (per-class coefficients apply after the scan), so one pass serves every item.
// Run by the zonal scan in whichever thread scans (raster/zonal-job.ts, mode 'module').
import type { UnitWindow } from '../raster/zonal-scan.ts'

/** the fields summed, in this order; each has its sum and its no-data area */
/** wb_p, wb_et: precipitation and ET where both have data (the water balance); et: ET alone
 *  (climate regulation) */
export const FIELDS = ['wb_p', 'wb_et', 'et', 'npp', 'rkls', 'rklsc', 'fu'] as const
export type Field = (typeof FIELDS)[number]

export interface KernelSpec {
  /** index of each input among the scan's sources (0 is the class raster); -1 when absent */
  inputs: { precip: number; et: number; npp: number; r: number; k: number; ls: number; c: number; et0: number; awc: number }
  /** which fields to add up */
  fields: Record<Field, boolean>
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

export function accumulator(spec: KernelSpec, units: number): { sums: KernelSums[]; take: (w: UnitWindow) => void } {
  const nClass = spec.classes.length
  const rows = nClass + 2
  const width = rowWidth()
  const sums: KernelSums[] = Array.from({ length: units }, () => ({ rows, width, data: new Float64Array(rows * width) }))
  const dense = new Int32Array(65536).fill(nClass)
  const sparse = new Map<number, number>()
  spec.classes.forEach((v, i) => (Number.isInteger(v) && v >= 0 && v < 65536 ? (dense[v] = i) : sparse.set(v, i)))
  const classIndex = (v: number) => (v !== v || v === spec.classNodata ? nClass + 1 : Number.isInteger(v) && v >= 0 && v < 65536 ? dense[v]! : sparse.get(v) ?? nClass)
  const I = spec.inputs
  const F = spec.fields
  const mm = spec.mm
  let area = new Float64Array(0)
  const val = (a: ArrayLike<number> | undefined, k: number) => (a ? a[k]! : NaN)
  return {
    sums,
    take: (x: UnitWindow) => {
      const d = sums[x.unit]!.data
      const cls = x.values[0]!
      const P = I.precip >= 0 ? x.values[I.precip] : undefined
      const ET = I.et >= 0 ? x.values[I.et] : undefined
      const NPP = I.npp >= 0 ? x.values[I.npp] : undefined
      const R = I.r >= 0 ? x.values[I.r] : undefined
      const K = I.k >= 0 ? x.values[I.k] : undefined
      const LS = I.ls >= 0 ? x.values[I.ls] : undefined
      const C = I.c >= 0 ? x.values[I.c] : undefined
      const ET0 = I.et0 >= 0 ? x.values[I.et0] : undefined
      const AWC = I.awc >= 0 ? x.values[I.awc] : undefined
      if (area.length < x.w) area = new Float64Array(x.w)
      for (let r = 0; r < x.h; r++) {
        const constant = x.areas.rowConstant(x.row + r)
        if (constant === undefined) x.areas.row(x.row + r, x.col, x.col + x.w, area)
        const db = r * (x.w + 1)
        const vb = x.offset + r * x.stride
        let f = 0
        for (let c = 0; c < x.w; c++) {
          f += x.delta[db + c]!
          if (f <= 0) continue
          const wa = f * (constant ?? area[c]!)
          const k = vb + c
          const ci = classIndex(cls[k]!)
          const o = ci * width
          d[o] += wa
          // per field: o + 1 + 2·j is the sum, o + 2 + 2·j the no-data area
          const add = (j: number, v: number) => {
            if (v === v) d[o + 1 + 2 * j] += wa * v
            else d[o + 2 + 2 * j] += wa
          }
          if (F.wb_p) {
            const p = val(P, k) * mm.precip
            const e = val(ET, k) * mm.et
            const both = p === p && e === e
            add(0, both ? p : NaN)
            add(1, both ? e : NaN)
          }
          if (F.et) add(2, val(ET, k) * mm.et)
          if (F.npp) add(3, val(NPP, k))
          if (F.rkls) {
            const rkls = val(R, k) * val(K, k) * val(LS, k)
            // with a C raster, R·K·LS counts only where C has data too: both sums cover the same pixels
            if (F.rklsc) {
              const rc = rkls * val(C, k)
              add(4, rc === rc ? rkls : NaN)
              add(5, rc)
            } else add(4, rkls)
          }
          if (F.fu) {
            const p = val(P, k) * mm.precip
            const e0 = val(ET0, k) * mm.et0
            const aw = val(AWC, k) * mm.awc
            add(6, p === p && e0 === e0 && aw === aw && ci < nClass ? fuYield(p, e0, aw, spec.kc[ci]!, spec.vegetated[ci]!, spec.z) : NaN)
          }
        }
      }
    },
  }
}
