// Area unit conversions: m², ha, km², 亩 (pure).
import { describe, expect, it } from 'vitest'
import { convertArea, M2_PER } from '../server/results/area-units.ts'
import { shareOf } from '../server/stats/coverage.ts'

describe('area units', () => {
  it('converts m² to ha, km² and 亩 (15 亩 = 1 ha)', () => {
    expect(convertArea(10_000, 'ha')).toBe(1)
    expect(convertArea(2_000_000, 'km2')).toBe(2)
    expect(convertArea(10_000, 'mu')).toBeCloseTo(15, 12)
    expect(M2_PER.mu).toBeCloseTo(666.67, 2)
  })
  it('computes shares in 0..1, 0 for empty units', () => {
    expect(shareOf(5, 10)).toBe(0.5)
    expect(shareOf(10.0000001, 10)).toBe(1)
    expect(shareOf(3, 0)).toBe(0)
  })
})
