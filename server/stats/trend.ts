// A layer over N vintages per unit (monitoring, 生态产品动态监测): the area at each vintage
// (and per category), the change over each interval between consecutive vintages (net, and
// for the layer as a whole gained and lost), and rates per year, absolute and relative.
//
// Built from runs, so every figure is traced to one: one coverage run over all the vintages
// (areas, per category) and one change run per interval (gained, lost). The two engines'
// areas must agree: an interval's from_m2 and to_m2 are the change run's, and they are
// checked against the coverage run's areas of the same vintages (1e-6 relative + 0.01 m²);
// a disagreement is an error, not a silent pick. Years come from the vintages (2023, or
// 2023-06-30 as 2023 + its day of the year / 365.25).
import type { Db } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { compareVintage } from '../catalog/layer-select.ts'
import { CURRENT } from '../catalog/versions.ts'
import type { RunOptions } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { AREA_METHOD, coverage } from './coverage.ts'
import { change, type ChangeResult } from './change.ts'

export interface TrendOptions {
  layer: string
  /** the vintages, in any order (default: every current vintage of the layer); at least two */
  vintages?: string[]
  /** also a row per category (layers ingested with a category field) */
  categories?: boolean
}

export interface TrendAreaRow {
  unit_code: string
  unit_name: string | null
  unit_area_m2: number
  layer: string
  /** null: the layer as a whole */
  category: string | null
  vintage: string
  year: number
  area_m2: number
  share: number
}

export interface TrendIntervalRow {
  unit_code: string
  unit_name: string | null
  layer: string
  category: string | null
  from_vintage: string
  to_vintage: string
  years: number
  from_m2: number
  to_m2: number
  net_m2: number
  /** the layer as a whole only (from its change run); null for categories */
  gained_m2: number | null
  lost_m2: number | null
  rate_m2_per_year: number
  /** net / from / years × 100; null when there was none at the start */
  rate_pct_per_year: number | null
}

export type TrendTotalRow = Omit<TrendIntervalRow, 'unit_code' | 'unit_name'>

export interface TrendResult {
  /** the coverage run the areas come from (the result's anchor in exports) */
  run: RunRecord
  runs: { id: number; kind: string; vintages: string[] }[]
  unitSet: string
  layer: string
  vintages: { vintage: string; year: number }[]
  method: string
  areas: TrendAreaRow[]
  intervals: TrendIntervalRow[]
  /** the intervals summed over the units */
  totals: TrendTotalRow[]
}

/** A vintage as a (fractional) year. */
export function vintageYear(v: string): number {
  if (/^\d{4}$/.test(v)) return Number(v)
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v)
  if (m) {
    const y = Number(m[1]), start = Date.UTC(y, 0, 1), t = Date.UTC(y, Number(m[2]) - 1, Number(m[3]))
    if (!Number.isNaN(t)) return y + (t - start) / 86_400_000 / 365.25
  }
  throw new BadInput(`vintage '${v}' is neither a year (2023) nor a date (2023-06-30): a trend needs the time between vintages`)
}

const rate = (net: number, from: number, years: number) => ({ rate_m2_per_year: net / years, rate_pct_per_year: from > 0 ? (net / from / years) * 100 : null })

