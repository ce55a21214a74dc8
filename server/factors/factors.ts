// Area factors per unit for transfer-payment formulas: what each unit has of the red line,
// protected areas by type, forest, wetland, farmland …, ecological space counted once, and
// what each lost since the previous vintage. Every number comes from the coverage and change
// engines (runs with input versions and checksums); the factor table says which run and
// which layer version each value came from.
//
// Which layer (and category) feeds which factor is configuration (FactorDefinition[]);
// defaultDefinitions() derives sensible ones from the catalogue by layer kind.
import type { RunOptions } from '../runs/execute.ts'
import type { Db, Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { AREA_METHOD, coverage, type CoverageResult } from '../stats/coverage.ts'
import { change, type ChangeResult } from '../stats/change.ts'
import { compareVintage, selectLayers, type LayerVersion } from '../catalog/layer-select.ts'
import type { Exportable, RollupRule, Table } from '../results/export.ts'
import { CURRENT } from '../catalog/versions.ts'
import { gep, type GepResult } from '../gep/gep.ts'
import { unitSetId } from '../units/unit-set.ts'
import { findIndicatorSet, indicatorValues } from '../indicators/indicators.ts'
import { settleBasin, type SettlementResult } from '../watershed/settle.ts'

export type Measure = 'area' | 'share' | 'count' | 'union' | 'union_share' | 'lost' | 'gained' | 'net' | 'value' | 'basin_net' | GepMeasure
/** GEP factors (gep/): GEP, regulating services, an item's value or physical quantity, ΔGEP
 *  since `compare`, and 1 where GEP declined beyond the config's threshold (else 0) */
export type GepMeasure = 'gep_total' | 'gep_regulating' | 'gep_value' | 'gep_quantity' | 'gep_delta' | 'gep_declined'
const GEP_MEASURES: GepMeasure[] = ['gep_total', 'gep_regulating', 'gep_value', 'gep_quantity', 'gep_delta', 'gep_declined']
const isGep = (m: Measure): m is GepMeasure => (GEP_MEASURES as string[]).includes(m)

export interface FactorDefinition {
  id: string
  label: string
  /** layer name (latest vintage); not for union measures */
  layer?: string
  /** categories of that layer summed (area) or counted (count); default the whole layer, flattened */
  categories?: string[]
  measure: Measure
  /** GEP measures: the GEP config (an object: the CLI reads a file named here) and years */
  gep?: { config: Record<string, unknown>; year?: number; compare?: number }
  /** gep_value, gep_quantity: the item id (water_conservation, soil_retention, carbon_sequestration …) */
  item?: string
  /** value: an imported indicator set, NAME or NAME@YEAR (`ecocensus indicators import`) */
  indicators?: string
  /** value: the indicator within it (population, eqi, score …) */
  indicator?: string
  /** value: an earlier year of the same indicators: the factor is the change, value − value then */
  compare?: string
  /** value: how it sums to parent units: sum (population, output), area_mean (an index); else it is left empty */
  rollup?: 'sum' | 'area_mean'
  /** basin_net: a watershed agreement (an object: the CLI reads a file named here) and its period */
  basin?: { agreement: Record<string, unknown>; period?: number }
}

/** Protected-area categories → types (自然保护地体系: 国家公园, 自然保护区, 自然公园). */
export const PROTECTED_AREA_TYPES: { id: string; label: string; match: RegExp }[] = [
  { id: 'national_park', label: '国家公园 national park', match: /国家公园|national park/i },
  { id: 'nature_reserve', label: '自然保护区 nature reserve', match: /自然保护区|保护区|nature reserve/i },
  { id: 'natural_park', label: '自然公园 natural park', match: /自然公园|森林公园|湿地公园|地质公园|海洋公园|沙漠公园|草原公园|风景名胜区|natural park/i },
]
const KIND_LABEL: Record<string, string> = {
  redline: '生态保护红线 ecological red line', protected_area: '自然保护地 protected areas', forest: '公益林 public-welfare forest',
  wetland: '重要湿地 important wetlands', farmland: '永久基本农田 permanent basic farmland', grassland: '草地 grassland', water: '水域 water', other: '其他 other',
}

const ID = /^[a-z][a-z0-9_]{0,63}$/

/** Factors for every layer in the catalogue, by kind. */
export async function defaultDefinitions(db: Queryable): Promise<FactorDefinition[]> {
  const all = await db.query<{ name: string; vintage: string; kind: string; id: number }>(`SELECT id, name, vintage, kind FROM layer WHERE ${CURRENT} ORDER BY name, vintage`)
  const latest = await selectLayers(db)
  const defs: FactorDefinition[] = []
  for (const l of latest) {
    const stem = l.name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^([^a-z])/, 'l_$1').slice(0, 40)
    const label = `${KIND_LABEL[l.kind] ?? l.kind} (${l.name})`
    defs.push({ id: `${stem}_m2`, label: `${label} 面积 area`, layer: l.name, measure: 'area' })
    if (l.kind === 'redline') defs.push({ id: `${stem}_share`, label: `${label} 占比 share of unit`, layer: l.name, measure: 'share' })
    if (l.kind === 'protected_area') {
      defs.push({ id: `${stem}_count`, label: `${label} 个数 number`, layer: l.name, measure: 'count' })
      const cats = await db.query<{ category: string }>('SELECT DISTINCT category FROM feature WHERE layer_id = $1 AND category IS NOT NULL ORDER BY category', [l.id])
      for (const t of PROTECTED_AREA_TYPES) {
        const mine = cats.map((c) => c.category).filter((c) => t.match.test(c) && !PROTECTED_AREA_TYPES.slice(0, PROTECTED_AREA_TYPES.indexOf(t)).some((u) => u.match.test(c)))
        if (mine.length) defs.push({ id: `pa_${t.id}_m2`, label: `${t.label} 面积 area`, layer: l.name, categories: mine, measure: 'area' })
      }
    }
    if (all.filter((x) => x.name === l.name).length > 1) {
      defs.push({ id: `${stem}_lost_m2`, label: `${label} 减少 lost since previous vintage`, layer: l.name, measure: 'lost' })
      defs.push({ id: `${stem}_net_m2`, label: `${label} 净变化 net change since previous vintage`, layer: l.name, measure: 'net' })
    }
  }
  if (latest.some((l) => ['redline', 'protected_area', 'forest', 'wetland', 'grassland', 'water'].includes(l.kind))) {
    defs.push({ id: 'ecological_space_m2', label: '生态空间（合并计一次） ecological space, counted once', measure: 'union' })
    defs.push({ id: 'ecological_space_share', label: '生态空间占比 ecological space, share of unit', measure: 'union_share' })
  }
  return defs
}

