// Surface-water quality classes after GB 3838-2002 《地表水环境质量标准》 Table 1 (basic items,
// 表1 地表水环境质量标准基本项目标准限值, mg/L unless stated), with the evaluation rules of
// 《地表水环境质量评价办法（试行）》 (环办〔2011〕22号): a section's class is the worst class of
// its evaluated indicators (single-factor method); 水温, 总氮 and 粪大肠菌群 are not evaluated
// in that class (总氮 of lakes and reservoirs is evaluated on its own); a value worse than the
// Class V limit is 劣Ⅴ. Pure: period means in, classes, compliance and exceedances out.

/** Classes I–V, and 6 for 劣Ⅴ (worse than V) */
export type WaterClass = 1 | 2 | 3 | 4 | 5 | 6
export const CLASS_NAMES: Record<WaterClass, string> = { 1: 'Ⅰ', 2: 'Ⅱ', 3: 'Ⅲ', 4: 'Ⅳ', 5: 'Ⅴ', 6: '劣Ⅴ' }
export type WaterBody = 'river' | 'lake'

export interface Indicator {
  id: string
  name: string
  unit: 'mg/L' | '个/L' | '1'
  /** max: a class holds values ≤ its limit; min: values ≥ its limit (dissolved oxygen); range: pH */
  kind: 'max' | 'min' | 'range'
  /** limits of classes I–V */
  limits: readonly [number, number, number, number, number]
  /** limits of classes I–V for lakes and reservoirs, where Table 1 gives them (总磷) */
  lake?: readonly [number, number, number, number, number]
  /** part of a section's class under the evaluation rules (the 21 items) */
  evaluated: boolean | 'lake_alone'
}

const L = (a: number, b: number, c: number, d: number, e: number) => [a, b, c, d, e] as const

/**
 * GB 3838-2002 Table 1, items 2–24 (item 1, 水温, has no class limits). Dissolved oxygen, Class
 * I: 饱和率90%（或7.5）, taken as 7.5 mg/L. pH: 6–9 in every class.
 */
export const GB3838_TABLE1: readonly Indicator[] = [
  { id: 'ph', name: 'pH值', unit: '1', kind: 'range', limits: L(6, 6, 6, 6, 6), evaluated: true },
  { id: 'do', name: '溶解氧', unit: 'mg/L', kind: 'min', limits: L(7.5, 6, 5, 3, 2), evaluated: true },
  { id: 'codmn', name: '高锰酸盐指数', unit: 'mg/L', kind: 'max', limits: L(2, 4, 6, 10, 15), evaluated: true },
  { id: 'cod', name: '化学需氧量', unit: 'mg/L', kind: 'max', limits: L(15, 15, 20, 30, 40), evaluated: true },
  { id: 'bod5', name: '五日生化需氧量', unit: 'mg/L', kind: 'max', limits: L(3, 3, 4, 6, 10), evaluated: true },
  { id: 'nh3n', name: '氨氮', unit: 'mg/L', kind: 'max', limits: L(0.15, 0.5, 1.0, 1.5, 2.0), evaluated: true },
  { id: 'tp', name: '总磷', unit: 'mg/L', kind: 'max', limits: L(0.02, 0.1, 0.2, 0.3, 0.4), lake: L(0.01, 0.025, 0.05, 0.1, 0.2), evaluated: true },
  { id: 'tn', name: '总氮', unit: 'mg/L', kind: 'max', limits: L(0.2, 0.5, 1.0, 1.5, 2.0), evaluated: 'lake_alone' },
  { id: 'cu', name: '铜', unit: 'mg/L', kind: 'max', limits: L(0.01, 1.0, 1.0, 1.0, 1.0), evaluated: true },
  { id: 'zn', name: '锌', unit: 'mg/L', kind: 'max', limits: L(0.05, 1.0, 1.0, 2.0, 2.0), evaluated: true },
  { id: 'f', name: '氟化物', unit: 'mg/L', kind: 'max', limits: L(1.0, 1.0, 1.0, 1.5, 1.5), evaluated: true },
  { id: 'se', name: '硒', unit: 'mg/L', kind: 'max', limits: L(0.01, 0.01, 0.01, 0.02, 0.02), evaluated: true },
  { id: 'as', name: '砷', unit: 'mg/L', kind: 'max', limits: L(0.05, 0.05, 0.05, 0.1, 0.1), evaluated: true },
  { id: 'hg', name: '汞', unit: 'mg/L', kind: 'max', limits: L(0.00005, 0.00005, 0.0001, 0.001, 0.001), evaluated: true },
  { id: 'cd', name: '镉', unit: 'mg/L', kind: 'max', limits: L(0.001, 0.005, 0.005, 0.005, 0.01), evaluated: true },
  { id: 'cr6', name: '铬（六价）', unit: 'mg/L', kind: 'max', limits: L(0.01, 0.05, 0.05, 0.05, 0.1), evaluated: true },
  { id: 'pb', name: '铅', unit: 'mg/L', kind: 'max', limits: L(0.01, 0.01, 0.05, 0.05, 0.1), evaluated: true },
  { id: 'cn', name: '氰化物', unit: 'mg/L', kind: 'max', limits: L(0.005, 0.05, 0.2, 0.2, 0.2), evaluated: true },
  { id: 'phenol', name: '挥发酚', unit: 'mg/L', kind: 'max', limits: L(0.002, 0.002, 0.005, 0.01, 0.1), evaluated: true },
  { id: 'oil', name: '石油类', unit: 'mg/L', kind: 'max', limits: L(0.05, 0.05, 0.05, 0.5, 1.0), evaluated: true },
  { id: 'las', name: '阴离子表面活性剂', unit: 'mg/L', kind: 'max', limits: L(0.2, 0.2, 0.2, 0.3, 0.3), evaluated: true },
  { id: 's2', name: '硫化物', unit: 'mg/L', kind: 'max', limits: L(0.05, 0.1, 0.2, 0.5, 1.0), evaluated: true },
  { id: 'fc', name: '粪大肠菌群', unit: '个/L', kind: 'max', limits: L(200, 2000, 10000, 20000, 40000), evaluated: false },
]

