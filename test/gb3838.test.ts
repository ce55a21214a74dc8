// GB 3838-2002 classes (server/watershed/gb3838.ts): the limits typed here again from Table 1 of
// the standard must equal the module's; every limit of every indicator at, just below and just
// above it; the evaluation rules on worked sections (single factor, target, exceedance
// multiples, lakes, 劣Ⅴ); period means and loads by hand.
import { describe, expect, it } from 'vitest'
import { classOf, evaluateSection, GB3838_TABLE1, indicator, limitOf, loadKg, periodMean } from '../server/watershed/gb3838.ts'

// GB 3838-2002 表1, classes Ⅰ–Ⅴ, typed again from the standard's text for the check below
const TYPED: Record<string, number[]> = {
  do: [7.5, 6, 5, 3, 2], codmn: [2, 4, 6, 10, 15], cod: [15, 15, 20, 30, 40], bod5: [3, 3, 4, 6, 10], nh3n: [0.15, 0.5, 1.0, 1.5, 2.0],
  tp: [0.02, 0.1, 0.2, 0.3, 0.4], tn: [0.2, 0.5, 1.0, 1.5, 2.0], cu: [0.01, 1.0, 1.0, 1.0, 1.0], zn: [0.05, 1.0, 1.0, 2.0, 2.0], f: [1.0, 1.0, 1.0, 1.5, 1.5],
  se: [0.01, 0.01, 0.01, 0.02, 0.02], as: [0.05, 0.05, 0.05, 0.1, 0.1], hg: [0.00005, 0.00005, 0.0001, 0.001, 0.001], cd: [0.001, 0.005, 0.005, 0.005, 0.01],
  cr6: [0.01, 0.05, 0.05, 0.05, 0.1], pb: [0.01, 0.01, 0.05, 0.05, 0.1], cn: [0.005, 0.05, 0.2, 0.2, 0.2], phenol: [0.002, 0.002, 0.005, 0.01, 0.1],
  oil: [0.05, 0.05, 0.05, 0.5, 1.0], las: [0.2, 0.2, 0.2, 0.3, 0.3], s2: [0.05, 0.1, 0.2, 0.5, 1.0], fc: [200, 2000, 10000, 20000, 40000],
}
const TYPED_LAKE_TP = [0.01, 0.025, 0.05, 0.1, 0.2]

