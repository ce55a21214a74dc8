// Grid cell codes and cell geometry (pure: no database).
import { describe, expect, it } from 'vitest'
import { cellCode, cellRange, cellRing, parseCellCode, segmentsFor } from '../server/units/grid.ts'

describe('grid cell codes', () => {
  it('round-trips codes for indices around the origin and far away', () => {
    for (const size of [10, 100, 1000, 5000, 100000]) {
      for (const i of [-123456, -1, 0, 1, 7, 99999]) {
        for (const j of [-5, 0, 3, 4321987]) {
          expect(parseCellCode(cellCode({ size, i, j }))).toEqual({ size, i, j })
        }
      }
    }
  })
  it('writes the documented form', () => {
    expect(cellCode({ size: 1000, i: 1234, j: 3456 })).toBe('G1000_E1234_N3456')
    expect(cellCode({ size: 500, i: -12, j: -3 })).toBe('G500_W12_S3')
    expect(parseCellCode('G1000_E12_X3')).toBeUndefined()
  })
  it('covers a box with the cells that touch it, anchored at the CRS origin', () => {
    expect(cellRange([0, 0, 1000, 1000], 1000)).toEqual({ i0: 0, i1: 0, j0: 0, j1: 0 })
    expect(cellRange([-1, 999, 1001, 2000], 1000)).toEqual({ i0: -1, i1: 1, j0: 0, j1: 1 })
    expect(cellRange([5, 5, 5, 5], 1000)).toEqual({ i0: 0, i1: 0, j0: 0, j1: 0 })
  })
  it('makes rings whose shared edges coincide exactly with the neighbour\'s', () => {
    const seg = segmentsFor(1000)
    const a = cellRing({ size: 1000, i: 3, j: 7 }, seg)
    const b = cellRing({ size: 1000, i: 4, j: 7 }, seg)
    const c = cellRing({ size: 1000, i: 3, j: 8 }, seg)
    const key = (p: [number, number]) => `${p[0]},${p[1]}`
    const aset = new Set(a.map(key))
    expect(b.slice(0, -1).filter((p) => aset.has(key(p))).length).toBe(seg + 1)
    expect(c.slice(0, -1).filter((p) => aset.has(key(p))).length).toBe(seg + 1)
    expect(a[0]).toEqual(a[a.length - 1])
    expect(a.length).toBe(4 * seg + 1)
    // counter-clockwise, area size²
    let s = 0
    for (let k = 0; k < a.length - 1; k++) s += a[k]![0] * a[k + 1]![1] - a[k + 1]![0] * a[k]![1]
    expect(s / 2).toBeCloseTo(1e6, 6)
  })
  it('splits edges into pieces of at most 250 m', () => {
    expect(segmentsFor(100)).toBe(1)
    expect(segmentsFor(1000)).toBe(4)
    expect(segmentsFor(5000)).toBe(16)
    expect(segmentsFor(10000)).toBe(29)
    expect(segmentsFor(100000)).toBe(286)
  })
})
