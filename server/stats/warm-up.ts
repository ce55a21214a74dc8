// The cell engine's hot code compiled before the first request needs it, pure. V8 runs new
// code in its interpreter first and optimises what runs often: the first coverage run of a
// process took 2–3× as long as the same run again (scripts/bench/RESULTS.md). The service
// runs the engine on a small synthetic input right after it starts listening, so its first
// coverage run on real layers costs what any later run on new layers costs.
import { cellSet, measureCell, measureSet } from './cell-measure.ts'
import { laea } from './laea.ts'
import { featureOf, unionBoundary, type Feat } from './union-boundary.ts'

/** WKB of one polygon with one ring (little-endian). */
function polygonWkb(ring: number[]): Uint8Array {
  const n = ring.length >> 1
  const b = new DataView(new ArrayBuffer(1 + 4 + 4 + 4 + 16 * n))
  b.setUint8(0, 1)
  b.setUint32(1, 3, true)
  b.setUint32(5, 1, true)
  b.setUint32(9, n, true)
  for (let i = 0; i < 2 * n; i++) b.setFloat64(13 + 8 * i, ring[i]!, true)
  return new Uint8Array(b.buffer)
}

/**
 * A jittered tiling of `side`² patches of 16 vertices (shared edges), every 17th patch with
 * a shrunken overlapping copy, and a grid of cells not aligned with it; measured `rounds` times.
 * Returns the union's total area (m²) so that nothing is optimised away.
 */
export function warmUpCellEngine(side = 40, rounds = 3): number {
  const lon0 = 118.3, lat0 = 29.8
  const pr = laea(lon0, lat0)
  const d = 0.0005 // ~50 m
  const jitter = (i: number, j: number, k: number) => (((i * 7919 + j * 104729 + k * 1299709) % 1000) / 1000 - 0.5) * 0.3 * d
  const node = (i: number, j: number): [number, number] => [
    lon0 + i * d + (i > 0 && i < side ? jitter(i, j, 1) : 0),
    lat0 + j * d + (j > 0 && j < side ? jitter(i, j, 2) : 0),
  ]
  // each side of a patch as four pieces between its corners, computed from the lower corner
  // so that the two patches sharing a side have the same points (a tiling, as surveys are)
  const along = (a: [number, number], b: [number, number], out: number[]) => {
    const flip = a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])
    const [p, q] = flip ? [b, a] : [a, b]
    const pts: number[][] = []
    for (let k = 0; k <= 4; k++) pts.push([p[0] + ((q[0] - p[0]) * k) / 4 + (k % 4 ? 0.02 * d * (k - 2) : 0), p[1] + ((q[1] - p[1]) * k) / 4])
    if (flip) pts.reverse()
    for (let k = 0; k < 4; k++) out.push(pts[k]![0]!, pts[k]![1]!)
  }
  const feats: Feat[] = []
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      const r: number[] = []
      along(node(i, j), node(i + 1, j), r)
      along(node(i + 1, j), node(i + 1, j + 1), r)
      along(node(i + 1, j + 1), node(i, j + 1), r)
      along(node(i, j + 1), node(i, j), r)
      r.push(r[0]!, r[1]!)
      const f = featureOf(String(feats.length), null, polygonWkb(r), pr)
      if (f) feats.push(f)
      if ((i * side + j) % 17 === 0) {
        const cx = lon0 + (i + 0.5) * d, cy = lat0 + (j + 0.5) * d
        const g = featureOf(String(feats.length), null, polygonWkb(r.map((v, k) => (k % 2 ? cy + (v - cy) * 0.6 + 0.2 * d : cx + (v - cx) * 0.6 + 0.3 * d))), pr)
        if (g) feats.push(g)
      }
    }
  }
  const cells = []
  const c = 0.0013 // ~130 m, off the patches' lattice
  for (let i = 0; i * c < side * d; i++) {
    for (let j = 0; j * c < side * d; j++) {
      const x = lon0 + 0.0001 + i * c, y = lat0 + 0.00007 + j * c
      const cell = measureCell([[Float64Array.from([x, y, x + c, y, x + c, y + c, x, y + c, x, y])]], pr)
      if (cell) cells.push(cell)
    }
  }
  let total = 0
  for (let k = 0; k < rounds; k++) {
    const b = unionBoundary(feats, pr)
    const r = measureSet(cellSet(cells), feats, b, pr, true)
    for (let i = 0; i < cells.length; i++) total += r.area[i]!
  }
  return total / rounds
}
