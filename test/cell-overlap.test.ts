// Pure: the in-process cell measurement against hand-built results, and the
// transition/extent arithmetic. Reference areas are GeographicLib's polygon areas of the
// polygons GEOS would produce (the same vertices), computed here through the
// independent polygon routine rather than the per-edge sums under test.
import { describe, expect, it } from 'vitest'
import { overlap, type PolygonRings, type Pt } from '../server/geom/overlap.ts'
import { clustersOf } from '../server/stats/pieces/pieces.ts'
import { extentAccount, fromTo } from '../server/stats/transitions.ts'
import { geodesicArea } from './helpers/fixtures.ts'

const W = 117.3
const S = 30.2
const D = 0.01
// cell [W, W+D] × [S, S+D], counter-clockwise, open
const cell: Pt[] = [[W, S], [W + D, S], [W + D, S + D], [W, S + D]]
const rect = (w: number, s: number, e: number, n: number): Pt[] => [[w, s], [e, s], [e, n], [w, n]]
const closed = (r: Pt[]) => [...r, r[0]!]
const area = (...rings: Pt[][]) => geodesicArea({ type: 'Polygon', coordinates: rings.map(closed) })
const polys = (...rings: Pt[][]): PolygonRings[] => [{ rings }]

describe('cell overlap (Green on geodesic edges)', () => {
  it('a rectangle over the east half of the cell and beyond: the area of the east half', () => {
    const o = overlap(polys(rect(W + D / 2, S - D, W + 2 * D, S + 2 * D)), cell)
    expect(o.kind).toBe('area')
    const ref = area(rect(W + D / 2, S, W + D, S + D))
    expect(Math.abs((o as { area: number }).area / ref - 1)).toBeLessThan(1e-12)
  })

  it('a clockwise triangle cutting a corner, and the same triangle counter-clockwise', () => {
    const tri: Pt[] = [[W + 0.7 * D, S - 0.2 * D], [W + 1.3 * D, S + 0.5 * D], [W + 1.3 * D, S - 0.2 * D]]
    // the corner part: the triangle's edge crosses the bottom edge at x = W+0.7D+0.2·(0.6/0.7)D and the right edge at y = S + …
    const bx = W + 0.7 * D + (0.2 / 0.7) * 0.6 * D
    const ry = S - 0.2 * D + (0.3 / 0.6) * 0.7 * D
    const ref = area([[bx, S], [W + D, S], [W + D, ry]])
    for (const t of [tri, [...tri].reverse()]) {
      const o = overlap(polys(t), cell)
      expect(Math.abs((o as { area: number }).area / ref - 1)).toBeLessThan(1e-9)
    }
  })

  it('a polygon with a hole inside the cell: the cell minus the hole', () => {
    const hole: Pt[] = rect(W + 0.2 * D, S + 0.2 * D, W + 0.4 * D, S + 0.5 * D).reverse()
    const o = overlap(polys(rect(W - D, S - D, W + 2 * D, S + 2 * D), hole), cell)
    expect(o.kind).toBe('area')
    expect(Math.abs((o as { area: number }).area / (area(cell) - area(hole)) - 1)).toBeLessThan(1e-9)
  })

  it('a multipolygon with one part inside and one outside: the inside part only', () => {
    const inner = rect(W + 0.1 * D, S + 0.1 * D, W + 0.3 * D, S + 0.3 * D)
    const o = overlap([{ rings: [inner] }, { rings: [rect(W + 2 * D, S, W + 3 * D, S + D)] }], cell)
    expect(Math.abs((o as { area: number }).area / area(inner) - 1)).toBeLessThan(1e-9)
  })

  it('inside, covering, apart, and degenerate contacts are told apart', () => {
    expect(overlap(polys(rect(W + 0.1 * D, S + 0.1 * D, W + 0.2 * D, S + 0.2 * D)), cell).kind).toBe('inside')
    expect(overlap(polys(rect(W - D, S - D, W + 2 * D, S + 2 * D)), cell).kind).toBe('covers')
    expect(overlap(polys(rect(W + 2 * D, S, W + 3 * D, S + D)), cell).kind).toBe('outside')
    // a vertex exactly on the cell's east edge, a polygon sharing the west edge
    expect(overlap(polys([[W + D, S + 0.5 * D], [W + 1.5 * D, S + 0.2 * D], [W + 1.5 * D, S + 0.8 * D]]), cell).kind).toBe('degenerate')
    expect(overlap(polys(rect(W - D, S, W, S + D)), cell).kind).toBe('degenerate')
  })

  it('the four quarters of a square centred on a cell corner add up to the square', () => {
    const sq = rect(W + D - 0.3 * D, S + D - 0.3 * D, W + D + 0.3 * D, S + D + 0.3 * D)
    const cells: Pt[][] = [[0, 0], [1, 0], [0, 1], [1, 1]].map(([i, j]) => rect(W + i! * D, S + j! * D, W + (i! + 1) * D, S + (j! + 1) * D))
    const sum = cells.reduce((s, c) => s + (overlap(polys(sq), c) as { area: number }).area, 0)
    expect(Math.abs(sum / area(sq) - 1)).toBeLessThan(1e-9)
  })
})

describe('clusters of overlapping features', () => {
  it('joins chains and keeps separate groups apart', () => {
    const c = clustersOf([{ a: '1', b: '2' }, { a: '2', b: '3' }, { a: '7', b: '8' }])
    expect(c.get('1')).toBe(c.get('3'))
    expect(c.get('7')).toBe(c.get('8'))
    expect(c.get('1')).not.toBe(c.get('7'))
    expect(c.has('4')).toBe(false)
  })
})

describe('transitions and the SEEA extent account', () => {
  it('fills none→class and class→none from the class areas, and balances each class', () => {
    const from = new Map([['A', 10], ['B', 5]])
    const to = new Map([['A', 7], ['B', 9], ['C', 2]])
    const pairs = [{ from: 'A', to: 'A', area: 6 }, { from: 'A', to: 'B', area: 3 }, { from: 'B', to: 'B', area: 5 }]
    const m = fromTo(from, to, pairs)
    expect(m).toEqual([
      { from: 'A', to: 'A', area: 6 }, { from: 'A', to: 'B', area: 3 }, { from: 'A', to: null, area: 1 },
      { from: 'B', to: 'B', area: 5 },
      { from: null, to: 'A', area: 1 }, { from: null, to: 'B', area: 1 }, { from: null, to: 'C', area: 2 },
    ])
    const acc = extentAccount(m)
    expect(acc).toEqual([
      { class: 'A', opening: 10, additions: 1, reductions: 4, closing: 7 },
      { class: 'B', opening: 5, additions: 4, reductions: 0, closing: 9 },
      { class: 'C', opening: 0, additions: 2, reductions: 0, closing: 2 },
    ])
  })
})
