// What a zonal scan adds up per unit, pixel by pixel, weighted by covered fraction f and
// pixel area a (m²): class areas (categorical), moments, extremes and a histogram
// (continuous), class-pair areas (transitions between two categorical rasters).
import type { UnitWindow } from './zonal-scan.ts'

export interface CategoricalSums {
  /** class value → [area m², covered pixels Σf] */
  classes: Map<number, [number, number]>
  nodataM2: number
  nodataPixels: number
}

/**
 * A running coverage sum this close to 1 is a pixel covered whole: the differences of a row
 * add up to 1 only to rounding (~1e-16), and a fraction 1 − 1e-12 weighs the same as 1 in
 * any area anyone reads.
 */
const FULL = 1 - 1e-12

/** Area per class; values equal to nodata (or NaN) go to the nodata area. */
export function categorical(units: number, nodata: number | null): { sums: CategoricalSums[]; take: (w: UnitWindow) => void } {
  const sums: CategoricalSums[] = Array.from({ length: units }, () => ({ classes: new Map(), nodataM2: 0, nodataPixels: 0 }))
  const nd = nodata ?? NaN
  // dense bins for small non-negative integer classes (8/16-bit), flushed per window
  const DENSE = 65536
  const area = new Float64Array(DENSE)
  const frac = new Float64Array(DENSE)
  const touched = new Int32Array(DENSE)
  const bins8 = new Float64Array(4 * 256)
  let rowArea = new Float64Array(0)
  const take = (x: UnitWindow) => {
    const v = x.values[0]!
    const s = sums[x.unit]!
    let nt = 0
    const same = x.areas.constant
    if (same !== undefined && v instanceof Uint8Array) {
      // 8-bit classes on an equal-area grid, the commonest land-cover raster: 256 bins in
      // four interleaved copies, so that counting a run of equal values is not one long
      // chain of dependent additions; where a row is covered whole until its next edge (no
      // coverage difference), pixels are counted, elsewhere their fractions are added. All
      // 4 × 256 bins are read back per window (nodata's bin goes to the nodata sums).
      const d = x.delta
      const w = x.w
      for (let r = 0; r < x.h; r++) {
        const cb = r * (w + 1)
        const vb = x.offset + r * x.stride
        let run = 0
        let c = 0
        while (c < w) {
          run += d[cb + c]!
          if (run <= 0) {
            c++
            continue
          }
          if (run < FULL) {
            bins8[v[vb + c]!] += run
            c++
            continue
          }
          let e = c + 1
          while (e < w && d[cb + e] === 0) e++
          let i = vb + c
          const end = vb + e
          for (; i + 4 <= end; i += 4) {
            bins8[v[i]!] += 1
            bins8[256 + v[i + 1]!] += 1
            bins8[512 + v[i + 2]!] += 1
            bins8[768 + v[i + 3]!] += 1
          }
          for (; i < end; i++) bins8[v[i]!] += 1
          c = e
        }
      }
      const ndi = nodata === null || !Number.isInteger(nodata) ? -1 : nodata
      for (let k = 0; k < 256; k++) {
        const f = bins8[k]! + bins8[256 + k]! + bins8[512 + k]! + bins8[768 + k]!
        if (f === 0) continue
        bins8[k] = bins8[256 + k] = bins8[512 + k] = bins8[768 + k] = 0
        if (k === ndi) s.nodataPixels += f
        else {
          const e = s.classes.get(k)
          if (e) { e[0] += f * same; e[1] += f } else s.classes.set(k, [f * same, f])
        }
      }
      s.nodataM2 = s.nodataPixels * same
    } else if (same !== undefined && v instanceof Uint16Array) {
      // 16-bit classes on an equal-area grid. Values index the bins
      // directly (nodata too: its bin is moved to the nodata sums at the end), and where a
      // row is covered whole until the next edge (no coverage difference) runs of equal
      // values are counted in a register instead of adding to a bin pixel by pixel.
      const d = x.delta
      const w = x.w
      const ndi = nodata === null || !Number.isInteger(nodata) || nodata < 0 || nodata >= DENSE ? -1 : nodata
      for (let r = 0; r < x.h; r++) {
        const cb = r * (w + 1)
        const vb = x.offset + r * x.stride
        let run = 0
        let c = 0
        while (c < w) {
          run += d[cb + c]!
          if (run <= 0) {
            c++
            continue
          }
          if (run < FULL) {
            const val = v[vb + c]!
            if (frac[val] === 0) touched[nt++] = val
            frac[val] += run
            c++
            continue
          }
          let cur = v[vb + c]!
          let n = 1
          c++
          while (c < w && d[cb + c] === 0) {
            const val = v[vb + c]!
            if (val === cur) n++
            else {
              if (frac[cur] === 0) touched[nt++] = cur
              frac[cur] += n
              cur = val
              n = 1
            }
            c++
          }
          if (frac[cur] === 0) touched[nt++] = cur
          frac[cur] += n
        }
      }
      if (ndi >= 0 && frac[ndi] !== 0) {
        s.nodataPixels += frac[ndi]!
        frac[ndi] = 0
      }
      s.nodataM2 = s.nodataPixels * same
      for (let i = 0; i < nt; i++) area[touched[i]!] = frac[touched[i]!]! * same
    } else if (same !== undefined) {
      // every pixel has the same area: add fractions only, areas at the end (the hot loop)
      const d = x.delta
      for (let r = 0; r < x.h; r++) {
        const cb = r * (x.w + 1)
        const vb = x.offset + r * x.stride
        let run = 0
        for (let c = 0; c < x.w; c++) {
          run += d[cb + c]!
          if (run <= 0) continue
          const f = run < 1 ? run : 1
          const val = v[vb + c]!
          if (val === nd || val !== val) {
            s.nodataPixels += f
          } else if (val >= 0 && val < DENSE && (val | 0) === val) {
            if (frac[val] === 0) touched[nt++] = val
            frac[val] += f
          } else {
            const e = s.classes.get(val)
            if (e) { e[0] += f * same; e[1] += f } else s.classes.set(val, [f * same, f])
          }
        }
      }
      s.nodataM2 = s.nodataPixels * same
      for (let i = 0; i < nt; i++) area[touched[i]!] = frac[touched[i]!]! * same
    } else if (v instanceof Uint8Array) {
      // 8-bit classes whose pixels differ in area (a Gauss-Krüger or UTM land-cover grid): as
      // the equal-area 8-bit path, each pixel's area added to its class beside its fraction,
      // in two interleaved copies of the bins; a pixel covered whole until the next edge
      // counts 1 (as there), one covered in part its fraction
      if (rowArea.length < x.w) rowArea = new Float64Array(x.w)
      const d = x.delta
      const w = x.w
      for (let r = 0; r < x.h; r++) {
        const constant = x.areas.rowConstant(x.row + r)
        if (constant === undefined) x.areas.row(x.row + r, x.col, x.col + w, rowArea)
        else rowArea.fill(constant, 0, w)
        const cb = r * (w + 1)
        const vb = x.offset + r * x.stride
        let run = 0
        let c = 0
        while (c < w) {
          run += d[cb + c]!
          if (run <= 0) {
            c++
            continue
          }
          if (run < FULL) {
            const k = v[vb + c]!
            bins8[k] += run
            bins8[512 + k] += run * rowArea[c]!
            c++
            continue
          }
          let e = c + 1
          while (e < w && d[cb + e] === 0) e++
          for (; c + 2 <= e; c += 2) {
            const k0 = v[vb + c]!, k1 = v[vb + c + 1]!
            bins8[k0] += 1
            bins8[512 + k0] += rowArea[c]!
            bins8[256 + k1] += 1
            bins8[768 + k1] += rowArea[c + 1]!
          }
          if (c < e) {
            const k = v[vb + c]!
            bins8[k] += 1
            bins8[512 + k] += rowArea[c]!
            c++
          }
        }
      }
      const ndi = nodata === null || !Number.isInteger(nodata) ? -1 : nodata
      for (let k = 0; k < 256; k++) {
        const f = bins8[k]! + bins8[256 + k]!
        if (f === 0) continue
        const a = bins8[512 + k]! + bins8[768 + k]!
        bins8[k] = bins8[256 + k] = bins8[512 + k] = bins8[768 + k] = 0
        if (k === ndi) {
          s.nodataPixels += f
          s.nodataM2 += a
        } else {
          const e = s.classes.get(k)
          if (e) { e[0] += a; e[1] += f } else s.classes.set(k, [a, f])
        }
      }
    } else {
      if (rowArea.length < x.w) rowArea = new Float64Array(x.w)
      for (let r = 0; r < x.h; r++) {
        const constant = x.areas.rowConstant(x.row + r)
        if (constant === undefined) x.areas.row(x.row + r, x.col, x.col + x.w, rowArea)
        const cb = r * (x.w + 1)
        const vb = x.offset + r * x.stride
        let run = 0
        for (let c = 0; c < x.w; c++) {
          run += x.delta[cb + c]!
          if (run <= 0) continue
          const f = run < 1 ? run : 1
          const val = v[vb + c]!
          const a = f * (constant ?? rowArea[c]!)
          if (val === nd || val !== val) {
            s.nodataM2 += a
            s.nodataPixels += f
          } else if (val >= 0 && val < DENSE && (val | 0) === val) {
            if (frac[val] === 0) touched[nt++] = val
            area[val] += a
            frac[val] += f
          } else {
            const e = s.classes.get(val)
            if (e) { e[0] += a; e[1] += f } else s.classes.set(val, [a, f])
          }
        }
      }
    }
    for (let i = 0; i < nt; i++) {
      const k = touched[i]!
      if (frac[k] === 0) continue // the nodata bin, moved to the nodata sums
      const e = s.classes.get(k)
      if (e) { e[0] += area[k]!; e[1] += frac[k]! } else s.classes.set(k, [area[k]!, frac[k]!])
      area[k] = 0
      frac[k] = 0
    }
  }
  return { sums, take }
}

