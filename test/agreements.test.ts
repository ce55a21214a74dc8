// Watershed agreement templates (server/watershed/agreements.ts) by hand: the P index
// (C/C0 = 0.8, 0.9, 1.1, 1.0, k_i = 0.25, k0 = 0.85 → P = 0.8075, the downstream pays), the
// class-based monthly rule, a load and a flow settlement, loads from monthly means, and every
// pair's ledger summing to zero.
import { describe, expect, it } from 'vitest'
import { monthlyLoadT, pairLedger, settleClass, settleFlow, settleIndex, settleLoad } from '../server/watershed/agreements.ts'

const base = { codmn: 2.0, nh3n: 0.1, tp: 0.02, tn: 1.0 }
const terms = Object.entries(base).map(([indicator, baseline]) => ({ indicator, weight: 0.25, baseline }))

describe('watershed agreements', () => {
  it('index: P = k0 · Σ k_i C_i / C_i0 = 0.8075 by hand; the downstream pays', () => {
    const means = { codmn: 1.6, nh3n: 0.09, tp: 0.022, tn: 1.0 } // ratios 0.8, 0.9, 1.1, 1.0
    const s = settleIndex({ type: 'index', k0: 0.85, terms, amount: 1e8 }, means)
    expect(s.p).toBeCloseTo(0.8075, 12)
    expect(s.toUpstream).toBe(1e8)
    expect(s.lines.at(-1)!.zh).toMatch(/P = k0 × Σ kᵢ·Cᵢ\/Cᵢ0 = 0\.85 × 0\.95 = 0\.8075；P ≤ 1，下游补偿上游 100,000,000\.00 元/)
    // worse water: P > 1, the upstream pays
    const worse = settleIndex({ type: 'index', k0: 0.85, terms, amount: 1e8 }, { codmn: 2.6, nh3n: 0.13, tp: 0.026, tn: 1.2 })
    expect(worse.p).toBeCloseTo(0.85 * 0.25 * (1.3 + 1.3 + 1.3 + 1.2), 12)
    expect(worse.toUpstream).toBe(-1e8)
    // exactly 1 is the downstream's to pay (P ≤ 1)
    expect(settleIndex({ type: 'index', k0: 1, terms: [{ indicator: 'tp', weight: 1, baseline: 0.02 }], amount: 5 }, { tp: 0.02 }).toUpstream).toBe(5)
    expect(() => settleIndex({ type: 'index', k0: 0.85, terms, amount: 1 }, { codmn: 1 })).toThrow(/no period mean of nh3n/)
    expect(() => settleIndex({ type: 'index', k0: 0.85, terms: [{ indicator: 'tp', weight: 1, baseline: 0 }], amount: 1 }, { tp: 1 })).toThrow(/baseline of tp must be positive/)
  })

  it('class-based, per month: at target, better and worse', () => {
    const a = { type: 'class' as const, target: 3 as const, at_target: 100_000, per_class_better: 50_000, per_class_worse: 80_000 }
    const s = settleClass(a, [{ month: '2024-01', cls: 2 }, { month: '2024-02', cls: 3 }, { month: '2024-03', cls: 5 }, { month: '2024-04', cls: 6 }])
    // 150 000 + 100 000 − 160 000 − 240 000
    expect(s.toUpstream).toBe(-150_000)
    expect(s.lines[2]!.zh).toBe('2024-03：Ⅴ类（目标Ⅲ类），上游补偿下游 160,000.00 元')
    expect(s.lines.at(-1)!.en).toBe('total: upstream pays downstream 150,000.00 yuan')
  })

  it('loads by hand and the load settlement; the flow settlement', () => {
    // 1.5 mg/L at 200 m³/s through January 2024 (31 days) and 1.0 mg/L at 100 m³/s through February (29 days)
    const t = monthlyLoadT([{ month: '2024-01', mgPerL: 1.5, flow_m3s: 200 }, { month: '2024-02', mgPerL: 1.0, flow_m3s: 100 }])
    expect(t).toBeCloseTo((1.5 * 200 * 31 * 86_400 + 1.0 * 100 * 29 * 86_400) / 1e6, 9)
    expect(t).toBeCloseTo(1054.08, 9)
    const l = settleLoad({ type: 'load', indicator: 'tn', agreed_t: 1000, yuan_per_t: 2000 }, t)
    expect(l.toUpstream).toBeCloseTo(-108_160, 6)
    expect(settleLoad({ type: 'load', indicator: 'tn', agreed_t: 2000, yuan_per_t: 2000 }, t).toUpstream === 0).toBe(true)
    expect(() => monthlyLoadT([{ month: '2024-13', mgPerL: 1, flow_m3s: 1 }])).toThrow(/write YYYY-MM/)
    const f = settleFlow({ type: 'flow', target_m3s: 50, per_month_below: 300_000 }, [{ month: '2024-07', flow_m3s: 80 }, { month: '2024-08', flow_m3s: 45 }, { month: '2024-09', flow_m3s: 49.99 }])
    expect(f.toUpstream).toBe(-600_000)
    expect(f.lines).toHaveLength(3)
  })

  it('every pair ledger sums to zero', () => {
    for (const s of [
      settleIndex({ type: 'index', k0: 0.85, terms, amount: 1e8 }, { codmn: 1.6, nh3n: 0.09, tp: 0.022, tn: 1 }),
      settleClass({ type: 'class', target: 2, at_target: 1, per_class_better: 2, per_class_worse: 3 }, [{ month: '2024-05', cls: 4 }]),
      settleLoad({ type: 'load', indicator: 'tn', agreed_t: 1, yuan_per_t: 7.3 }, 3.3),
    ]) {
      const [up, down] = pairLedger('341021', '330127', s)
      expect(up.amount_yuan + down.amount_yuan).toBe(0)
      expect([up.role, down.role]).toEqual(['upstream', 'downstream'])
    }
  })
})
