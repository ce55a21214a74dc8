// The compensation ledger from a unit's pieces of ground (faces.sql, reduced per programme):
// who pays each piece under the rule, what each programme, class and payee is paid, what
// ground two programmes would both have paid (the audit figure of 避免重复补偿), and each
// unit's explanation in Chinese and English. Pure: everything is a sum over the same pieces,
// so the identities hold as printed: Σ claimed × rate − Σ paid × rate = Σ double-counted
// money, paid + excluded = claimed, payees sum to their programme.
import { RATE_UNITS, payeeFieldOf, precedence, ratePerM2, type Standards } from './config.ts'

/** A piece of ground with the programmes covering it: [programme index, class, payee] each. */
export interface Piece { members: [number, string, string][]; area_m2: number }
export interface UnitPieces { code: string; name: string | null; area_m2: number; pieces: Piece[] }

export interface LedgerRow {
  unit_code: string; unit_name: string | null; programme: string; programme_name: string; class: string; year: number
  rate: number; rate_unit: string; claimed_m2: number; excluded_m2: number; paid_m2: number; amount_yuan: number; claimed_yuan: number
}
export interface PayeeRow { unit_code: string; unit_name: string | null; programme: string; programme_name: string; payee_field: string | null; payee: string; paid_m2: number; amount_yuan: number }
export interface PairRow {
  unit_code: string; unit_name: string | null; paid_by: string; paid_by_name: string; also_covered_by: string; also_covered_by_name: string
  area_m2: number; rate: number; rate_unit: string; yuan: number
}
export interface LedgerUnitRow {
  unit_code: string; unit_name: string | null; unit_area_m2: number; covered_m2: number; paid_m2: number; amount_yuan: number
  amount_if_sum_yuan: number; double_counted_m2: number; double_counted_yuan: number
}
export interface ExplanationRow { unit_code: string; unit_name: string | null; line: number; zh: string; en: string }

export interface Ledger { rows: LedgerRow[]; payees: PayeeRow[]; pairs: PairRow[]; units: LedgerUnitRow[]; explanation: ExplanationRow[] }

const RULE_WORDS = {
  highest_once: { zh: '就高不就低、不重复补偿', short: '就高不就低、不重复', en: 'the highest rate pays, once' },
  first_listed: { zh: '按所列顺序在先者补偿、不重复补偿', short: '在先者补偿、不重复', en: 'the programme listed first pays, once' },
  sum: { zh: '各渠道分别补偿（重复部分单列）', short: '分别补偿', en: 'every programme pays (the overlap is listed)' },
} as const

const fmt = (v: number) => v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })

/** The ledger of every unit under the standards' rule. */
export function ledger(c: Standards, units: UnitPieces[]): Ledger {
  const order = precedence(c)
  const rank = new Map(order.map((p, i) => [p, i]))
  const progs = c.programmes
  const rate = progs.map(ratePerM2)
  const out: Ledger = { rows: [], payees: [], pairs: [], units: [], explanation: [] }
  for (const u of units) {
    // sums per programme × class, programme × payee, (payer, programme) and
    // (programme, class, payer) for the explanation
    const claimed = new Map<string, number>()
    const paid = new Map<string, number>()
    const payee = new Map<string, number>()
    const pair = new Map<string, number>()
    const excludedBy = new Map<string, number>()
    const add = (m: Map<string, number>, k: string, a: number) => m.set(k, (m.get(k) ?? 0) + a)
    let covered = 0
    for (const piece of u.pieces) {
      if (!piece.members.length) continue
      covered += piece.area_m2
      const members = [...piece.members].sort((a, b) => rank.get(a[0])! - rank.get(b[0])!)
      const first = members[0]![0]
      for (const [p, cls, who] of members) {
        const k = `${p}\u0000${cls}`
        add(claimed, k, piece.area_m2)
        const pays = c.rule === 'sum' || p === first
        if (pays) {
          add(paid, k, piece.area_m2)
          add(payee, `${p}\u0000${who}`, piece.area_m2)
        }
        if (p !== first) {
          add(pair, `${first}\u0000${p}`, piece.area_m2)
          add(excludedBy, `${k}\u0000${first}`, piece.area_m2)
        }
      }
    }
    let amount = 0
    let amountIfSum = 0
    let paidArea = 0
    const lines: { zh: string; en: string }[] = []
    for (const p of order) {
      const prog = progs[p]!
      const ru = RATE_UNITS[prog.rate_unit]!
      const classes = [...claimed.keys()].filter((k) => k.startsWith(`${p}\u0000`)).map((k) => k.slice(k.indexOf('\u0000') + 1)).sort()
      for (const cls of classes) {
        const k = `${p}\u0000${cls}`
        const cl = claimed.get(k)!
        const pd = paid.get(k) ?? 0
        const row: LedgerRow = {
          unit_code: u.code, unit_name: u.name, programme: prog.id, programme_name: prog.name, class: cls, year: prog.year ?? c.year,
          rate: prog.rate, rate_unit: ru.label, claimed_m2: cl, excluded_m2: cl - pd, paid_m2: pd, amount_yuan: pd * rate[p]!, claimed_yuan: cl * rate[p]!,
        }
        out.rows.push(row)
        amount += row.amount_yuan
        amountIfSum += row.claimed_yuan
        paidArea += pd
        const area = (m2: number) => `${fmt(m2 / ru.m2)} ${ru.area === 'mu' ? '亩' : '公顷'}`
        const areaEn = (m2: number) => `${fmt(m2 / ru.m2)} ${ru.area === 'mu' ? 'mu' : 'ha'}`
        // the class is named unless the programme selects exactly one
        const named = cls && prog.categories?.length !== 1
        const label = named ? `${prog.name}（${cls}）` : prog.name
        const labelEn = named ? `${prog.id} (${cls})` : prog.id
        const others = [...excludedBy.entries()].filter(([key]) => key.startsWith(`${k}\u0000`)).map(([key, a]) => ({ q: Number(key.split('\u0000')[2]), a }))
        const zh = [`${label}：图斑面积 ${area(cl)}`]
        const en = [`${labelEn}: ${areaEn(cl)} claimed`]
        for (const o of others) {
          if (c.rule === 'sum') {
            zh.push(`其中 ${area(o.a)}同时由${progs[o.q]!.name}补偿（重复补偿 ${fmt(o.a * rate[p]!)} 元）`)
            en.push(`${areaEn(o.a)} of it also paid by ${progs[o.q]!.id} (paid twice: ${fmt(o.a * rate[p]!)} yuan)`)
          } else {
            zh.push(`其中 ${area(o.a)}已由${progs[o.q]!.name}（${progs[o.q]!.rate} ${RATE_UNITS[progs[o.q]!.rate_unit]!.label}）补偿，按“${RULE_WORDS[c.rule].short}”不再补偿（避免 ${fmt(o.a * rate[p]!)} 元）`)
            en.push(`${areaEn(o.a)} of it is paid by ${progs[o.q]!.id} (${progs[o.q]!.rate} ${RATE_UNITS[progs[o.q]!.rate_unit]!.en}) and not again (${RULE_WORDS[c.rule].en}; ${fmt(o.a * rate[p]!)} yuan avoided)`)
          }
        }
        zh.push(`补偿 ${area(pd)} × ${prog.rate} ${ru.label} = ${fmt(row.amount_yuan)} 元`)
        en.push(`paid ${areaEn(pd)} × ${prog.rate} ${ru.en} = ${fmt(row.amount_yuan)} yuan`)
        lines.push({ zh: zh.join('；'), en: en.join('; ') })
      }
      const field = payeeFieldOf(c, prog)
      for (const [k, a] of payee) {
        const [pp, who] = k.split('\u0000') as [string, string]
        if (Number(pp) !== p) continue
        out.payees.push({ unit_code: u.code, unit_name: u.name, programme: prog.id, programme_name: prog.name, payee_field: field, payee: who, paid_m2: a, amount_yuan: a * rate[p]! })
      }
    }
    let doubleArea = 0
    let doubleYuan = 0
    for (const q of order) {
      for (const p of order) {
        const a = pair.get(`${q}\u0000${p}`)
        if (a === undefined) continue
        const prog = progs[p]!
        out.pairs.push({
          unit_code: u.code, unit_name: u.name, paid_by: progs[q]!.id, paid_by_name: progs[q]!.name, also_covered_by: prog.id, also_covered_by_name: prog.name,
          area_m2: a, rate: prog.rate, rate_unit: RATE_UNITS[prog.rate_unit]!.label, yuan: a * rate[p]!,
        })
        doubleArea += a
        doubleYuan += a * rate[p]!
      }
    }
    out.units.push({
      unit_code: u.code, unit_name: u.name, unit_area_m2: u.area_m2, covered_m2: covered, paid_m2: paidArea, amount_yuan: amount,
      amount_if_sum_yuan: amountIfSum, double_counted_m2: doubleArea, double_counted_yuan: doubleYuan,
    })
    if (c.rule === 'sum') {
      lines.push({
        zh: `合计 ${fmt(amount)} 元（各渠道分别补偿）；其中重复补偿面积 ${fmt(doubleArea / 10_000 * 15)} 亩、${fmt(doubleYuan)} 元`,
        en: `total ${fmt(amount)} yuan (every programme pays); of which ${fmt(doubleArea / 10_000 * 15)} mu paid more than once, ${fmt(doubleYuan)} yuan`,
      })
    } else {
      lines.push({
        zh: `合计 ${fmt(amount)} 元（${RULE_WORDS[c.rule].zh}）；若各渠道分别补偿为 ${fmt(amountIfSum)} 元，避免重复补偿 ${fmt(doubleArea / 10_000 * 15)} 亩、${fmt(doubleYuan)} 元`,
        en: `total ${fmt(amount)} yuan (${RULE_WORDS[c.rule].en}); paying every programme would give ${fmt(amountIfSum)} yuan: ${fmt(doubleArea / 10_000 * 15)} mu and ${fmt(doubleYuan)} yuan of double payment avoided`,
      })
    }
    lines.forEach((l, i) => out.explanation.push({ unit_code: u.code, unit_name: u.name, line: i + 1, ...l }))
  }
  return out
}