export function checkDefinitions(defs: unknown): FactorDefinition[] {
  if (!Array.isArray(defs) || !defs.length) throw new BadInput('factor definitions: a non-empty list of {id, label, layer?, categories?, measure}')
  const seen = new Set<string>()
  return defs.map((d, i) => {
    const where = `factor definition ${i + 1}`
    if (typeof d !== 'object' || d === null) throw new BadInput(`${where}: an object {id, label, layer?, categories?, measure}`)
    const o = d as Record<string, unknown>
    if (typeof o.id !== 'string' || !ID.test(o.id)) throw new BadInput(`${where}: id '${String(o.id)}' must be lower-case letters, digits and _ (starting with a letter)`)
    if (seen.has(o.id)) throw new BadInput(`${where}: id '${o.id}' is defined twice`)
    seen.add(o.id)
    const measures: Measure[] = ['area', 'share', 'count', 'union', 'union_share', 'lost', 'gained', 'net', 'value', 'basin_net', ...GEP_MEASURES]
    if (!measures.includes(o.measure as Measure)) throw new BadInput(`${where} (${o.id}): measure '${String(o.measure)}' is not one of ${measures.join(', ')}`)
    if (o.measure === 'value') {
      if (typeof o.indicators !== 'string' || typeof o.indicator !== 'string') throw new BadInput(`${where} (${o.id}): measure value needs indicators (an imported set, NAME or NAME@YEAR) and indicator (its column, e.g. population)`)
      if (o.compare !== undefined && typeof o.compare !== 'string' && typeof o.compare !== 'number') throw new BadInput(`${where} (${o.id}): compare must be a year of the same indicators`)
      if (o.rollup !== undefined && o.rollup !== 'sum' && o.rollup !== 'area_mean') throw new BadInput(`${where} (${o.id}): rollup must be sum or area_mean`)
      return { id: o.id, label: typeof o.label === 'string' ? o.label : o.id, measure: 'value', indicators: o.indicators, indicator: o.indicator, compare: o.compare === undefined ? undefined : String(o.compare), rollup: o.rollup as FactorDefinition['rollup'] }
    }
    if (o.measure === 'basin_net') {
      const b = o.basin as Record<string, unknown> | undefined
      if (typeof b !== 'object' || b === null || typeof b.agreement !== 'object' || b.agreement === null || Array.isArray(b.agreement)) {
        throw new BadInput(`${where} (${o.id}): measure basin_net needs basin: {agreement: <watershed agreement>, period?}${typeof b?.agreement === 'string' ? ' (a file name is read by the CLI; over HTTP give the agreement itself)' : ''}`)
      }
      if (b.period !== undefined && !Number.isInteger(b.period)) throw new BadInput(`${where} (${o.id}): basin.period must be a year`)
      return { id: o.id, label: typeof o.label === 'string' ? o.label : o.id, measure: 'basin_net', basin: b as FactorDefinition['basin'] }
    }
    if (isGep(o.measure as Measure)) {
      const g = o.gep as Record<string, unknown> | undefined
      if (typeof g !== 'object' || g === null || typeof g.config !== 'object' || g.config === null || Array.isArray(g.config)) {
        throw new BadInput(`${where} (${o.id}): measure ${o.measure} needs gep: {config: <GEP config>, year?, compare?}${typeof g?.config === 'string' ? ' (a file name is read by the CLI; over HTTP give the config itself)' : ''}`)
      }
      for (const k of ['year', 'compare'] as const) if (g[k] !== undefined && !Number.isInteger(g[k])) throw new BadInput(`${where} (${o.id}): gep.${k} must be a year`)
      if ((o.measure === 'gep_delta' || o.measure === 'gep_declined') && g.compare === undefined) throw new BadInput(`${where} (${o.id}): ${o.measure} needs gep.compare (the earlier year)`)
      if ((o.measure === 'gep_value' || o.measure === 'gep_quantity') && typeof o.item !== 'string') throw new BadInput(`${where} (${o.id}): ${o.measure} needs item (an item id such as water_conservation)`)
      return { id: o.id, label: typeof o.label === 'string' ? o.label : o.id, measure: o.measure as Measure, gep: g as FactorDefinition['gep'], item: o.item as string | undefined }
    }
    const union = o.measure === 'union' || o.measure === 'union_share'
    if (!union && typeof o.layer !== 'string') throw new BadInput(`${where} (${o.id}): measure ${o.measure} needs a layer`)
    if (o.categories !== undefined && (!Array.isArray(o.categories) || o.categories.some((c) => typeof c !== 'string'))) throw new BadInput(`${where} (${o.id}): categories must be a list of category names`)
    if (o.categories !== undefined && !['area', 'count'].includes(o.measure as string)) throw new BadInput(`${where} (${o.id}): categories apply to measures area and count`)
    return { id: o.id, label: typeof o.label === 'string' ? o.label : o.id, layer: o.layer as string | undefined, categories: o.categories as string[] | undefined, measure: o.measure as Measure }
  })
}

