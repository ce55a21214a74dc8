// Shared by the tile benchmarks: the Web Mercator tile of a point, a seeded generator and
// a percentile.
const R = 6378137
const HALF = Math.PI * R

/** The x, y of the zoom-z tile holding lon/lat (degrees). */
export function tileOf(z: number, lon: number, lat: number): [number, number] {
  const n = 2 ** z
  const mx = (R * lon * Math.PI) / 180
  const my = R * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360))
  return [Math.floor(((mx + HALF) / (2 * HALF)) * n), Math.floor(((HALF - my) / (2 * HALF)) * n)]
}

/** A seeded linear congruential generator in [0, 1). */
export function seeded(seed: number): () => number {
  let s = seed
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32)
}

/** The p-th percentile (nearest rank) of xs. */
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
