// Factor-method allocation (因素法), explained line by line. Pure: numbers in, numbers out.
//
//   1. weighted share   s_i = Σ_k w_k × f_ik / Σ_j f_jk          (weights normalised to 1)
//   2. coefficients     t_i = c_i × s_i / Σ_j c_j × s_j           (c_i = product of the unit's adjustments)
//   3. before deductions p_i = budget × t_i
//   4. deductions       d_i = min(p_i, Σ_rules rate × factor_i)   (e.g. yuan per ha of red line lost: 逆向关联)
//                       the deducted money stays in the budget: it is shared by all units in
//                       proportion to what they keep (p_i − d_i)
//   5. floors and caps  units below the floor are raised to it, above the cap lowered to it;
//                       the difference is taken from / given to the other units in proportion
//                       to their amounts, repeated until none is out of bounds
//   6. rounding         to 0.01 yuan by largest remainder, so the amounts sum to the budget exactly
import { BadInput } from '../errors.ts'

export interface Where { factor: string; gt?: number; gte?: number; lt?: number; lte?: number }

export interface AllocationConfig {
  budget: number
  factors: { factor: string; weight: number; label?: string }[]
  adjustments?: { units?: string[]; where?: Where; coefficient: number; reason: string }[]
  deductions?: { factor: string; rate_per_ha?: number; rate_per_unit?: number; reason: string }[]
  floor?: number
  cap?: number
}

export interface UnitFactors {
  code: string
  name: string | null
  /** factor id → value (areas in m²) */
  values: Record<string, number>
}

export interface ExplanationLine {
  step: string
  text: string
  /** the same line in Chinese, for the viewer and reports in 中文 */
  zh: string
  /** the yuan amount after this step, where it changes one */
  amount?: number
}

export interface UnitAllocation {
  unit_code: string
  unit_name: string | null
  weighted_share: number
  coefficient: number
  adjusted_share: number
  before_deductions: number
  deduction: number
  redistributed: number
  floor_cap: number
  amount: number
  explanation: ExplanationLine[]
}

export interface AllocationResult {
  budget: number
  weights: { factor: string; weight: number; given: number }[]
  warnings: string[]
  units: UnitAllocation[]
  totals: Record<string, number>
}

const fmt = (x: number, d = 2) => x.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d })
const pct = (x: number) => `${(x * 100).toFixed(4)}%`