export interface FactorRow {
  unit_code: string
  unit_name: string | null
  unit_area_m2: number
  factor: string
  label: string
  value: number
  /** m2, share (0..1), count, yuan, flag (GEP decline: 1 or 0) or an item's unit of quantity */
  value_unit: string
  /** the layer version(s) the value came from */
  source: string
  run_id: number
}

export interface FactorResult {
  unitSet: string
  definitions: FactorDefinition[]
  units: { code: string; name: string | null; area_m2: number }[]
  /** unit code → factor id → value */
  values: Map<string, Record<string, number>>
  rows: FactorRow[]
  provenance: {
    runs: { id: number; kind: string; what: string }[]
    /** indicator sets read by value factors */
    indicators: { id: number; name: string; vintage: string; file: string; checksum: string }[]
    layers: { name: string; vintage: string; id: number; kind: string; source_checksum: string }[]
    method: string
  }
  /** for exports (JSON, provenance sheet) */
  run: { id: number }
  method: string
}

/** Computes (or reuses: runs with unchanged inputs are reused) every factor for a unit set. */
export async function computeFactors(db: Db, unitSet: string, definitions?: FactorDefinition[], o: Pick<RunOptions, 'signal' | 'beforeCompute' | 'actor'> & { rasterDir?: string } = {}): Promise<FactorResult> {
  const all_ = definitions ?? (await defaultDefinitions(db))
  const gepDefs = all_.filter((d) => isGep(d.measure))
  const valueDefs = all_.filter((d) => d.measure === 'value')
  const basinDefs = all_.filter((d) => d.measure === 'basin_net')
  const defs = all_.filter((d) => !isGep(d.measure) && d.measure !== 'value' && d.measure !== 'basin_net')
  const area = defs.length ? await areaFactors(db, unitSet, defs, o) : await noAreaFactors(db, unitSet)
  const withG = gepDefs.length ? await withGep(db, unitSet, area, all_, gepDefs, o) : area
  const withV = valueDefs.length ? await withValues(db, withG, valueDefs, all_) : withG
  return basinDefs.length ? withBasin(db, withV, basinDefs, all_, o) : withV
}

