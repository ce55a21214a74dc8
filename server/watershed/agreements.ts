// Cross-boundary watershed agreements as data (流域横向生态保护补偿): four templates that turn a
// section's monitored period into money between an upstream and a downstream unit. Pure: the
// inputs are period figures (annual means, monthly classes, a load, monthly flows); the result
// is the amount the downstream unit pays the upstream one (negative: the upstream pays), with
// its explanation, and a ledger of two entries that sum to zero.
//
// (a) index, as the 新安江 agreements between 安徽 and 浙江 (街口 section, from 2012):
//     P = k0 · Σ k_i · C_i / C_i0 over 高锰酸盐指数, 氨氮, 总磷, 总氮, with C_i the period mean,
//     C_i0 the baseline mean, k_i weights and k0 a stability coefficient; P ≤ 1: the downstream
//     pays the upstream the agreed amount, else the upstream pays it. The first round's k0 of
//     0.85 and its equal weighting are reported in the literature; the agreement text itself
//     could not be checked here, so every coefficient is the agreement's to state.
// (b) class: per month, a fixed amount when the section meets its target class, plus a reward
//     per class better; a payment per class worse, the other way.
// (c) load: yuan per tonne of an indicator above the agreed load of the period.
// (d) flow: an amount per month whose mean flow is below the ecological-flow target.
import { CLASS_NAMES, indicator, type WaterClass } from './gb3838.ts'

export interface IndexTerm { indicator: string; weight: number; baseline: number }
export type Agreement =
  | { type: 'index'; k0: number; terms: IndexTerm[]; amount: number }
  | { type: 'class'; target: 1 | 2 | 3 | 4 | 5; at_target: number; per_class_better: number; per_class_worse: number }
  | { type: 'load'; indicator: string; agreed_t: number; yuan_per_t: number }
  | { type: 'flow'; target_m3s: number; per_month_below: number }

export interface Line { zh: string; en: string }
export interface Settlement {
  /** yuan the downstream unit pays the upstream one; negative: the upstream pays */
  toUpstream: number
  lines: Line[]
  /** the index P (type index) */
  p?: number
}

const yuan = (v: number) => v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
const num = (v: number, d = 4) => v.toLocaleString('en-US', { maximumFractionDigits: d })

/** (a) The index settlement from the period means (indicator id → mg/L). */
export function settleIndex(a: Extract<Agreement, { type: 'index' }>, means: Record<string, number>): Settlement {
  const lines: Line[] = []
  let sum = 0
  for (const t of a.terms) {
    const c = means[t.indicator]
    if (c === undefined) throw new Error(`index agreement: no period mean of ${t.indicator}`)
    if (!(t.baseline > 0)) throw new Error(`index agreement: the baseline of ${t.indicator} must be positive (it is ${t.baseline})`)
    const r = c / t.baseline
    sum += t.weight * r
    const name = indicator(t.indicator).name
    lines.push({ zh: `${name}：期间均值 ${num(c)} mg/L ÷ 基准值 ${num(t.baseline)} mg/L = ${num(r)}，权重 ${num(t.weight)}`, en: `${t.indicator}: period mean ${num(c)} mg/L / baseline ${num(t.baseline)} mg/L = ${num(r)}, weight ${num(t.weight)}` })
  }
  const p = a.k0 * sum
  const down = p <= 1
  lines.push({
    zh: `P = k0 × Σ kᵢ·Cᵢ/Cᵢ0 = ${num(a.k0)} × ${num(sum)} = ${num(p)}；P ${down ? '≤' : '>'} 1，${down ? '下游补偿上游' : '上游补偿下游'} ${yuan(a.amount)} 元`,
    en: `P = k0 × Σ k_i·C_i/C_i0 = ${num(a.k0)} × ${num(sum)} = ${num(p)}; P ${down ? '≤' : '>'} 1: the ${down ? 'downstream unit pays the upstream' : 'upstream unit pays the downstream'} ${yuan(a.amount)} yuan`,
  })
  return { toUpstream: down ? a.amount : -a.amount, lines, p }
}

