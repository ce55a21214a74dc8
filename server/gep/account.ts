// From class sums to the GEP account of one unit and year: physical quantity (功能量) per
// item and ecosystem type, then value (价值量) = quantity × price. Pure: the run's stored sums
// and its config in, rows out (docs/gep.md gives every formula and its source).
import { BadInput } from '../errors.ts'
import { ECOSYSTEM_TYPES, INPUT_UNITS, type EcosystemType, type GepConfig } from './config.ts'
import type { ClassMapping } from './class-mapping.ts'
import { FIELDS, rowWidth } from './kernel.ts'
import type { FloodKind } from './flood.ts'

export const CATEGORIES = ['material', 'regulating', 'cultural', 'stock'] as const
export type Category = (typeof CATEGORIES)[number]
export const CATEGORY_NAMES: Record<Category, string> = { material: '物质产品', regulating: '调节服务', cultural: '文化服务', stock: '存量（不计入GEP）' }

/** Photosynthesis: 6CO₂ + 6H₂O → C₆H₁₂O₆ + 6O₂, per gram of dry matter (C₆H₁₀O₅)ₙ; the
 *  rounded 1.62 and 1.20 of the literature are these */
export const CO2_PER_DM = (6 * 44.0095) / 162.1406
export const O2_PER_DM = (6 * 31.9988) / 162.1406

/** The items computed from pixels, layers and coefficients: id, name, unit of quantity. */
export const ITEMS = {
  water_conservation: { name: '水源涵养', unit: 'm³' },
  soil_retention: { name: '土壤保持', unit: 't' },
  carbon_sequestration: { name: '固碳', unit: 't' },
  oxygen_release: { name: '释氧', unit: 't' },
  climate_regulation: { name: '气候调节', unit: 'kWh' },
  air_purification: { name: '空气净化', unit: 't' },
  water_purification: { name: '水质净化', unit: 't' },
  flood_regulation: { name: '洪水调蓄', unit: 'm³' },
  carbon_stock: { name: '碳储量', unit: 't' },
} as const
export type ItemId = keyof typeof ITEMS

export interface UnitSums {
  /** KernelSums data: a row per class (config order), unmapped, no data */
  data: number[]
  flood?: Partial<Record<FloodKind, number>>
}

export interface GepRow {
  unit_code: string
  unit_name: string | null
  year: number
  category: Category | '*'
  item: string
  ecosystem: string
  quantity: number | null
  quantity_unit: string | null
  price: number | null
  price_unit: string | null
  value_yuan: number | null
  item_id: string
  part_of: string | null
  nodata_m2: number | null
}

export interface UnitExtent {
  /** area per ecosystem type (m²), unmapped classes, no-data pixels */
  types: Partial<Record<EcosystemType, number>>
  unmapped_m2: number
  nodata_m2: number
  /** area scanned (every pixel fraction inside the unit) */
  scanned_m2: number
}

const normUnit = (u: string) => u.replace(/m3\b/g, 'm³').replace(/m2\b/g, 'm²').trim()

/** Prices already looked up and checked, by item and unit of quantity (one per account read). */
export type PriceCache = Map<string, { price: number; unit: string }>

/** The price of an item, its unit checked against the quantity's. */
export function priceOf(c: GepConfig, item: string, quantityUnit: string, cache?: PriceCache): { price: number; unit: string } {
  const key = `${item}\u0000${quantityUnit}`
  const hit = cache?.get(key)
  if (hit) return hit
  const found = lookUpPrice(c, item, quantityUnit)
  cache?.set(key, found)
  return found
}

function lookUpPrice(c: GepConfig, item: string, quantityUnit: string): { price: number; unit: string } {
  const p = c.prices.rows.find((r) => r.item === item)
  if (!p) throw new BadInput(`gep: price table ${c.prices.version} has no price for '${item}' (${quantityUnit}); add a row item,price,unit,year,source`)
  if (normUnit(p.unit) !== `元/${normUnit(quantityUnit)}`) throw new BadInput(`gep: price of '${item}' is in ${p.unit} but its quantity is in ${quantityUnit}; give the price in 元/${normUnit(quantityUnit)}`)
  return { price: p.price, unit: p.unit }
}