export function checkConfig(c: unknown, known: Set<string>): AllocationConfig {
  const bad = (m: string) => new BadInput(`allocation config: ${m}`)
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw bad('must be an object {budget, factors, adjustments?, deductions?, floor?, cap?}')
  const o = c as Record<string, unknown>
  const num = (v: unknown, what: string, min = -Infinity) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw bad(`${what} must be a number${min > -Infinity ? ` ≥ ${min}` : ''}, not ${JSON.stringify(v)}`)
    return v
  }
  const budget = num(o.budget, 'budget', 0.01)
  if (Math.abs(Math.round(budget * 100) - budget * 100) > 1e-6) throw bad(`budget ${budget} has more than 2 decimals (yuan and fen)`)
  if (budget > 1e13) throw bad(`budget ${budget} is implausibly large (over 10 trillion yuan)`)
  const factorRef = (f: unknown, what: string) => {
    if (typeof f !== 'string') throw bad(`${what}: factor must be a factor id`)
    if (!known.has(f)) throw bad(`${what}: unknown factor '${f}' (known: ${[...known].join(', ')})`)
    return f
  }
  if (!Array.isArray(o.factors) || !o.factors.length) throw bad('factors: a non-empty list of {factor, weight}')
  const factors = o.factors.map((x, i) => {
    const f = x as Record<string, unknown>
    return { factor: factorRef(f?.factor, `factors[${i}]`), weight: num(f?.weight, `factors[${i}].weight`, 0), label: typeof f?.label === 'string' ? f.label : undefined }
  })
  if (new Set(factors.map((f) => f.factor)).size !== factors.length) throw bad('factors: a factor is listed twice')
  if (!factors.some((f) => f.weight > 0)) throw bad('factors: at least one weight must be positive')
  const adjustments = ((o.adjustments ?? []) as unknown[]).map((x, i) => {
    const a = x as Record<string, unknown>
    if (!a || typeof a !== 'object') throw bad(`adjustments[${i}] must be an object`)
    const coefficient = num(a.coefficient, `adjustments[${i}].coefficient`, 0)
    if (typeof a.reason !== 'string' || !a.reason) throw bad(`adjustments[${i}]: give a reason (it appears in the explanation)`)
    if (!a.units === !a.where) throw bad(`adjustments[${i}]: give either units (a list of unit codes) or where ({factor, gt|gte|lt|lte})`)
    if (a.units && (!Array.isArray(a.units) || a.units.some((u) => typeof u !== 'string'))) throw bad(`adjustments[${i}].units must be a list of unit codes`)
    let where: Where | undefined
    if (a.where) {
      const w = a.where as Record<string, unknown>
      where = { factor: factorRef(w.factor, `adjustments[${i}].where`) }
      for (const k of ['gt', 'gte', 'lt', 'lte'] as const) if (w[k] !== undefined) where![k] = num(w[k], `adjustments[${i}].where.${k}`)
      if (!['gt', 'gte', 'lt', 'lte'].some((k) => w[k] !== undefined)) throw bad(`adjustments[${i}].where needs one of gt, gte, lt, lte`)
    }
    return { units: a.units as string[] | undefined, where, coefficient, reason: a.reason }
  })
  const deductions = ((o.deductions ?? []) as unknown[]).map((x, i) => {
    const d = x as Record<string, unknown>
    if (!d || typeof d !== 'object') throw bad(`deductions[${i}] must be an object`)
    if ((d.rate_per_ha === undefined) === (d.rate_per_unit === undefined)) throw bad(`deductions[${i}]: give rate_per_ha (yuan per hectare of an area factor) or rate_per_unit (yuan per unit of the factor)`)
    if (typeof d.reason !== 'string' || !d.reason) throw bad(`deductions[${i}]: give a reason`)
    return {
      factor: factorRef(d.factor, `deductions[${i}]`),
      rate_per_ha: d.rate_per_ha === undefined ? undefined : num(d.rate_per_ha, `deductions[${i}].rate_per_ha`, 0),
      rate_per_unit: d.rate_per_unit === undefined ? undefined : num(d.rate_per_unit, `deductions[${i}].rate_per_unit`, 0),
      reason: d.reason,
    }
  })
  const floor = o.floor === undefined ? undefined : num(o.floor, 'floor', 0)
  const cap = o.cap === undefined ? undefined : num(o.cap, 'cap', 0)
  if (floor !== undefined && cap !== undefined && floor > cap) throw bad(`floor ${floor} is above cap ${cap}`)
  for (const k of Object.keys(o)) if (!['budget', 'factors', 'adjustments', 'deductions', 'floor', 'cap', 'units', 'description', 'definitions'].includes(k)) throw bad(`unknown key '${k}'`)
  return { budget, factors, adjustments, deductions, floor, cap }
}