describe('GB 3838-2002 Table 1', () => {
  it('holds the limits of the standard (typed twice)', () => {
    for (const [id, lims] of Object.entries(TYPED)) expect([...indicator(id).limits], id).toEqual(lims)
    expect([...indicator('tp').lake!]).toEqual(TYPED_LAKE_TP)
    expect(GB3838_TABLE1.map((i) => i.id).sort()).toEqual([...Object.keys(TYPED), 'ph'].sort())
  })

  it('every limit: at it within the class, just beyond it the next class that admits the value', () => {
    let checked = 0
    for (const i of GB3838_TABLE1) {
      if (i.kind === 'range') continue
      for (const water of ['river', 'lake'] as const) {
        for (const c of [1, 2, 3, 4, 5] as const) {
          const lim = limitOf(i, c, water)
          const eps = lim * 1e-9
          // the best class admitting the limit is the first class with this limit
          const first = ([1, 2, 3, 4, 5] as const).find((k) => limitOf(i, k, water) === lim)!
          expect(classOf(i.id, lim, water), `${i.id} ${water} at class ${c} limit ${lim}`).toBe(first)
          const better = i.kind === 'max' ? lim - eps : lim + eps
          const worse = i.kind === 'max' ? lim + eps : lim - eps
          expect(classOf(i.id, better, water)).toBeLessThanOrEqual(first)
          // just beyond: the first class whose limit admits it, or 劣Ⅴ
          const next = ([1, 2, 3, 4, 5] as const).find((k) => (i.kind === 'max' ? worse <= limitOf(i, k, water) : worse >= limitOf(i, k, water))) ?? 6
          expect(classOf(i.id, worse, water), `${i.id} ${water} just beyond class ${c}`).toBe(next)
          expect(next).toBeGreaterThan(c)
          checked++
        }
      }
    }
    expect(checked).toBe(22 * 2 * 5)
  })

  it('by hand: published values on both sides of their limits', () => {
    expect(classOf('nh3n', 1.0)).toBe(3)
    expect(classOf('nh3n', 1.0001)).toBe(4)
    expect(classOf('nh3n', 2.01)).toBe(6)
    expect(classOf('do', 5)).toBe(3)
    expect(classOf('do', 4.99)).toBe(4)
    expect(classOf('do', 1.9)).toBe(6)
    expect(classOf('do', 8)).toBe(1)
    expect(classOf('tp', 0.2)).toBe(3)
    expect(classOf('tp', 0.2, 'lake')).toBe(5)
    expect(classOf('tp', 0.05, 'lake')).toBe(3)
    expect(classOf('cod', 15)).toBe(1)
    expect(classOf('cod', 15.01)).toBe(3)
    expect(classOf('hg', 0.0001)).toBe(3)
    expect(classOf('ph', 6)).toBe(1)
    expect(classOf('ph', 9)).toBe(1)
    expect(classOf('ph', 9.01)).toBe(6)
    expect(classOf('ph', 5.99)).toBe(6)
    expect(() => classOf('nh3', 1)).toThrow(/no indicator 'nh3'/)
    expect(() => classOf('nh3n', NaN)).toThrow(/not a measured value/)
  })

  it('evaluates a section: the worst evaluated indicator, its target, exceedance multiples', () => {
    const e = evaluateSection({ do: 6.5, codmn: 3.2, nh3n: 0.6, tp: 0.12, cod: 12, bod5: 2.5, fc: 30000, tn: 1.8 }, 2)
    expect(e.classes).toMatchObject({ do: 2, codmn: 2, nh3n: 3, tp: 3, cod: 1, bod5: 1, fc: 5, tn: 5 })
    // 粪大肠菌群 and 总氮 (a river) are not part of the class
    expect(e.overall).toBe(3)
    expect(e.deciding.sort()).toEqual(['nh3n', 'tp'])
    expect(e.compliant).toBe(false)
    expect(e.exceedances.map((x) => [x.id, x.limit])).toEqual([['nh3n', 0.5], ['tp', 0.1]])
    expect(e.exceedances[0]!.multiple).toBeCloseTo(0.2, 12)
    expect(e.exceedances[1]!.multiple).toBeCloseTo(0.2, 12)
    const ok = evaluateSection({ do: 6.5, codmn: 3.2, nh3n: 0.6, tp: 0.12 }, 3)
    expect([ok.overall, ok.compliant, ok.exceedances.length]).toEqual([3, true, 0])
    // a lake: its own 总磷 limits; 总氮 on its own; dissolved oxygen has no multiple
    const lake = evaluateSection({ do: 2.5, tp: 0.04, tn: 1.2 }, 3, 'lake')
    expect([lake.classes.tp, lake.overall, lake.tnClass]).toEqual([3, 5, 4])
    expect(lake.exceedances).toEqual([{ id: 'do', name: '溶解氧', value: 2.5, limit: 5, multiple: null }])
    expect(evaluateSection({ nh3n: 2.5 }, 3).overall).toBe(6)
    expect(() => evaluateSection({ tn: 1, fc: 10 }, 3)).toThrow(/no evaluated indicator/)
  })

  it('period means and loads by hand', () => {
    expect(periodMean([0.4, 0.6, 0.8])).toBeCloseTo(0.6, 15)
    expect(() => periodMean([])).toThrow(/no samples/)
    // 0.5 mg/L at 100 m³/s for a day: 0.5 g/m³ × 100 m³/s × 86 400 s = 4 320 000 g
    expect(loadKg(0.5, 100, 86_400)).toBe(4320)
  })
})