export async function trend(db: Db, unitSet: string, o: TrendOptions, ro: RunOptions = {}): Promise<TrendResult> {
  const known = (await db.query<{ vintage: string }>(`SELECT vintage FROM layer WHERE name = $1 AND ${CURRENT}`, [o.layer])).map((r) => r.vintage)
  if (!known.length) throw new BadInput(`layer '${o.layer}' is not in the catalogue`)
  const wanted = o.vintages?.length ? [...new Set(o.vintages)] : known
  for (const v of wanted) if (!known.includes(v)) throw new BadInput(`layer '${o.layer}' has no vintage '${v}' (has ${[...known].sort(compareVintage).join(', ')})`)
  const vintages = [...wanted].sort(compareVintage).map((v) => ({ vintage: v, year: vintageYear(v) }))
  if (vintages.length < 2) throw new BadInput(`a trend needs two vintages or more of layer '${o.layer}' (has ${known.join(', ')})`)
  for (let i = 1; i < vintages.length; i++) if (!(vintages[i]!.year > vintages[i - 1]!.year)) throw new BadInput(`vintages ${vintages[i - 1]!.vintage} and ${vintages[i]!.vintage} of '${o.layer}' fall in the same year: no rate per year between them`)

  const cov = await coverage(db, unitSet, { layers: vintages.map((v) => `${o.layer}@${v.vintage}`).join(','), categories: !!o.categories }, ro)
  const changes: ChangeResult[] = []
  for (let i = 1; i < vintages.length; i++) changes.push(await change(db, unitSet, o.layer, vintages[i - 1]!.vintage, vintages[i]!.vintage, { ...ro, categories: false }))

  const yearOf = new Map(vintages.map((v) => [v.vintage, v.year]))
  const areas: TrendAreaRow[] = cov.rows
    .filter((r) => r.measure === 'layer' || r.measure === 'category')
    .map((r) => ({ unit_code: r.unit_code, unit_name: r.unit_name, unit_area_m2: r.unit_area_m2, layer: r.layer, category: r.measure === 'category' ? r.category : null, vintage: r.vintage, year: yearOf.get(r.vintage)!, area_m2: r.area_m2, share: r.share }))
  const areaOf = new Map(areas.map((r) => [`${r.unit_code}\t${r.category ?? ''}\t${r.vintage}`, r]))
  const units = [...new Map(areas.map((r) => [r.unit_code, { code: r.unit_code, name: r.unit_name }])).values()]
  const categories = [...new Set(areas.filter((r) => r.category !== null).map((r) => r.category!))].sort()

  const intervals: TrendIntervalRow[] = []
  changes.forEach((c, i) => {
    const from = vintages[i]!, to = vintages[i + 1]!
    const years = to.year - from.year
    const byUnit = new Map(c.rows.map((r) => [r.unit_code, r]))
    for (const u of units) {
      const ch = byUnit.get(u.code)
      const f = ch?.from_m2 ?? 0, t = ch?.to_m2 ?? 0
      // the two engines measured the same vintages: they must agree
      for (const [v, mine] of [[from.vintage, f], [to.vintage, t]] as const) {
        const theirs = areaOf.get(`${u.code}\t\t${v}`)?.area_m2 ?? 0
        if (Math.abs(mine - theirs) > 0.01 + 1e-6 * Math.max(mine, theirs)) {
          throw new Error(`trend of ${o.layer} in unit ${u.code}: the change run ${c.run.id} measured ${mine} m² at ${v}, the coverage run ${cov.run.id} ${theirs} m²; they must agree`)
        }
      }
      intervals.push({ unit_code: u.code, unit_name: u.name, layer: o.layer, category: null, from_vintage: from.vintage, to_vintage: to.vintage, years, from_m2: f, to_m2: t, net_m2: t - f, gained_m2: ch?.gained_m2 ?? 0, lost_m2: ch?.lost_m2 ?? 0, ...rate(t - f, f, years) })
      for (const cat of categories) {
        const cf = areaOf.get(`${u.code}\t${cat}\t${from.vintage}`)?.area_m2 ?? 0
        const ct = areaOf.get(`${u.code}\t${cat}\t${to.vintage}`)?.area_m2 ?? 0
        intervals.push({ unit_code: u.code, unit_name: u.name, layer: o.layer, category: cat, from_vintage: from.vintage, to_vintage: to.vintage, years, from_m2: cf, to_m2: ct, net_m2: ct - cf, gained_m2: null, lost_m2: null, ...rate(ct - cf, cf, years) })
      }
    }
  })

  const totals = new Map<string, TrendTotalRow>()
  for (const r of intervals) {
    const k = `${r.category ?? ''}\t${r.from_vintage}`
    const t = totals.get(k) ?? { layer: r.layer, category: r.category, from_vintage: r.from_vintage, to_vintage: r.to_vintage, years: r.years, from_m2: 0, to_m2: 0, net_m2: 0, gained_m2: r.gained_m2 === null ? null : 0, lost_m2: r.lost_m2 === null ? null : 0, rate_m2_per_year: 0, rate_pct_per_year: null }
    t.from_m2 += r.from_m2
    t.to_m2 += r.to_m2
    if (t.gained_m2 !== null) t.gained_m2 += r.gained_m2 ?? 0
    if (t.lost_m2 !== null) t.lost_m2 += r.lost_m2 ?? 0
    totals.set(k, t)
  }
  for (const t of totals.values()) Object.assign(t, { net_m2: t.to_m2 - t.from_m2 }, rate(t.to_m2 - t.from_m2, t.from_m2, t.years))

  return {
    run: cov.run,
    runs: [{ id: cov.run.id, kind: 'coverage', vintages: vintages.map((v) => v.vintage) }, ...changes.map((c, i) => ({ id: c.run.id, kind: 'change', vintages: [vintages[i]!.vintage, vintages[i + 1]!.vintage] }))],
    unitSet,
    layer: o.layer,
    vintages,
    method: `areas per vintage from coverage run ${cov.run.id}; each interval's from, to, gained and lost from its change run (checked against the coverage areas); net = to − from; rate per year = net / years; relative rate = net / from / years × 100; years from the vintages. ${AREA_METHOD}`,
    areas: areas.sort((a, b) => a.unit_code.localeCompare(b.unit_code) || (a.category ?? '').localeCompare(b.category ?? '') || compareVintage(a.vintage, b.vintage)),
    intervals,
    totals: [...totals.values()],
  }
}