/** Class sums → per-type sums by the mapping's fractions. */
export function typeSums(sums: number[], classes: string[], mapping: ClassMapping): { byType: Map<EcosystemType, number[]>; extent: UnitExtent } {
  const w = rowWidth()
  const byType = new Map<EcosystemType, number[]>()
  const extent: UnitExtent = { types: {}, unmapped_m2: 0, nodata_m2: 0, scanned_m2: 0 }
  classes.forEach((cls, i) => {
    const o = i * w
    const area = sums[o]!
    extent.scanned_m2 += area
    const parts = mapping.get(cls) ?? []
    if (!parts.length) extent.unmapped_m2 += area
    for (const [t, frac] of parts) {
      const acc = byType.get(t as EcosystemType) ?? byType.set(t as EcosystemType, new Array(w).fill(0)).get(t as EcosystemType)!
      for (let k = 0; k < w; k++) acc[k]! += sums[o + k]! * frac
      extent.types[t as EcosystemType] = (extent.types[t as EcosystemType] ?? 0) + area * frac
    }
  })
  const n = classes.length
  extent.unmapped_m2 += sums[n * w]!
  extent.nodata_m2 = sums[(n + 1) * w]!
  extent.scanned_m2 += sums[n * w]! + sums[(n + 1) * w]!
  return { byType, extent }
}

const fieldAt = (f: (typeof FIELDS)[number]) => 1 + 2 * FIELDS.indexOf(f)

interface Quantity { type: EcosystemType | '*'; q: number; nodata: number | null }

/**
 * One unit's account for one year: rows per item and type, '*' rows per item, category
 * and GEP. `tables`: the unit's material and cultural rows of this year.
 */
