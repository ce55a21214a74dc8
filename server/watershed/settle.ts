// A watershed settlement as a run (kind 'settlement'): an agreement file names a section set,
// a series and, per section, the agreement templates (agreements.ts); for a period (a year,
// months in China time) every section is evaluated after GB 3838-2002 (gb3838.ts), month by
// month and over the period, and every agreement settles between the section's upstream and
// downstream units. Missing data that money depends on is refused, never read as zero. The
// run records the section set, the series and the agreement; its result is the evaluation
// and a ledger whose two entries per agreement sum to zero.
import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { Db, Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { parseConfigFile } from '../config-file.ts'
import * as f from '../validate/fields.ts'
import { runToEnd, type RunOptions, type RunPlan, type StepContext } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { CLASS_NAMES, evaluateSection, GB3838_TABLE1, indicator, limitOf, periodMean, type WaterClass } from './gb3838.ts'
import { monthlyLoadT, pairLedger, settleClass, settleFlow, settleIndex, settleLoad, type Agreement, type Line } from './agreements.ts'
import { findSections, sectionsOf, type SectionRow } from './sections.ts'
import { findSeries, seriesValues } from './series.ts'
import { storeIndicators } from '../indicators/indicators.ts'
import { unitSetVersion } from '../units/unit-set.ts'

const ids = GB3838_TABLE1.map((i) => i.id) as [string, ...string[]]
const amount = f.number.pipe(z.number().min(0, { error: 'must be at least 0' }).max(1e12, { error: 'must be at most 10¹²' }))
const cls = f.int(1, 5)
const template = z.discriminatedUnion('template', [
  z.strictObject({ section: z.string().min(1).max(64), template: z.literal('index'), k0: f.number.pipe(z.number().positive()), amount,
    terms: z.array(z.strictObject({ indicator: f.oneOf(ids), weight: f.number.pipe(z.number().min(0)), baseline: f.number.pipe(z.number().positive({ error: 'a baseline mean must be positive' })) })).min(1) }),
  z.strictObject({ section: z.string().min(1).max(64), template: z.literal('class'), target: cls.optional(), at_target: amount, per_class_better: amount, per_class_worse: amount }),
  z.strictObject({ section: z.string().min(1).max(64), template: z.literal('load'), indicator: f.oneOf(ids), agreed_t: amount, yuan_per_t: amount }),
  z.strictObject({ section: z.string().min(1).max(64), template: z.literal('flow'), target_m3s: f.number.pipe(z.number().positive()), per_month_below: amount }),
], { error: 'template must be index, class, load or flow' })
export const AgreementSchema = z.strictObject({
  name: z.string().max(200).optional(),
  sections: z.string().min(1).max(100),
  series: z.string().min(1).max(100),
  period: f.int(1900, 2200).optional(),
  agreements: z.array(template).min(1).max(200),
  note: z.string().max(2000).optional(),
})
export type AgreementDoc = z.output<typeof AgreementSchema>

export function readAgreement(file: string): unknown {
  try {
    return parseConfigFile(file)
  } catch (err) {
    throw new BadInput(`agreement: ${(err as Error).message}`)
  }
}

export interface SettleRequest { agreement: unknown; period?: number }

const CHINA = 8 * 3600_000
/** start of a month in China time, epoch ms */
const monthStart = (y: number, m: number) => Date.UTC(y, m - 1, 1) - CHINA
const monthLabel = (y: number, m: number) => `${y}-${String(m).padStart(2, '0')}`

export interface EvaluationRow {
  section_code: string; section_name: string | null; river: string | null; upstream: string; downstream: string; period: number
  target_class: string; class: string; compliant: boolean; deciding: string; samples: number
}
export interface IndicatorRow { section_code: string; period: number; indicator: string; name: string; mean: number; unit: string; class: string; target_limit: number | null; exceedance: number | null }
export interface MonthRow { section_code: string; month: string; class: string | null; flow_m3s: number | null; samples: number }
export interface LedgerRow { agreement: number; template: string; section_code: string; period: number; unit_code: string; role: string; counterpart: string; amount_yuan: number }
export interface ExplanationRow { agreement: number; section_code: string; line: number; zh: string; en: string }

export interface SettlementResult {
  run: RunRecord
  name: string | null
  period: number
  sections: { name: string; vintage: string; id: number; checksum: string }
  series: { name: string; vintage: string; id: number; checksum: string }
  agreementSha256: string
  method: string
  evaluation: EvaluationRow[]
  indicators: IndicatorRow[]
  months: MonthRow[]
  ledger: LedgerRow[]
  explanation: ExplanationRow[]
}

export const SETTLEMENT_METHOD =
  'GB 3838-2002 Table 1 classes; 《地表水环境质量评价办法（试行）》: arithmetic means of the samples of a month or of the period, the worst class of the 21 evaluated items (水温, 总氮, 粪大肠菌群 not in the class), exceedance multiple (C − limit of the target class) / limit. ' +
  'Months in China time (UTC+8). Loads: Σ month mean concentration × mean flow × seconds of the month. Agreements: docs/watershed.md (index P = k0 · Σ k_i C_i / C_i0, class-based per month, load, flow). Positive amounts are received.'

/** Settles every agreement for the period; pure given the sections and the period's samples. */
export function settle(doc: AgreementDoc, period: number, sections: SectionRow[], samples: { section_code: string; at: number; indicator: string; value: number; flow_m3s: number | null }[]): Omit<SettlementResult, 'run' | 'name' | 'period' | 'sections' | 'series' | 'agreementSha256' | 'method'> {
  const byCode = new Map(sections.map((s) => [s.code, s]))
  const out = { evaluation: [] as EvaluationRow[], indicators: [] as IndicatorRow[], months: [] as MonthRow[], ledger: [] as LedgerRow[], explanation: [] as ExplanationRow[] }
  const monthOf = (at: number) => new Date(at + CHINA).getUTCMonth() + 1
  const evaluated = new Map<string, { months: Map<number, { means: Record<string, number>; cls: WaterClass | null; flow: number | null }>; means: Record<string, number> }>()
  const sectionData = (code: string) => {
    const s = byCode.get(code)
    if (!s) throw new BadInput(`agreement: section ${code} is not in the section set (has ${[...byCode.keys()].join(', ')})`)
    let e = evaluated.get(code)
    if (e) return { s, e }
    const mine = samples.filter((x) => x.section_code === code)
    if (!mine.length) throw new BadInput(`section ${code} has no samples in ${period}`)
    const months = new Map<number, { means: Record<string, number>; cls: WaterClass | null; flow: number | null }>()
    for (let m = 1; m <= 12; m++) {
      const inMonth = mine.filter((x) => monthOf(x.at) === m)
      const means: Record<string, number> = {}
      for (const id of new Set(inMonth.map((x) => x.indicator))) means[id] = periodMean(inMonth.filter((x) => x.indicator === id).map((x) => x.value))
      const flows = [...new Map(inMonth.filter((x) => x.flow_m3s !== null).map((x) => [x.at, x.flow_m3s!])).values()]
      const hasClass = Object.keys(means).some((id) => indicator(id).evaluated === true)
      const cls = hasClass ? evaluateSection(means, s.target_class as 1, s.water_body).overall : null
      months.set(m, { means, cls, flow: flows.length ? periodMean(flows) : null })
      out.months.push({ section_code: code, month: monthLabel(period, m), class: cls ? CLASS_NAMES[cls] : null, flow_m3s: flows.length ? periodMean(flows) : null, samples: inMonth.length })
    }
    const means: Record<string, number> = {}
    for (const id of new Set(mine.map((x) => x.indicator))) means[id] = periodMean(mine.filter((x) => x.indicator === id).map((x) => x.value))
    const ev = evaluateSection(means, s.target_class as 1, s.water_body)
    out.evaluation.push({
      section_code: code, section_name: s.name, river: s.river, upstream: s.upstream, downstream: s.downstream, period, target_class: CLASS_NAMES[s.target_class as WaterClass],
      class: CLASS_NAMES[ev.overall], compliant: ev.compliant, deciding: ev.deciding.map((id) => indicator(id).name).join('、'), samples: mine.length,
    })
    for (const [id, v] of Object.entries(means)) {
      const i = indicator(id)
      const x = ev.exceedances.find((y) => y.id === id)
      out.indicators.push({ section_code: code, period, indicator: id, name: i.name, mean: v, unit: i.unit, class: CLASS_NAMES[ev.classes[id]!], target_limit: i.kind === 'range' ? null : limitOf(i, s.target_class as 1, s.water_body), exceedance: x?.multiple ?? null })
    }
    e = { months, means }
    evaluated.set(code, e)
    return { s, e }
  }
  doc.agreements.forEach((a, k) => {
    const n = k + 1
    const { s, e } = sectionData(a.section)
    const missing = (what: string, months: number[]) => new BadInput(`agreement ${n} (${a.template}, section ${s.code}): no ${what} in ${months.map((m) => monthLabel(period, m)).join(', ')}; a settlement needs every month of ${period}`)
    const all = [...e.months.entries()]
    let result
    if (a.template === 'index') {
      result = settleIndex({ type: 'index', k0: a.k0, amount: a.amount, terms: a.terms }, e.means)
    } else if (a.template === 'class') {
      const target = (a.target ?? s.target_class) as 1
      const none = all.filter(([, m]) => m.cls === null).map(([m]) => m)
      if (none.length) throw missing('water-quality samples', none)
      result = settleClass({ type: 'class', target, at_target: a.at_target, per_class_better: a.per_class_better, per_class_worse: a.per_class_worse }, all.map(([m, v]) => ({ month: monthLabel(period, m), cls: v.cls! })))
    } else if (a.template === 'load') {
      const none = all.filter(([, m]) => m.means[a.indicator] === undefined || m.flow === null).map(([m]) => m)
      if (none.length) throw missing(`${indicator(a.indicator).name} with flow`, none)
      const t = monthlyLoadT(all.map(([m, v]) => ({ month: monthLabel(period, m), mgPerL: v.means[a.indicator]!, flow_m3s: v.flow! })))
      result = settleLoad({ type: 'load', indicator: a.indicator, agreed_t: a.agreed_t, yuan_per_t: a.yuan_per_t }, t)
    } else {
      const none = all.filter(([, m]) => m.flow === null).map(([m]) => m)
      if (none.length) throw missing('flow', none)
      result = settleFlow({ type: 'flow', target_m3s: a.target_m3s, per_month_below: a.per_month_below }, all.map(([m, v]) => ({ month: monthLabel(period, m), flow_m3s: v.flow! })))
    }
    const [up, down] = pairLedger(s.upstream, s.downstream, result)
    out.ledger.push({ agreement: n, template: a.template, section_code: s.code, period, unit_code: up.unit, role: 'upstream', counterpart: s.downstream, amount_yuan: up.amount_yuan })
    out.ledger.push({ agreement: n, template: a.template, section_code: s.code, period, unit_code: down.unit, role: 'downstream', counterpart: s.upstream, amount_yuan: down.amount_yuan })
    const head: Line = { zh: `协议 ${n}（${a.template}）：断面 ${s.name ?? s.code}，上游 ${s.upstream}，下游 ${s.downstream}，${period} 年`, en: `agreement ${n} (${a.template}): section ${s.code}, upstream ${s.upstream}, downstream ${s.downstream}, ${period}` }
    ;[head, ...result.lines].forEach((l, i) => out.explanation.push({ agreement: n, section_code: s.code, line: i + 1, ...l }))
  })
  return out
}

/** A settlement as a run. */
export async function planSettlement(db: Queryable, req: SettleRequest): Promise<RunPlan> {
  const doc = f.parseInput(AgreementSchema, req.agreement, 'body') as AgreementDoc
  const period = req.period ?? doc.period
  if (period === undefined) throw new BadInput('agreement: give the period (a year): period: 2024, or --period 2024')
  const sections = await findSections(db, doc.sections)
  const series = await findSeries(db, doc.series)
  if (series.section_set_id !== sections.id) throw new BadInput(`series ${series.name}@${series.vintage} was imported for another section set than ${sections.name}@${sections.vintage}`)
  const points = await sectionsOf(db, sections.id)
  for (const a of doc.agreements) if (!points.some((p) => p.code === a.section)) throw new BadInput(`agreement: section ${a.section} is not in ${sections.name}@${sections.vintage} (has ${points.map((p) => p.code).join(', ')})`)
  const agreementSha256 = createHash('sha256').update(JSON.stringify(req.agreement)).digest('hex')
  const meta = {
    name: doc.name ?? null, period, agreementSha256, method: SETTLEMENT_METHOD,
    sections: { name: sections.name, vintage: sections.vintage, id: sections.id, checksum: sections.source_checksum },
    series: { name: series.name, vintage: series.vintage, id: series.id, checksum: series.source_checksum },
  }
  let body: ReturnType<typeof settle> | undefined
  return {
    kind: 'settlement',
    params: { agreement: req.agreement, period },
    inputs: { sections: { id: sections.id, checksum: sections.source_checksum }, series: { id: series.id, checksum: series.source_checksum }, agreementSha256 },
    meta,
    steps: [
      {
        label: 'settle', weight: 1,
        run: async (ctx: StepContext) => {
          const samples = await seriesValues(ctx.db, series.id, monthStart(period, 1), monthStart(period + 1, 1))
          body = settle(doc, period, points, samples)
        },
      },
      {
        label: 'store', weight: 0.01,
        run: async (ctx: StepContext) => void (await ctx.db.query('INSERT INTO run_result (run_id, entries, body) VALUES ($1, $2, $3)', [ctx.runId, body!.ledger.length, JSON.stringify(body)])),
      },
    ],
  }
}

export async function readSettlement(db: Queryable, run: RunRecord): Promise<SettlementResult> {
  const [r] = await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [run.id])
  if (!r) throw new BadInput(`settlement run ${run.id} has no stored result; run it again (--fresh)`)
  const m = run.meta as unknown as Omit<SettlementResult, 'run' | 'evaluation' | 'indicators' | 'months' | 'ledger' | 'explanation'>
  return { run, ...m, ...(JSON.parse(r.body) as ReturnType<typeof settle>) }
}

