// CGCS2000 lon/lat → a projected CRS, for many points. proj4js's transform() runs its whole
// pipeline for every point (degrees to radians, datum comparison, the projection, units,
// axis order: ~300 ns a point); when the pipeline comes down to the projection alone (same
// ellipsoid, no datum shift, metres, east-north axes), calling the projection directly gives
// the same numbers ~3.5× faster. Which case applies is not guessed from the definition: the
// direct call is checked against transform() on a grid of points over the area of interest
// and used only if every coordinate is bit for bit the same.
import proj4 from 'proj4'
import { CGCS2000 } from './reproject.ts'
import { probeGrid, transformPairs } from './probe-grid.ts'

const D2R = Math.PI / 180

/** Projects lon/lat pairs of `ll` (flat) into `out` (flat, may be `ll`). */
export type ForwardMany = (ll: Float64Array, out: Float64Array) => void

export interface LonLatForward {
  many: ForwardMany
  /** 'direct' (the projection alone) or 'proj4' (the full transform) */
  path: 'direct' | 'proj4'
}

/** A forward projection from CGCS2000 lon/lat to `crsProj4`, checked over `box` (west, south, east, north). */
export function lonLatForward(crsProj4: string, box: [number, number, number, number]): LonLatForward {
  const conv = proj4(CGCS2000, crsProj4)
  const slow: ForwardMany = (ll, out) => transformPairs((p) => conv.forward(p) as number[], ll, out)
  let direct: ForwardMany | undefined
  try {
    const proj = new proj4.Proj(crsProj4) as unknown as { forward(p: { x: number; y: number }): { x: number; y: number } }
    const o = { x: 0, y: 0 }
    direct = (ll, out) => {
      for (let k = 0; k < ll.length; k += 2) {
        o.x = ll[k]! * D2R
        o.y = ll[k + 1]! * D2R
        const q = proj.forward(o)
        out[k] = q.x
        out[k + 1] = q.y
      }
    }
  } catch {
    return { many: slow, path: 'proj4' }
  }
  // 17 × 17 points over the box (and its corners): both ways must agree exactly
  const probe = probeGrid(box)
  const a = new Float64Array(probe.length)
  const b = new Float64Array(probe.length)
  try {
    slow(probe, a)
    direct(probe, b)
  } catch {
    return { many: slow, path: 'proj4' }
  }
  for (let k = 0; k < a.length; k++) if (!(a[k] === b[k])) return { many: slow, path: 'proj4' }
  return { many: direct, path: 'direct' }
}