export function accountUnit(c: GepConfig, mapping: ClassMapping, classes: string[], unit: { code: string; name: string | null }, year: number, sums: UnitSums, tables: GepConfig['tables'], prices: PriceCache = new Map()): GepRow[] {
  const { byType } = typeSums(sums.data, classes, mapping)
  const rows: GepRow[] = []
  const base = { unit_code: unit.code, unit_name: unit.name, year }
  const types = [...byType.keys()].sort((a, b) => Object.keys(ECOSYSTEM_TYPES).indexOf(a) - Object.keys(ECOSYSTEM_TYPES).indexOf(b))
  const coef = (t: EcosystemType, k: 'runoff' | 'c' | 'p', item: string) => {
    const v = c.types[t]?.[k]
    if (v === undefined) throw new BadInput(`gep: ${item} needs types.${t}.${k} (the unit has ${ECOSYSTEM_TYPES[t]} ${t})`)
    return v
  }
  const S = (t: EcosystemType, f: (typeof FIELDS)[number]) => byType.get(t)![fieldAt(f)]!
  const N = (t: EcosystemType, f: (typeof FIELDS)[number]) => byType.get(t)![fieldAt(f) + 1]!
  const A = (t: EcosystemType) => byType.get(t)![0]!

  /** rows of one item: per type, its parts, '*' */
  const emit = (category: Category, id: string, name: string, unitOfQ: string, qs: Quantity[], parts?: { name: string; factor: number; unit: string }[], priced = true) => {
    const perType = qs.filter((x) => x.type !== '*')
    const totalQ = qs.reduce((s, x) => s + x.q, 0)
    const totalN = qs.some((x) => x.nodata !== null) ? qs.reduce((s, x) => s + (x.nodata ?? 0), 0) : null
    const lines: Quantity[] = [...perType, { type: '*', q: totalQ, nodata: totalN }]
    for (const x of lines) {
      const eco = x.type === '*' ? '*' : ECOSYSTEM_TYPES[x.type]
      if (parts?.length) {
        let v = 0
        for (const p of parts) {
          const pr = priceOf(c, `${name}·${p.name}`, p.unit, prices)
          const q = x.q * p.factor
          v += q * pr.price
          rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category, item: `${name}·${p.name}`, ecosystem: eco, quantity: q, quantity_unit: p.unit, price: pr.price, price_unit: pr.unit, value_yuan: q * pr.price, item_id: `${id}.${p.name}`, part_of: name, nodata_m2: x.nodata })
        }
        rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category, item: name, ecosystem: eco, quantity: x.q, quantity_unit: unitOfQ, price: null, price_unit: null, value_yuan: v, item_id: id, part_of: null, nodata_m2: x.nodata })
      } else if (priced) {
        const pr = priceOf(c, name, unitOfQ, prices)
        rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category, item: name, ecosystem: eco, quantity: x.q, quantity_unit: unitOfQ, price: pr.price, price_unit: pr.unit, value_yuan: x.q * pr.price, item_id: id, part_of: null, nodata_m2: x.nodata })
      } else {
        rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category, item: name, ecosystem: eco, quantity: x.q, quantity_unit: unitOfQ, price: null, price_unit: null, value_yuan: null, item_id: id, part_of: null, nodata_m2: x.nodata })
      }
    }
  }
  const it = c.items
  // material products: per-unit tables
  const tableItems = (category: 'material' | 'cultural') => {
    const mine = tables.filter((r) => r.category === category)
    const names = [...new Set(mine.map((r) => r.item))]
    for (const n of names) {
      const rs = mine.filter((r) => r.item === n)
      const units = new Set(rs.map((r) => normUnit(r.unit)))
      if (units.size > 1) throw new BadInput(`gep tables: unit ${unit.code} gives '${n}' in ${[...units].join(' and ')}; use one unit`)
      const q = rs.reduce((s, r) => s + r.quantity, 0)
      const pr = priceOf(c, n, rs[0]!.unit, prices)
      rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category, item: n, ecosystem: '*', quantity: q, quantity_unit: rs[0]!.unit, price: pr.price, price_unit: pr.unit, value_yuan: q * pr.price, item_id: `${category}.${n}`, part_of: null, nodata_m2: null })
    }
  }
  tableItems('material')
  // regulating services
  if (it.water_conservation) {
    const fu = it.water_conservation.method === 'fu'
    emit('regulating', 'water_conservation', ITEMS.water_conservation.name, 'm³', types.map((t) => fu
      ? { type: t, q: S(t, 'fu') * 1e-3, nodata: N(t, 'fu') }
      : { type: t, q: (S(t, 'wb_p') * (1 - coef(t, 'runoff', '水源涵养')) - S(t, 'wb_et')) * 1e-3, nodata: N(t, 'wb_p') }))
  }
  if (it.soil_retention) {
    const cRaster = c.inputs.cover_management !== undefined
    emit('regulating', 'soil_retention', ITEMS.soil_retention.name, 't', types.map((t) => {
      const rkls = S(t, 'rkls')
      const usle = cRaster ? coef(t, 'p', '土壤保持') * S(t, 'rklsc') : coef(t, 'c', '土壤保持') * coef(t, 'p', '土壤保持') * rkls
      return { type: t, q: (rkls - usle) * 1e-4, nodata: N(t, 'rkls') }
    }), it.soil_retention.parts)
  }
  const dm = c.inputs.npp ? (INPUT_UNITS.npp as Record<string, number>)[c.inputs.npp.unit]! : 1
  if (it.carbon_sequestration) {
    const k = it.carbon_sequestration.co2_per_dm ?? CO2_PER_DM
    emit('regulating', 'carbon_sequestration', ITEMS.carbon_sequestration.name, 't', types.map((t) => ({ type: t, q: S(t, 'npp') * dm * 1e-6 * k, nodata: N(t, 'npp') })))
  }
  if (it.oxygen_release) {
    const k = it.oxygen_release.o2_per_dm ?? O2_PER_DM
    emit('regulating', 'oxygen_release', ITEMS.oxygen_release.name, 't', types.map((t) => ({ type: t, q: S(t, 'npp') * dm * 1e-6 * k, nodata: N(t, 'npp') })))
  }
  if (it.climate_regulation) {
    const cr = it.climate_regulation
    // ET (mm) over m² is kg of water; × latent heat (MJ/kg) / 3.6 (MJ per kWh) / efficiency,
    // the share of the year that needs cooling or humidifying
    const kwh = (t: EcosystemType) => (S(t, 'et') * cr.active_share * cr.latent_heat_mj_per_kg) / 3.6 / cr.efficiency
    const parts: Quantity[] = types.filter((t) => cr.plant_types.includes(t) || cr.water_types.includes(t)).map((t) => ({ type: t, q: kwh(t), nodata: N(t, 'et') }))
    emit('regulating', 'climate_regulation', ITEMS.climate_regulation.name, 'kWh', parts)
  }
  for (const id of ['air_purification', 'water_purification'] as const) {
    const ci = it[id]
    if (!ci) continue
    const name = ITEMS[id].name
    const all: Quantity[] = []
    for (const [sub, s] of Object.entries(ci.substances)) {
      const perHa = s.unit.startsWith('kg') ? 1e-3 : 1
      const qu = s.unit.startsWith('kWh') ? 'kWh' : s.unit.startsWith('m3') ? 'm³' : 't'
      const qs = types.map((t) => ({ type: t, q: (s.types[t] ?? 0) * perHa * (A(t) / 1e4), nodata: null }))
      emit('regulating', `${id}.${sub}`, `${name}·${sub}`, qu, qs)
      qs.forEach((x, i) => { all[i] = { type: x.type, q: (all[i]?.q ?? 0), nodata: null } })
    }
    // the item row: the value of its substances (their quantities are in different units)
    const subRows = rows.filter((r) => r.item.startsWith(`${name}·`) && r.unit_code === unit.code && r.year === year)
    for (const eco of [...types.map((t) => ECOSYSTEM_TYPES[t] as string), '*']) {
      const v = subRows.filter((r) => r.ecosystem === eco).reduce((s, r) => s + (r.value_yuan ?? 0), 0)
      rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category: 'regulating', item: name, ecosystem: eco, quantity: null, quantity_unit: null, price: null, price_unit: null, value_yuan: v, item_id: id, part_of: null, nodata_m2: null })
    }
    for (const r of subRows) r.part_of = name
  }
  if (it.flood_regulation && sums.flood !== undefined) {
    const fl = sums.flood
    const qs: Quantity[] = []
    const water = (fl.lakes ?? 0) + (fl.reservoirs ?? 0)
    if (it.flood_regulation.lakes || it.flood_regulation.reservoirs) qs.push({ type: 'water', q: water, nodata: null })
    if (it.flood_regulation.marshes) qs.push({ type: 'wetland', q: fl.marshes ?? 0, nodata: null })
    emit('regulating', 'flood_regulation', ITEMS.flood_regulation.name, 'm³', qs)
  }
  tableItems('cultural')
  if (it.carbon_stock) {
    const qs = types.map((t) => {
      const p = c.types[t]?.carbon
      if (!p) throw new BadInput(`gep: carbon stock needs types.${t}.carbon {above, below, soil, dead} in t C/ha`)
      return { type: t, q: (p.above + p.below + p.soil + p.dead) * (A(t) / 1e4), nodata: null }
    })
    emit('stock', 'carbon_stock', ITEMS.carbon_stock.name, 't', qs, undefined, false)
  }
  // '*' rows: per category (items' '*' rows that are not parts), and GEP
  const top = rows.filter((r) => r.ecosystem === '*' && r.part_of === null && r.category !== 'stock')
  for (const cat of ['material', 'regulating', 'cultural'] as const) {
    const v = top.filter((r) => r.category === cat).reduce((s, r) => s + (r.value_yuan ?? 0), 0)
    rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category: cat, item: '*', ecosystem: '*', quantity: null, quantity_unit: null, price: null, price_unit: null, value_yuan: v, item_id: `${cat}.*`, part_of: null, nodata_m2: null })
  }
  rows.push({ unit_code: base.unit_code, unit_name: base.unit_name, year: base.year, category: '*', item: '*', ecosystem: '*', quantity: null, quantity_unit: null, price: null, price_unit: null, value_yuan: top.reduce((s, r) => s + (r.value_yuan ?? 0), 0), item_id: 'gep', part_of: null, nodata_m2: null })
  return rows
}