/**
 * Watershed factors: the money each unit receives (negative: pays) under an agreement's
 * settlement for its period, summed over its agreements; a unit no agreement names gets 0
 * (it neither pays nor receives), stated in the source.
 */
async function withBasin(db: Db, f: FactorResult, basinDefs: FactorDefinition[], all: FactorDefinition[], o: Pick<RunOptions, 'signal' | 'beforeCompute' | 'actor'>): Promise<FactorResult> {
  const runs = new Map<string, SettlementResult>()
  for (const d of basinDefs) {
    const key = JSON.stringify([d.basin!.agreement, d.basin!.period])
    if (!runs.has(key)) runs.set(key, await settleBasin(db, { agreement: d.basin!.agreement, period: d.basin!.period }, o))
    const r = runs.get(key)!
    for (const u of f.units) {
      const value = r.ledger.filter((l) => l.unit_code === u.code).reduce((s, l) => s + l.amount_yuan, 0)
      f.values.get(u.code)![d.id] = value
      f.rows.push({ unit_code: u.code, unit_name: u.name, unit_area_m2: u.area_m2, factor: d.id, label: d.label, value, value_unit: 'yuan', source: `watershed settlement ${r.period} (${r.name ?? 'agreement'} ${r.agreementSha256.slice(0, 12)}, sections ${r.sections.name}@${r.sections.vintage}; 0 where no agreement names the unit)`, run_id: r.run.id })
    }
  }
  for (const r of runs.values()) f.provenance.runs.push({ id: r.run.id, kind: 'settlement', what: `watershed settlement ${r.period} of ${r.sections.name}@${r.sections.vintage} with series ${r.series.name}@${r.series.vintage}` })
  return { ...f, definitions: all }
}

/** Indicator factors: each unit's value from an imported indicator set; a unit without one is refused, never read as 0. */
async function withValues(db: Db, f: FactorResult, valueDefs: FactorDefinition[], all: FactorDefinition[]): Promise<FactorResult> {
  for (const d of valueDefs) {
    const sets = [await findIndicatorSet(db, d.indicators!)]
    if (d.compare !== undefined) sets.push(await findIndicatorSet(db, `${sets[0]!.name}@${d.compare}`))
    const values = []
    for (const set of sets) {
      const v = await indicatorValues(db, set, d.indicator!)
      const missing = f.units.filter((u) => !v.has(u.code)).map((u) => u.code)
      if (missing.length) throw new BadInput(`factor '${d.id}': indicators ${set.name}@${set.vintage} have no ${d.indicator} for unit${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ' …' : ''} of ${f.unitSet}`)
      values.push(v)
      if (!f.provenance.indicators.some((x) => x.id === set.id)) f.provenance.indicators.push({ id: set.id, name: set.name, vintage: set.vintage, file: set.source_file, checksum: set.source_checksum })
    }
    const [set, before] = sets as [typeof sets[0], typeof sets[0] | undefined]
    const source = `indicators ${set.name}@${set.vintage}${before ? ` − @${before.vintage}` : ''} (${sets.map((x) => `id ${x.id}, ${x.source_file}, ${x.source_checksum}`).join('; ')})`
    for (const u of f.units) {
      const value = values[0]!.get(u.code)! - (values[1]?.get(u.code) ?? 0)
      f.values.get(u.code)![d.id] = value
      f.rows.push({ unit_code: u.code, unit_name: u.name, unit_area_m2: u.area_m2, factor: d.id, label: d.label, value, value_unit: set.indicators[d.indicator!] || '1', source, run_id: 0 })
    }
  }
  return { ...f, definitions: all }
}