const BY_ID = new Map(GB3838_TABLE1.map((i) => [i.id, i]))

export function indicator(id: string): Indicator {
  const i = BY_ID.get(id)
  if (!i) throw new Error(`GB 3838-2002 Table 1 has no indicator '${id}' (ids: ${[...BY_ID.keys()].join(', ')})`)
  return i
}

/** The limit of a class for a water body (lakes and reservoirs have their own for 总磷). */
export function limitOf(i: Indicator, cls: 1 | 2 | 3 | 4 | 5, water: WaterBody): number {
  return (water === 'lake' && i.lake ? i.lake : i.limits)[cls - 1]!
}

/** The best class whose limit a value meets: at the limit is within the class (≤ for maxima, ≥ for dissolved oxygen). */
export function classOf(id: string, value: number, water: WaterBody = 'river'): WaterClass {
  const i = indicator(id)
  if (!Number.isFinite(value)) throw new Error(`${i.name}: ${value} is not a measured value`)
  if (i.kind === 'range') return value >= 6 && value <= 9 ? 1 : 6
  for (const c of [1, 2, 3, 4, 5] as const) {
    const lim = limitOf(i, c, water)
    if (i.kind === 'max' ? value <= lim : value >= lim) return c
  }
  return 6
}

export interface SectionEvaluation {
  /** class of each indicator given */
  classes: Record<string, WaterClass>
  /** the worst class of the evaluated indicators (single-factor method) */
  overall: WaterClass
  /** the indicators that decide it */
  deciding: string[]
  /** whether the overall class meets the target */
  compliant: boolean
  /** indicators worse than the target, with (value − limit) / limit of the target class (none for dissolved oxygen and pH) */
  exceedances: { id: string; name: string; value: number; limit: number; multiple: number | null }[]
  /** 总氮 of a lake or reservoir, evaluated on its own */
  tnClass?: WaterClass
}

/** A section's period means (indicator id → mg/L) evaluated against its target class. */
export function evaluateSection(means: Record<string, number>, target: 1 | 2 | 3 | 4 | 5, water: WaterBody = 'river'): SectionEvaluation {
  const classes: Record<string, WaterClass> = {}
  for (const [id, v] of Object.entries(means)) classes[id] = classOf(id, v, water)
  const evaluated = Object.keys(classes).filter((id) => indicator(id).evaluated === true)
  if (!evaluated.length) throw new Error('no evaluated indicator among the means (pH, DO, CODMn, COD, BOD5, NH3-N, TP, metals …)')
  const overall = Math.max(...evaluated.map((id) => classes[id]!)) as WaterClass
  const exceedances: SectionEvaluation['exceedances'] = []
  for (const id of evaluated) {
    if (classes[id]! <= target) continue
    const i = indicator(id)
    const limit = i.kind === 'range' ? NaN : limitOf(i, target, water)
    exceedances.push({ id, name: i.name, value: means[id]!, limit, multiple: i.kind === 'max' ? (means[id]! - limit) / limit : null })
  }
  return {
    classes, overall, deciding: evaluated.filter((id) => classes[id] === overall), compliant: overall <= target, exceedances,
    tnClass: water === 'lake' && means.tn !== undefined ? classes.tn : undefined,
  }
}

/** Arithmetic mean of a period's samples, as the evaluation rules take it. */
export function periodMean(values: number[]): number {
  if (!values.length) throw new Error('no samples in the period')
  return values.reduce((s, v) => s + v, 0) / values.length
}

/** Load in kg: concentration (mg/L = g/m³) × flow (m³/s) × seconds / 1000. */
export function loadKg(mgPerL: number, flowM3s: number, seconds: number): number {
  return (mgPerL * flowM3s * seconds) / 1000
}
