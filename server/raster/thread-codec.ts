// What crosses between the scan pool and its worker threads, packed into flat typed arrays.
// Structured clone copies object by object: a job's units (tens of thousands of rings, each
// its own Float64Array) and a part's sums (a Map of classes per unit) cost ~0.1–0.3 s a
// message each way at 3×10⁴ units, on the calling thread as well as the worker's. One
// Float64Array is copied (or transferred) at memory speed. Packing keeps every number as
// it is (NaN and ±Infinity included) and every Map's order, so sums unpacked are the sums
// packed, bit for bit.
import type { AccumulatorSpec, JobUnits } from './zonal-job.ts'
import type { CategoricalSums, ContinuousSums } from './zonal-accumulators.ts'

/** A job's units packed: ids, boxes, and every ring's coordinates in one array. */
export interface PackedUnits {
  ids: string[]
  boxes: Float64Array
  /** per unit: polygons; per polygon: rings; per ring: its coordinate count */
  shape: Int32Array<ArrayBuffer>
  coords: Float64Array<ArrayBuffer>
}

export function packUnits(u: JobUnits): PackedUnits {
  let nShape = 0
  let nCoords = 0
  for (const polys of u.polygons) {
    nShape += 1 + polys.length
    for (const rings of polys) {
      nShape += rings.length
      for (const r of rings) nCoords += r.length
    }
  }
  const shape = new Int32Array(nShape)
  const coords = new Float64Array(nCoords)
  let s = 0
  let c = 0
  for (const polys of u.polygons) {
    shape[s++] = polys.length
    for (const rings of polys) {
      shape[s++] = rings.length
      for (const r of rings) {
        shape[s++] = r.length
        coords.set(r, c)
        c += r.length
      }
    }
  }
  return { ids: u.ids, boxes: u.boxes, shape, coords }
}

/** The units again, their rings views into the one coordinate array. */
export function unpackUnits(p: PackedUnits): JobUnits {
  const polygons: Float64Array[][][] = new Array(p.ids.length)
  const { shape, coords } = p
  let s = 0
  let c = 0
  for (let i = 0; i < p.ids.length; i++) {
    const polys: Float64Array[][] = new Array(shape[s++]!)
    for (let j = 0; j < polys.length; j++) {
      const rings: Float64Array[] = new Array(shape[s++]!)
      for (let k = 0; k < rings.length; k++) {
        const n = shape[s++]!
        rings[k] = coords.subarray(c, c + n)
        c += n
      }
      polys[j] = rings
    }
    polygons[i] = polys
  }
  return { ids: p.ids, polygons, boxes: p.boxes }
}

/** Keyed sums (classes or class pairs) of a unit: key → [area m², covered pixels]. */
type Keyed = { map: Map<number, [number, number]>; nodataM2: number; nodataPixels: number }

/**
 * A part's sums as one Float64Array, for the accumulators of this folder; null for an
 * accumulator of a layer above (its sums cross as they are).
 */
export function packSums(spec: AccumulatorSpec, sums: unknown[]): Float64Array<ArrayBuffer> | null {
  if (spec.mode === 'categorical') return packKeyed((sums as CategoricalSums[]).map((s) => ({ map: s.classes, nodataM2: s.nodataM2, nodataPixels: s.nodataPixels })))
  if (spec.mode === 'transitions') return packKeyed((sums as { pairs: Map<number, [number, number]>; nodataM2: number }[]).map((s) => ({ map: s.pairs, nodataM2: s.nodataM2, nodataPixels: 0 })))
  if (spec.mode === 'continuous') {
    const bins = spec.histogram.bins
    const list = sums as ContinuousSums[]
    const out = new Float64Array(list.length * (CONTINUOUS_FIELDS.length + bins))
    let o = 0
    for (const s of list) {
      for (const f of CONTINUOUS_FIELDS) out[o++] = s[f]
      out.set(s.hist, o)
      o += bins
    }
    return out
  }
  return null
}

/** The sums packSums packed, for `units` units. */
export function unpackSums(spec: AccumulatorSpec, packed: Float64Array, units: number): unknown[] {
  if (spec.mode === 'categorical') return unpackKeyed(packed, units).map((k) => ({ classes: k.map, nodataM2: k.nodataM2, nodataPixels: k.nodataPixels }) satisfies CategoricalSums)
  if (spec.mode === 'transitions') return unpackKeyed(packed, units).map((k) => ({ pairs: k.map, nodataM2: k.nodataM2 }))
  if (spec.mode === 'continuous') {
    const bins = spec.histogram.bins
    const out: ContinuousSums[] = new Array(units)
    let o = 0
    for (let i = 0; i < units; i++) {
      const s = {} as Record<string, number>
      for (const f of CONTINUOUS_FIELDS) s[f] = packed[o++]!
      out[i] = { ...(s as unknown as Omit<ContinuousSums, 'hist'>), hist: packed.slice(o, o + bins) }
      o += bins
    }
    return out
  }
  throw new Error(`sums of accumulator '${spec.mode}' are not packed`)
}

const CONTINUOUS_FIELDS = ['count', 'sum', 'wa', 'wv', 'wv2', 'ref', 'min', 'max', 'nodataM2'] as const satisfies readonly (keyof ContinuousSums)[]

/** per unit: entries, nodata m², nodata pixels, then key, area, pixels per entry */
function packKeyed(list: Keyed[]): Float64Array<ArrayBuffer> {
  let n = 0
  for (const k of list) n += 3 + 3 * k.map.size
  const out = new Float64Array(n)
  let o = 0
  for (const k of list) {
    out[o++] = k.map.size
    out[o++] = k.nodataM2
    out[o++] = k.nodataPixels
    for (const [key, [area, px]] of k.map) {
      out[o++] = key
      out[o++] = area
      out[o++] = px
    }
  }
  return out
}

function unpackKeyed(p: Float64Array, units: number): Keyed[] {
  const out: Keyed[] = new Array(units)
  let o = 0
  for (let i = 0; i < units; i++) {
    const n = p[o++]!
    const nodataM2 = p[o++]!
    const nodataPixels = p[o++]!
    const map = new Map<number, [number, number]>()
    for (let j = 0; j < n; j++, o += 3) map.set(p[o]!, [p[o + 1]!, p[o + 2]!])
    out[i] = { map, nodataM2, nodataPixels }
  }
  if (o !== p.length) throw new Error(`packed sums: ${p.length - o} numbers left over after ${units} units`)
  return out
}