/** Units of a set with no area factor asked for: the frame GEP factors fill. */
async function noAreaFactors(db: Db, unitSet: string): Promise<FactorResult> {
  const id = await unitSetId(db, unitSet)
  const units = await db.query<{ code: string; name: string | null; area_m2: number }>('SELECT code, name, area_m2 FROM unit WHERE set_id = $1 ORDER BY code', [id])
  return {
    unitSet, definitions: [], units: units.map((u) => ({ ...u, area_m2: Number(u.area_m2) })), values: new Map(units.map((u) => [u.code, {}])), rows: [],
    provenance: { runs: [], layers: [], indicators: [], method: AREA_METHOD }, run: { id: 0 }, method: AREA_METHOD,
  }
}

/** GEP factors added to area factors: one GEP run per distinct (config, year, compare). */
async function withGep(db: Db, unitSet: string, f: FactorResult, defs: FactorDefinition[], gepDefs: FactorDefinition[], o: Pick<RunOptions, 'signal' | 'beforeCompute' | 'actor'> & { rasterDir?: string }): Promise<FactorResult> {
  const runs = new Map<string, GepResult>()
  for (const d of gepDefs) {
    const key = JSON.stringify([d.gep!.config, d.gep!.year, d.gep!.compare])
    if (!runs.has(key)) runs.set(key, await gep(db, { units: unitSet, config: d.gep!.config, year: d.gep!.year, compare: d.gep!.compare }, o.rasterDir ?? '', o))
    const r = runs.get(key)!
    const year = r.years.at(-1)!
    for (const u of f.units) {
      const ur = r.units.find((x) => x.unit_code === u.code && x.year === year)
      let value = 0
      let vu = 'yuan'
      if (d.measure === 'gep_total') value = ur?.gep_yuan ?? 0
      else if (d.measure === 'gep_regulating') value = ur?.regulating_yuan ?? 0
      else if (d.measure === 'gep_delta' || d.measure === 'gep_declined') {
        const c = r.change.find((x) => x.unit_code === u.code && x.category === '*')
        value = d.measure === 'gep_delta' ? c?.delta_yuan ?? 0 : c?.declined ? 1 : 0
        vu = d.measure === 'gep_delta' ? 'yuan' : 'flag'
      } else {
        const row = r.rows.find((x) => x.unit_code === u.code && x.year === year && x.ecosystem === '*' && x.item_id === d.item)
        if (!row && u === f.units[0]) throw new BadInput(`factor '${d.id}': GEP run ${r.run.id} has no item '${d.item}' (items: ${[...new Set(r.rows.filter((x) => x.item !== '*').map((x) => x.item_id))].join(', ')})`)
        value = d.measure === 'gep_value' ? row?.value_yuan ?? 0 : row?.quantity ?? 0
        vu = d.measure === 'gep_value' ? 'yuan' : row?.quantity_unit ?? ''
      }
      f.values.get(u.code)![d.id] = value
      f.rows.push({ unit_code: u.code, unit_name: u.name, unit_area_m2: u.area_m2, factor: d.id, label: d.label, value, value_unit: vu, source: `GEP ${r.years.join('→')} (${r.configName ?? 'config'} ${r.configSha256.slice(0, 12)}, prices ${r.priceVersion})`, run_id: r.run.id })
    }
  }
  for (const r of runs.values()) f.provenance.runs.push({ id: r.run.id, kind: 'gep', what: `GEP of ${r.unitSet} ${r.years.join('→')}, prices ${r.priceVersion}` })
  return { ...f, definitions: defs, run: f.run.id ? f.run : { id: [...runs.values()][0]!.run.id } }
}