export function allocate(units: UnitFactors[], config: AllocationConfig): AllocationResult {
  if (!units.length) throw new BadInput('allocation: no units')
  const c = config
  const n = units.length
  if (c.floor !== undefined && c.floor * n > c.budget + 1e-9) throw new BadInput(`allocation: floor ${c.floor} × ${n} units exceeds the budget ${c.budget}`)
  if (c.cap !== undefined && c.cap * n < c.budget - 1e-9) throw new BadInput(`allocation: cap ${c.cap} × ${n} units is less than the budget ${c.budget}`)
  const warnings: string[] = []
  const given = c.factors.reduce((s, f) => s + f.weight, 0)
  if (Math.abs(given - 1) > 1e-9) warnings.push(`weights sum to ${given}, not 1: normalised (each divided by ${given})`)
  const weights = c.factors.map((f) => ({ factor: f.factor, weight: f.weight / given, given: f.weight }))
  const lines: ExplanationLine[][] = units.map(() => [])
  const codes = new Set(units.map((u) => u.code))
  ;(c.adjustments ?? []).forEach((a, i) => {
    const missing = (a.units ?? []).filter((u) => !codes.has(u))
    if (missing.length) warnings.push(`adjustments[${i}] (${a.reason}): unit codes not in the unit set, so not adjusted: ${missing.join(', ')}`)
  })

  // 1. weighted share
  const totals: Record<string, number> = {}
  for (const w of weights) {
    totals[w.factor] = units.reduce((s, u) => s + Math.max(0, u.values[w.factor] ?? 0), 0)
    if (w.weight > 0 && totals[w.factor] === 0) warnings.push(`factor ${w.factor} is 0 in every unit: its weight ${w.given} pays nobody and is spread over the other factors`)
  }
  const live = weights.filter((w) => totals[w.factor]! > 0)
  const liveSum = live.reduce((s, w) => s + w.weight, 0)
  if (liveSum === 0) throw new BadInput('allocation: every weighted factor is 0 in every unit; nothing to allocate by')
  const s = units.map((u, i) => {
    let share = 0
    for (const w of live) {
      const f = Math.max(0, u.values[w.factor] ?? 0)
      const part = f / totals[w.factor]!
      const ww = w.weight / liveSum
      share += ww * part
      const q = (x: number) => (w.factor.endsWith('_m2') ? `${fmt(x / 1e4, 4)} ha` : fmt(x, 4))
      const qz = (x: number) => (w.factor.endsWith('_m2') ? `${fmt(x / 1e4, 4)} 公顷` : fmt(x, 4))
      lines[i]!.push({ step: 'factor', text: `${w.factor}: ${q(f)} of ${q(totals[w.factor]!)} = ${pct(part)} × weight ${ww.toFixed(4)} = ${pct(ww * part)}`, zh: `${w.factor}：${qz(f)}，占全部 ${qz(totals[w.factor]!)} 的 ${pct(part)} × 权重 ${ww.toFixed(4)} = ${pct(ww * part)}` })
    }
    lines[i]!.push({ step: 'share', text: `weighted share ${pct(share)}`, zh: `加权占比 ${pct(share)}` })
    return share
  })

  // 2. coefficients
  const coef = units.map((u, i) => {
    let k = 1
    for (const a of c.adjustments ?? []) {
      const hit = a.units ? a.units.includes(u.code) : matches(u.values[a.where!.factor] ?? 0, a.where!)
      if (!hit) continue
      k *= a.coefficient
      lines[i]!.push({ step: 'coefficient', text: `× ${a.coefficient}: ${a.reason}`, zh: `× ${a.coefficient}：${a.reason}` })
    }
    return k
  })
  const cs = s.map((x, i) => x * coef[i]!)
  const csSum = cs.reduce((a, b) => a + b, 0)
  if (!(csSum > 0)) throw new BadInput('allocation: every unit has a zero share after coefficients')
  const t = cs.map((x) => x / csSum)
  const p = t.map((x) => c.budget * x)
  t.forEach((x, i) => lines[i]!.push({ step: 'base', text: `adjusted share ${pct(x)} (share × coefficient ${coef[i]} / Σ) × budget ${fmt(c.budget)} = ${fmt(p[i]!)}`, zh: `调整后占比 ${pct(x)}（加权占比 × 调整系数 ${coef[i]} / 合计）× 资金总额 ${fmt(c.budget)} 元 = ${fmt(p[i]!)} 元`, amount: p[i] }))

  // 4. deductions, kept in the budget
  const d = units.map((u, i) => {
    let sum = 0
    for (const r of c.deductions ?? []) {
      const v = Math.max(0, u.values[r.factor] ?? 0)
      const yuan = r.rate_per_ha !== undefined ? (v / 1e4) * r.rate_per_ha : v * r.rate_per_unit!
      if (yuan > 0) {
        sum += yuan
        // a line only for what shows as money: a loss of a few mm² (the last bits of two
        // vintages' sums) would print "− 0.00" in one run and nothing in the next
        if (yuan >= 0.005) {
          lines[i]!.push(r.rate_per_ha !== undefined
            ? { step: 'deduction', text: `− ${fmt(yuan)}: ${r.reason} (${fmt(v / 1e4, 4)} ha × ${fmt(r.rate_per_ha)} yuan/ha)`, zh: `− ${fmt(yuan)} 元：${r.reason}（${fmt(v / 1e4, 4)} 公顷 × ${fmt(r.rate_per_ha)} 元/公顷）` }
            : { step: 'deduction', text: `− ${fmt(yuan)}: ${r.reason} (${fmt(v, 4)} × ${fmt(r.rate_per_unit!)})`, zh: `− ${fmt(yuan)} 元：${r.reason}（${fmt(v, 4)} × ${fmt(r.rate_per_unit!)}）` })
        }
      }
    }
    if (sum > p[i]!) {
      lines[i]!.push({ step: 'deduction', text: `deductions ${fmt(sum)} exceed the amount ${fmt(p[i]!)}: limited to it`, zh: `扣减合计 ${fmt(sum)} 元超过分配额 ${fmt(p[i]!)} 元：以分配额为限` })
      sum = p[i]!
    }
    return sum
  })
  const pool = d.reduce((a, b) => a + b, 0)
  const kept = p.map((x, i) => x - d[i]!)
  const keptSum = kept.reduce((a, b) => a + b, 0)
  if (pool > 0 && !(keptSum > 0)) throw new BadInput('allocation: the deductions take the whole budget; lower their rates')
  const r = kept.map((x) => (pool === 0 ? 0 : (pool * x) / keptSum))
  let amount = p.map((x, i) => x - d[i]! + r[i]!)
  units.forEach((_, i) => {
    if (pool > 0) lines[i]!.push({ step: 'redistribution', text: `+ ${fmt(r[i]!)}: share of the ${fmt(pool)} deducted in all units, in proportion to the ${fmt(kept[i]!)} kept`, zh: `+ ${fmt(r[i]!)} 元：各单元扣减合计 ${fmt(pool)} 元按保留额 ${fmt(kept[i]!)} 元的比例再分配`, amount: amount[i] })
  })

  // 5. floors and caps: the free units share what the fixed ones leave, in proportion to
  //    their amounts; then the side (below the floor, above the cap) that is violated more is
  //    fixed at its bound, and again, until no free unit is out of bounds. (Fixing one side at a
  //    time never overshoots; n × floor ≤ budget ≤ n × cap makes it end with every unit in
  //    bounds.) Units whose share is zero, when only they are left, split the rest equally.
  const before = [...amount]
  const lo = c.floor ?? -Infinity
  const hi = c.cap ?? Infinity
  const fixed = new Array<boolean>(n).fill(false)
  for (let iter = 0; iter <= n; iter++) {
    const rest = c.budget - amount.reduce((a, x, i) => a + (fixed[i] ? x : 0), 0)
    const w = before.reduce((a, x, i) => a + (fixed[i] ? 0 : x), 0)
    const freeCount = fixed.filter((f) => !f).length
    if (!freeCount) break
    for (let i = 0; i < n; i++) if (!fixed[i]) amount[i] = w > 0 ? (rest * before[i]!) / w : rest / freeCount
    let under = 0
    let over = 0
    for (let i = 0; i < n; i++) {
      if (fixed[i]) continue
      if (amount[i]! < lo) under += lo - amount[i]!
      if (amount[i]! > hi) over += amount[i]! - hi
    }
    if (under <= 1e-9 && over <= 1e-9) break
    for (let i = 0; i < n; i++) {
      if (fixed[i]) continue
      if (under >= over && amount[i]! < lo) { amount[i] = lo; fixed[i] = true }
      else if (over > under && amount[i]! > hi) { amount[i] = hi; fixed[i] = true }
    }
  }
  units.forEach((_, i) => {
    const delta = amount[i]! - before[i]!
    if (Math.abs(delta) > 1e-6) {
      const floor = c.floor !== undefined && Math.abs(amount[i]! - c.floor) < 1e-6
      const cap = !floor && c.cap !== undefined && Math.abs(amount[i]! - c.cap) < 1e-6
      const why = floor ? `raised to the floor ${fmt(c.floor!)}` : cap ? `lowered to the cap ${fmt(c.cap!)}` : `${delta > 0 ? '+' : '−'} ${fmt(Math.abs(delta))}: rebalanced after floors/caps of other units`
      const zh = floor ? `提高到下限 ${fmt(c.floor!)} 元` : cap ? `降低到上限 ${fmt(c.cap!)} 元` : `${delta > 0 ? '+' : '−'} ${fmt(Math.abs(delta))} 元：其他单元按下限/上限调整后重新平衡`
      lines[i]!.push({ step: 'floor_cap', text: why, zh, amount: amount[i] })
    }
  })

  // 6. largest-remainder rounding to fen
  const fen = amount.map((x) => x * 100)
  const base = fen.map((x) => Math.floor(x + 1e-7))
  let left = Math.round(c.budget * 100) - base.reduce((a, b) => a + b, 0)
  const order = fen.map((x, i) => ({ i, rem: x - base[i]!, code: units[i]!.code })).sort((a, b) => b.rem - a.rem || (a.code < b.code ? -1 : 1))
  for (const o of order) {
    if (left <= 0) break
    base[o.i]!++
    left--
  }
  for (let k = 0; left < 0 && k < order.length; k++) { // only if float noise overshot
    const o = order[order.length - 1 - k]!
    if (base[o.i]! > 0) { base[o.i]!--; left++ }
  }
  const out: UnitAllocation[] = units.map((u, i) => {
    const final = base[i]! / 100
    lines[i]!.push({ step: 'rounding', text: `rounded to the fen (largest remainder): ${fmt(final)} yuan`, zh: `按分取整（最大余数法）：${fmt(final)} 元`, amount: final })
    return {
      unit_code: u.code, unit_name: u.name, weighted_share: s[i]!, coefficient: coef[i]!, adjusted_share: t[i]!,
      before_deductions: p[i]!, deduction: d[i]!, redistributed: r[i]!, floor_cap: amount[i]! - before[i]!, amount: final, explanation: lines[i]!,
    }
  })
  return { budget: c.budget, weights, warnings, units: out, totals }
}

function matches(v: number, w: Where): boolean {
  return (w.gt === undefined || v > w.gt) && (w.gte === undefined || v >= w.gte) && (w.lt === undefined || v < w.lt) && (w.lte === undefined || v <= w.lte)
}