export interface ContinuousSums {
  /** Σf: covered pixels (the CSV's count) */
  count: number
  /** Σf·v */
  sum: number
  /** Σf·a, Σf·a·(v−ref), Σf·a·(v−ref)² for the area-weighted mean and standard deviation */
  wa: number
  wv: number
  wv2: number
  ref: number
  min: number
  max: number
  nodataM2: number
  /** area m² per histogram bin */
  hist: Float64Array
}

export interface HistogramSpec {
  lower: number
  upper: number
  bins: number
}

/**
 * Extremes count pixels covered by more than this fraction: unit vertices converted to
 * pixel coordinates carry ~1e-11 pixel of rounding, which must not make a neighbouring
 * pixel's value the minimum. (Sums are unaffected: such slivers weigh nothing.)
 */
export const MINMAX_COVERAGE = 1e-9

/** Moments, extremes and histogram of one band's valid values. */
export function continuous(units: number, nodata: number | null, h: HistogramSpec): { sums: ContinuousSums[]; take: (w: UnitWindow) => void } {
  const sums: ContinuousSums[] = Array.from({ length: units }, () => ({
    count: 0, sum: 0, wa: 0, wv: 0, wv2: 0, ref: NaN, min: Infinity, max: -Infinity, nodataM2: 0, hist: new Float64Array(h.bins),
  }))
  const nd = nodata ?? NaN
  const scale = h.bins / (h.upper - h.lower)
  let rowArea = new Float64Array(0)
  const take = (x: UnitWindow) => {
    const v = x.values[0]!
    const s = sums[x.unit]!
    if (rowArea.length < x.w) rowArea = new Float64Array(x.w)
    let { count, sum, wa, wv, wv2, ref, min, max, nodataM2 } = s
    const hist = s.hist
    for (let r = 0; r < x.h; r++) {
      const constant = x.areas.rowConstant(x.row + r)
      if (constant === undefined) x.areas.row(x.row + r, x.col, x.col + x.w, rowArea)
      const cb = r * (x.w + 1)
      const vb = x.offset + r * x.stride
      let run = 0
      for (let c = 0; c < x.w; c++) {
        run += x.delta[cb + c]!
        if (run <= 0) continue
        const f = run < 1 ? run : 1
        const val = v[vb + c]!
        const a = f * (constant ?? rowArea[c]!)
        if (val === nd || val !== val) {
          nodataM2 += a
          continue
        }
        if (ref !== ref) ref = val
        const d = val - ref
        count += f
        sum += f * val
        wa += a
        wv += a * d
        wv2 += a * d * d
        if (f > MINMAX_COVERAGE) {
          if (val < min) min = val
          if (val > max) max = val
        }
        let b = Math.floor((val - h.lower) * scale)
        if (b < 0) b = 0
        else if (b >= h.bins) b = h.bins - 1
        hist[b] += a
      }
    }
    Object.assign(s, { count, sum, wa, wv, wv2, ref, min, max, nodataM2 })
  }
  return { sums, take }
}