async function areaFactors(db: Db, unitSet: string, defs: FactorDefinition[], o: Pick<RunOptions, 'signal' | 'beforeCompute' | 'actor'>): Promise<FactorResult> {
  const all = await db.query<LayerVersion>(`SELECT id, name, vintage, kind, source_checksum, feature_count, category_field FROM layer WHERE ${CURRENT} ORDER BY name, vintage`)
  const latest = new Map<string, LayerVersion>()
  const previous = new Map<string, LayerVersion>()
  for (const l of [...all].sort((a, b) => compareVintage(a.vintage, b.vintage))) {
    if (latest.has(l.name)) previous.set(l.name, latest.get(l.name)!)
    latest.set(l.name, l)
  }
  const used = [...new Set(defs.filter((d) => d.layer).map((d) => d.layer!))]
  for (const name of used) if (!latest.has(name)) throw new BadInput(`factor definitions name layer '${name}', which is not in the catalogue (has ${[...latest.keys()].join(', ') || 'none'})`)
  const unionNeeded = defs.some((d) => d.measure === 'union' || d.measure === 'union_share')
  const covLayers = unionNeeded ? [...latest.values()] : used.map((n) => latest.get(n)!)
  if (!covLayers.length) throw new BadInput('no layers to compute factors from')
  const cov: CoverageResult = await coverage(db, unitSet, { layers: covLayers.map((l) => `${l.name}@${l.vintage}`).join(','), categories: true, union: unionNeeded }, o)
  const changes = new Map<string, ChangeResult>()
  for (const d of defs) {
    if (!['lost', 'gained', 'net'].includes(d.measure) || changes.has(d.layer!)) continue
    const prev = previous.get(d.layer!)
    if (!prev) throw new BadInput(`factor '${d.id}' (${d.measure}) needs two vintages of layer '${d.layer}'; it has only ${latest.get(d.layer!)!.vintage}`)
    changes.set(d.layer!, await change(db, unitSet, d.layer!, prev.vintage, latest.get(d.layer!)!.vintage, o))
  }
  const units = new Map<string, { code: string; name: string | null; area_m2: number }>()
  for (const r of cov.rows) if (!units.has(r.unit_code)) units.set(r.unit_code, { code: r.unit_code, name: r.unit_name, area_m2: r.unit_area_m2 })
  const values = new Map<string, Record<string, number>>()
  const rows: FactorRow[] = []
  const covBy = new Map<string, typeof cov.rows>()
  for (const r of cov.rows) (covBy.get(r.unit_code) ?? covBy.set(r.unit_code, []).get(r.unit_code)!).push(r)
  for (const u of units.values()) {
    const mine = covBy.get(u.code) ?? []
    const v: Record<string, number> = {}
    for (const d of defs) {
      let value = 0
      let source = ''
      let runId = cov.run.id
      let vu: FactorRow['value_unit'] = 'm2'
      const l = d.layer ? latest.get(d.layer)! : undefined
      if (d.measure === 'union' || d.measure === 'union_share') {
        const r = mine.find((x) => x.measure === 'union')
        value = d.measure === 'union' ? r?.area_m2 ?? 0 : r?.share ?? 0
        vu = d.measure === 'union' ? 'm2' : 'share'
        source = r?.vintage ?? cov.union.join('∪')
      } else if (d.measure === 'area' || d.measure === 'share' || d.measure === 'count') {
        source = `${l!.name}@${l!.vintage}`
        if (d.categories) {
          const rs = mine.filter((x) => x.measure === 'category' && x.layer === l!.name && d.categories!.includes(x.category ?? ''))
          value = d.measure === 'count' ? rs.reduce((s, x) => s + (x.features ?? 0), 0) : rs.reduce((s, x) => s + x.area_m2, 0)
          if (d.measure === 'share') value = u.area_m2 > 0 ? value / u.area_m2 : 0
          source += `:${d.categories.join('|')}`
        } else {
          const r = mine.find((x) => x.measure === 'layer' && x.layer === l!.name)
          value = d.measure === 'area' ? r?.area_m2 ?? 0 : d.measure === 'share' ? r?.share ?? 0 : r?.features ?? 0
        }
        vu = d.measure === 'area' ? 'm2' : d.measure === 'share' ? 'share' : 'count'
      } else {
        const c = changes.get(d.layer!)!
        const r = c.rows.find((x) => x.unit_code === u.code)
        value = d.measure === 'lost' ? r?.lost_m2 ?? 0 : d.measure === 'gained' ? r?.gained_m2 ?? 0 : r?.net_m2 ?? 0
        source = `${d.layer}@${previous.get(d.layer!)!.vintage}→${l!.vintage}`
        runId = c.run.id
      }
      v[d.id] = value
      rows.push({ unit_code: u.code, unit_name: u.name, unit_area_m2: u.area_m2, factor: d.id, label: d.label, value, value_unit: vu, source, run_id: runId })
    }
    values.set(u.code, v)
  }
  const layerIds = new Set([...covLayers.map((l) => l.id), ...[...changes.keys()].flatMap((n) => [latest.get(n)!.id, previous.get(n)!.id])])
  return {
    unitSet,
    definitions: defs,
    units: [...units.values()],
    values,
    rows,
    provenance: {
      runs: [{ id: cov.run.id, kind: 'coverage', what: `coverage of ${covLayers.map((l) => `${l.name}@${l.vintage}`).join(', ')}${unionNeeded ? ' with ecological space' : ''}` },
        ...[...changes].map(([n, c]) => ({ id: c.run.id, kind: 'change', what: `change of ${n} ${previous.get(n)!.vintage}→${latest.get(n)!.vintage}` }))],
      layers: all.filter((l) => layerIds.has(l.id)).map((l) => ({ name: l.name, vintage: l.vintage, id: l.id, kind: l.kind, source_checksum: l.source_checksum })),
      indicators: [],
      method: AREA_METHOD,
    },
    run: { id: cov.run.id },
    method: AREA_METHOD,
  }
}

