// The cell engine's measure (stats/cells/measure.ts) on hand-computable shapes: a cell of
// several rings and hundreds of edges, crossed by hundreds of features.
import { describe, expect, it } from 'vitest'
import { laea } from '../server/geom/laea.ts'
import { cellSet, measureCell, measureSet } from '../server/stats/cells/measure.ts'
import { orientedRing, shoelace, unionBoundary, type Feat } from '../server/stats/cells/union-boundary.ts'

const pr = laea(118, 30)
/** A closed lon/lat ring of box (w, s, e, n) with a vertex every `step` degrees. */
function boxRing(w: number, s: number, e: number, n: number, step: number): Float64Array {
  const pts: number[] = []
  const k = Math.max(1, Math.round((e - w) / step)), m = Math.max(1, Math.round((n - s) / step))
  for (let i = 0; i < k; i++) pts.push(w + ((e - w) * i) / k, s)
  for (let i = 0; i < m; i++) pts.push(e, s + ((n - s) * i) / m)
  for (let i = k; i > 0; i--) pts.push(w + ((e - w) * i) / k, n)
  for (let i = m; i > 0; i--) pts.push(w, s + ((n - s) * i) / m)
  pts.push(w, s)
  return new Float64Array(pts)
}
function feat(id: number, w: number, s: number, e: number, n: number, step = e - w): Feat {
  const o = orientedRing(boxRing(w, s, e, n, step), true, pr)!
  return { id: String(id), category: null, rings: [o.ring], proj: [o.proj], bbox: [w, s, e, n], area: shoelace(o.proj), long: false }
}
/** The projected area of a lon/lat box (as the engine measures: straight edges in the projection). */
const boxArea = (w: number, s: number, e: number, n: number) => shoelace(orientedRing(boxRing(w, s, e, n, e - w), true, pr)!.proj)
/** The same of a box whose south (or west) edge lies on a cell edge, with the cell's vertices (every `step`°) on it. */
function pieceArea(w: number, s: number, e: number, n: number, step: number, side: 'south' | 'west'): number {
  const pts = side === 'south'
    ? [[w, s], ...cellVertices(w, e, step).map((x) => [x, s]), [e, s], [e, n], [w, n]]
    : [[w, s], [e, s], [e, n], [w, n], ...cellVertices(s, n, step).reverse().map((y) => [w, y])]
  return shoelace(orientedRing(new Float64Array([...pts, pts[0]!].flat()), true, pr)!.proj)
}
const cellVertices = (a: number, b: number, step: number) => {
  const out: number[] = []
  for (let k = Math.ceil(a / step); k * step < b; k++) if (k * step > a) out.push(Number((k * step).toFixed(4)))
  return out
}

describe('cell measure', () => {
  it('a cell with a hole and 600 crossings on its rings: areas and counts as computed by hand', () => {
    // the cell: 0.1° square with a vertex every 0.0005° (800 edges), a 0.02° square hole
    const outer = boxRing(118, 30, 118.1, 30.1, 0.0005)
    const c = measureCell([[outer, boxRing(118.04, 30.04, 118.06, 30.06, 0.0005)]], pr)
    expect(c.declined).toBe(false)
    expect(c.indexed).toBe(true)
    // 300 squares straddling the south edge (half in), 40 straddling the hole's west edge
    // (half in), 20 inside the hole (nothing), one covering the whole hole and more
    const feats: Feat[] = []
    let want = 0
    for (let i = 0; i < 300; i++) {
      const w = 118.00013 + i * 0.0003 // (no edge through a cell vertex: that cell would go to PostGIS)
      feats.push(feat(feats.length, w, 29.9999, w + 0.0002, 30.0001))
      want += pieceArea(w, 30, w + 0.0002, 30.0001, 0.0005, 'south')
    }
    for (let i = 0; i < 40; i++) {
      const s = 30.040113 + i * 0.00037
      feats.push(feat(feats.length, 118.0399, s, 118.0401, s + 0.0002))
      want += pieceArea(118.0399, s, 118.04, s + 0.0002, 0.0005, 'west')
    }
    for (let i = 0; i < 20; i++) feats.push(feat(feats.length, 118.045 + i * 0.0005, 30.05, 118.0452 + i * 0.0005, 30.0502))
    const sums = measureSet(cellSet([c]), feats, unionBoundary(feats, pr), pr, true)
    expect(sums.degenerate[0]).toBe(0)
    expect(Math.abs(sums.area[0]! / want - 1)).toBeLessThan(1e-9)
    expect(sums.count[0]).toBe(340)
    // a feature over the whole hole and around it: the hole's ring is covered without a crossing
    const big = [feat(0, 118.03, 30.03, 118.07, 30.07, 0.001)] // (edges of ~100 m: a longer one sends the cell to PostGIS)
    const s2 = measureSet(cellSet([c]), big, unionBoundary(big, pr), pr, true)
    expect(s2.degenerate[0]).toBe(0)
    const ring = (w: number, s: number, e: number, n: number, step: number) => shoelace(orientedRing(boxRing(w, s, e, n, step), true, pr)!.proj)
    expect(Math.abs(s2.area[0]! / (ring(118.03, 30.03, 118.07, 30.07, 0.001) - ring(118.04, 30.04, 118.06, 30.06, 0.0005)) - 1)).toBeLessThan(1e-9)
    expect(s2.count[0]).toBe(1)
  })
})