/** The statistics of a unit's sums, as stored and exported. */
export function continuousStats(s: ContinuousSums) {
  const valid = s.wa > 0
  const m = valid ? s.wv / s.wa : NaN
  return {
    count: s.count,
    sum: s.sum,
    mean: valid ? s.ref + m : null,
    min: valid && Number.isFinite(s.min) ? s.min : null,
    max: valid && Number.isFinite(s.max) ? s.max : null,
    stddev: valid ? Math.sqrt(Math.max(0, s.wv2 / s.wa - m * m)) : null,
    area_m2: s.wa,
    nodata_m2: s.nodataM2,
    histogram: Array.from(s.hist),
  }
}

/** Area per (from class, to class) of two categorical rasters on one grid; pixels nodata in either go to nodata. */
export function transitions(units: number, nodataFrom: number | null, nodataTo: number | null): { sums: { pairs: Map<number, [number, number]>; nodataM2: number }[]; take: (w: UnitWindow) => void } {
  const sums = Array.from({ length: units }, () => ({ pairs: new Map<number, [number, number]>(), nodataM2: 0 }))
  const na = nodataFrom ?? NaN
  const nb = nodataTo ?? NaN
  let rowArea = new Float64Array(0)
  const take = (x: UnitWindow) => {
    const va = x.values[0]!
    const vb = x.values[1]!
    const s = sums[x.unit]!
    if (rowArea.length < x.w) rowArea = new Float64Array(x.w)
    for (let r = 0; r < x.h; r++) {
      const constant = x.areas.rowConstant(x.row + r)
      if (constant === undefined) x.areas.row(x.row + r, x.col, x.col + x.w, rowArea)
      const cb = r * (x.w + 1)
      const ob = x.offset + r * x.stride
      let run = 0
      for (let c = 0; c < x.w; c++) {
        run += x.delta[cb + c]!
        if (run <= 0) continue
        const f = run < 1 ? run : 1
        const a = f * (constant ?? rowArea[c]!)
        const p = va[ob + c]!
        const q = vb[ob + c]!
        if (p === na || q === nb || p !== p || q !== q) {
          s.nodataM2 += a
          continue
        }
        const k = pairKey(p, q)
        const e = s.pairs.get(k)
        if (e) { e[0] += a; e[1] += f } else s.pairs.set(k, [a, f])
      }
    }
  }
  return { sums, take }
}

// Class pairs as one number: classes are integers (categorical rasters have integer samples).
const HALF = 2 ** 25
const SPAN = 2 ** 26

export function pairKey(from: number, to: number): number {
  if (!(Math.abs(from) < HALF && Math.abs(to) < HALF)) throw new RangeError(`class values ${from}, ${to} are beyond ±${HALF}`)
  return (from + HALF) * SPAN + (to + HALF)
}

export function pairOf(key: number): [number, number] {
  return [Math.floor(key / SPAN) - HALF, (key % SPAN) - HALF]
}