export const FACTOR_COLUMNS = ['unit_code', 'unit_name', 'unit_area_m2', 'factor', 'label', 'value', 'value_unit', 'source', 'run_id']

/** The factor table (long), a wide table (one row per unit; *_m2 columns get ha/km²/亩 in XLSX) and provenance. */
export function factorTables(f: FactorResult): Table[] {
  const wideCols = ['unit_code', 'unit_name', 'unit_area_m2', ...f.definitions.map((d) => d.id)]
  const wide = f.units.map((u) => ({ unit_code: u.code, unit_name: u.name, unit_area_m2: u.area_m2, ...f.values.get(u.code) }))
  const prov = [
    ...f.provenance.runs.map((r) => ({ item: `run ${r.id}`, value: `${r.kind}: ${r.what}` })),
    ...f.provenance.layers.map((l) => ({ item: `layer ${l.name}@${l.vintage}`, value: `id ${l.id}, kind ${l.kind}, ${l.source_checksum}` })),
    ...f.provenance.indicators.map((x) => ({ item: `indicators ${x.name}@${x.vintage}`, value: `id ${x.id}, ${x.file}, ${x.checksum}` })),
    ...f.definitions.map((d) => ({ item: `factor ${d.id}`, value: `${d.label}: ${d.measure}${d.layer ? ` of ${d.layer}` : ''}${d.categories ? ` [${d.categories.join(', ')}]` : ''}` })),
    { item: 'area method', value: f.provenance.method },
  ]
  // summed to parents: areas, money and indicator values add; shares are area-weighted means
  // (= the parent's share); counts are not additive; a decline flag is set if any child's is
  // indicator values add up only where the definition says so (population, output; not an index)
  const rule = (d: FactorDefinition): RollupRule => {
    const m = d.measure
    if (m === 'value') return d.rollup === 'sum' ? 'sum' : d.rollup === 'area_mean' ? { weighted: 'unit_area_m2' } : 'drop'
    return m === 'share' || m === 'union_share' ? { weighted: 'unit_area_m2' } : m === 'count' ? 'drop' : m === 'gep_declined' ? 'max' : 'sum'
  }
  return [
    { name: 'factors', columns: FACTOR_COLUMNS, rows: f.rows, rollup: { run_id: 'key', source: 'key', value: { switch: 'factor', cases: Object.fromEntries(f.definitions.map((d) => [d.id, rule(d)])), otherwise: 'drop' } } },
    { name: 'units', columns: wideCols, rows: wide, rollup: Object.fromEntries(f.definitions.map((d) => [d.id, rule(d)])) },
    { name: 'provenance', columns: ['item', 'value'], rows: prov },
  ]
}

export function factorExport(f: FactorResult, setId: number): Exportable {
  return {
    tables: factorTables(f),
    result: { ...f, values: Object.fromEntries(f.values) } as never,
    setId,
    properties: () => new Map([...f.values].map(([k, v]) => [k, v])),
  }
}
