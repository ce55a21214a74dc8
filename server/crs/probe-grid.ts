// Where a direct call of a projection is checked against proj4js's full transform before
// it is used (lonlat-forward.ts, reproject.ts), and the full transform over many points.
/** 17 × 17 points over a box (west, south, east, north), its corners among them, as flat x, y pairs: where a direct call is checked against the full transform. */
export function probeGrid([w, s, e, n]: readonly number[]): Float64Array {
  const probe = new Float64Array(2 * 17 * 17)
  for (let i = 0; i < 17; i++) {
    for (let j = 0; j < 17; j++) {
      probe[2 * (17 * i + j)] = w! + ((e! - w!) * i) / 16
      probe[2 * (17 * i + j) + 1] = s! + ((n! - s!) * j) / 16
    }
  }
  return probe
}

/** proj4js's full transform `f` (a converter's forward or inverse) on each x, y pair of `from`, into `to` (may be `from`). */
export function transformPairs(f: (p: number[]) => number[], from: Float64Array, to: Float64Array): void {
  const p: number[] = [0, 0]
  for (let k = 0; k < from.length; k += 2) {
    p[0] = from[k]!
    p[1] = from[k + 1]!
    const q = f(p)
    to[k] = q[0]!
    to[k + 1] = q[1]!
  }
}