/** (b) The class-based bidirectional settlement from each month's section class. */
export function settleClass(a: Extract<Agreement, { type: 'class' }>, months: { month: string; cls: WaterClass }[]): Settlement {
  let total = 0
  const lines: Line[] = []
  for (const { month, cls } of months) {
    const d = a.target - cls
    const v = d >= 0 ? a.at_target + d * a.per_class_better : d * a.per_class_worse
    total += v
    lines.push({
      zh: `${month}：${CLASS_NAMES[cls]}类（目标${CLASS_NAMES[a.target]}类），${v >= 0 ? `下游补偿上游 ${yuan(v)}` : `上游补偿下游 ${yuan(-v)}`} 元`,
      en: `${month}: class ${CLASS_NAMES[cls]} (target ${CLASS_NAMES[a.target]}): ${v >= 0 ? `downstream pays upstream ${yuan(v)}` : `upstream pays downstream ${yuan(-v)}`} yuan`,
    })
  }
  lines.push({ zh: `合计：${total >= 0 ? `下游补偿上游 ${yuan(total)}` : `上游补偿下游 ${yuan(-total)}`} 元`, en: `total: ${total >= 0 ? `downstream pays upstream ${yuan(total)}` : `upstream pays downstream ${yuan(-total)}`} yuan` })
  return { toUpstream: total, lines }
}

/** (c) The load settlement: the period's load of an indicator (tonnes) against the agreed load. */
export function settleLoad(a: Extract<Agreement, { type: 'load' }>, loadT: number): Settlement {
  const over = Math.max(0, loadT - a.agreed_t)
  const v = over * a.yuan_per_t
  const name = indicator(a.indicator).name
  return {
    toUpstream: -v,
    lines: [{
      zh: `${name}通量 ${num(loadT, 3)} t，约定 ${num(a.agreed_t, 3)} t，超出 ${num(over, 3)} t × ${yuan(a.yuan_per_t)} 元/t = 上游补偿下游 ${yuan(v)} 元`,
      en: `${a.indicator} load ${num(loadT, 3)} t, agreed ${num(a.agreed_t, 3)} t, over by ${num(over, 3)} t × ${yuan(a.yuan_per_t)} yuan/t: the upstream pays the downstream ${yuan(v)} yuan`,
    }],
  }
}

/** (d) The flow settlement: months whose mean flow is below the ecological-flow target. */
export function settleFlow(a: Extract<Agreement, { type: 'flow' }>, months: { month: string; flow_m3s: number }[]): Settlement {
  const below = months.filter((m) => m.flow_m3s < a.target_m3s)
  const v = below.length * a.per_month_below
  return {
    toUpstream: -v,
    lines: [
      ...below.map((m) => ({ zh: `${m.month}：月均流量 ${num(m.flow_m3s, 2)} m³/s，低于生态流量 ${num(a.target_m3s, 2)} m³/s`, en: `${m.month}: mean flow ${num(m.flow_m3s, 2)} m³/s, below the ecological flow of ${num(a.target_m3s, 2)} m³/s` })),
      { zh: `${below.length} 个月低于生态流量 × ${yuan(a.per_month_below)} 元 = 上游补偿下游 ${yuan(v)} 元`, en: `${below.length} month(s) below the ecological flow × ${yuan(a.per_month_below)} yuan: the upstream pays the downstream ${yuan(v)} yuan` },
    ],
  }
}

export interface LedgerEntry { unit: string; role: 'upstream' | 'downstream'; amount_yuan: number }

/** The two entries of a settlement between a pair: what one pays the other receives (they sum to zero). */
export function pairLedger(upstream: string, downstream: string, s: Settlement): [LedgerEntry, LedgerEntry] {
  return [
    { unit: upstream, role: 'upstream', amount_yuan: s.toUpstream },
    { unit: downstream, role: 'downstream', amount_yuan: -s.toUpstream },
  ]
}

/**
 * Load of a period in tonnes from monthly means: Σ month (mean concentration, mg/L = g/m³)
 * × (mean flow, m³/s) × seconds of the month / 10⁶.
 */
export function monthlyLoadT(months: { month: string; mgPerL: number; flow_m3s: number }[]): number {
  let g = 0
  for (const m of months) {
    const [y, mo] = m.month.split('-').map(Number) as [number, number]
    if (!(y > 0 && mo >= 1 && mo <= 12)) throw new Error(`month '${m.month}': write YYYY-MM`)
    const seconds = (Date.UTC(y, mo, 1) - Date.UTC(y, mo - 1, 1)) / 1000
    g += m.mgPerL * m.flow_m3s * seconds
  }
  return g / 1e6
}