export async function settleBasin(db: Db, req: SettleRequest, opts: RunOptions = {}): Promise<SettlementResult> {
  return readSettlement(db, await runToEnd(db, await planSettlement(db, req), opts))
}

/**
 * A settlement as per-unit indicators (performance evaluation of cross-boundary sections,
 * 004 二(二)): for every unit of a set, the money it receives (negative: pays), the sections it
 * is upstream of and how many met their target in the period; stored as NAME@period with the
 * settlement run as its source. Units the agreements do not name get 0; codes outside the set
 * (a downstream province) are left out and listed.
 */
export async function settlementIndicators(db: Db, r: SettlementResult, o: { units: string; name: string; replace?: boolean; actor?: string }) {
  const set = await unitSetVersion(db, o.units)
  const codes = (await db.query<{ code: string }>('SELECT code FROM unit WHERE set_id = $1 ORDER BY code', [set.id])).map((x) => x.code)
  const inSet = new Set(codes)
  const named = new Set([...r.ledger.map((l) => l.unit_code), ...r.evaluation.flatMap((e) => [e.upstream, e.downstream])])
  if (![...named].some((c) => inSet.has(c))) throw new BadInput(`settlement run ${r.run.id} names no unit of ${set.name} (${[...named].join(', ')})`)
  const values: [string, string, number][] = []
  for (const c of codes) {
    const mine = r.evaluation.filter((e) => e.upstream === c)
    values.push([c, 'basin_net_yuan', r.ledger.filter((l) => l.unit_code === c).reduce((s, l) => s + l.amount_yuan, 0)])
    values.push([c, 'basin_sections', mine.length])
    values.push([c, 'basin_sections_met', mine.filter((e) => e.compliant).length])
  }
  const checksum = 'sha256:' + createHash('sha256').update(JSON.stringify([r.ledger, r.evaluation])).digest('hex')
  const stored = await storeIndicators(db, {
    name: o.name, year: String(r.period), set, sourceFile: `settlement run ${r.run.id}`, checksum, values, replace: o.replace, actor: o.actor,
    indicators: { basin_net_yuan: '元', basin_sections: '个', basin_sections_met: '个' },
  })
  return { ...stored, outside: [...named].filter((c) => !inSet.has(c)) }
}
