/** Land-cover-like classes 1..9 for generated rasters: blobs of tens of pixels with ragged edges (zonal-bench.ts, zonal-gk-bench.ts). */
export const landCoverClass = (r: number, c: number): number => {
  const h = Math.imul((r >> 5) * 73856093 ^ (c >> 5) * 19349663, 2654435761) >>> 0
  const edge = ((r * 7 + c * 13) & 15) === 0 ? 1 : 0
  return ((h >>> 7) + edge) % 9 + 1
}
