// Where a direct call of a projection is checked against proj4js's full transform before
// it is used (lonlat-forward.ts, reproject.ts).
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
