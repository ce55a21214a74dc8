// The GEP configuration (gep.yaml, docs/gep.md): the model grid, the ecosystem map and its
// class mapping, the input rasters with their declared units, per-type coefficients, the
// items to compute, the versioned price table and the per-unit tables. Checked whole with
// zod before anything runs; files it names are read by the shells (resolveConfigFiles) so
// that a run records the content it used, not a path.
import fs from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { parseConfigFile } from '../config-file.ts'
import { BadInput } from '../errors.ts'
import * as f from '../validate/fields.ts'
import { RESAMPLING } from '../raster/warp.ts'
import { checkClassMapping, type ClassMapping } from './class-mapping.ts'
import { readTable } from '../validate/read-table.ts'

/** GEP ecosystem types (生态系统类型) of the MEE guideline */
export const ECOSYSTEM_TYPES = {
  forest: '森林', shrub: '灌丛', grassland: '草地', wetland: '湿地', farmland: '农田', urban: '城镇', desert: '荒漠', glacier: '冰川积雪', water: '水体',
} as const
export type EcosystemType = keyof typeof ECOSYSTEM_TYPES
const TYPE_IDS = Object.keys(ECOSYSTEM_TYPES) as [EcosystemType, ...EcosystemType[]]

/** Units an input raster may be declared in, and the factor to the unit the formulas use. */
export const INPUT_UNITS = {
  precipitation: { mm: 1, m: 1000 },
  evapotranspiration: { mm: 1, m: 1000 },
  reference_et: { mm: 1, m: 1000 },
  available_water: { mm: 1, m: 1000 },
  npp: { 'gC/m2': 1 / 0.45, 'gDM/m2': 1, 'tC/ha': 100 / 0.45, 'kgC/m2': 1000 / 0.45 },
  erosivity: { 'MJ·mm/(ha·h·a)': 1 },
  erodibility: { 't·ha·h/(ha·MJ·mm)': 1 },
  dem: { m: 1 },
  cover_management: { '1': 1 },
} as const
export type InputRole = keyof typeof INPUT_UNITS
/** resampling used for each role unless the config says otherwise */
const DEFAULT_RESAMPLING: Record<InputRole, (typeof RESAMPLING)[number]> = {
  precipitation: 'bilinear', evapotranspiration: 'bilinear', reference_et: 'bilinear', available_water: 'bilinear', npp: 'average',
  erosivity: 'bilinear', erodibility: 'nearest', dem: 'bilinear', cover_management: 'nearest',
}

const rasterSpec = z.string().min(1).max(100).regex(/^[\p{L}\p{N}_.-]{1,64}(@[0-9A-Za-z_.{}-]{1,32})?$/u, { error: 'a raster NAME or NAME@VINTAGE ({year} is replaced by the year)' })
const positive = f.number.pipe(z.number().positive({ error: 'must be positive' }))
const share = f.number.pipe(z.number().min(0, { error: 'must be at least 0' }).max(1, { error: 'must be at most 1' }))

const input = z.strictObject({
  raster: rasterSpec,
  unit: z.string(),
  resampling: f.oneOf(RESAMPLING).optional(),
  band: f.int(1, 10_000).optional(),
})

const pool = z.strictObject({ above: f.number, below: f.number, soil: f.number, dead: f.number })
const typeCoefficients = z.strictObject({
  /** runoff coefficient α of the water balance (R = α·P) */
  runoff: share.optional(),
  /** RUSLE cover-management C and support-practice P */
  c: share.optional(),
  p: share.optional(),
  /** Fu: crop coefficient Kc and whether vegetated */
  kc: f.number.optional(),
  vegetated: z.boolean().optional(),
  /** carbon pools t C/ha (InVEST Carbon) */
  carbon: pool.optional(),
  source: z.string().optional(),
  verified: z.boolean().optional(),
})

const coefficientItem = z.strictObject({
  /** sub-item (pollutant …) → unit of the coefficient → per-type coefficient */
  substances: z.record(z.string().min(1).max(40), z.strictObject({
    unit: z.enum(['kg/(ha·a)', 't/(ha·a)', 'kWh/(ha·a)', 'm3/(ha·a)']),
    types: z.partialRecord(z.enum(TYPE_IDS), f.number),
  })),
  source: z.string().optional(),
  verified: z.boolean().optional(),
})

const part = z.strictObject({ name: z.string().min(1).max(40), factor: positive, unit: z.string().min(1).max(20), note: z.string().optional() })

const items = z.strictObject({
  water_conservation: z.strictObject({ method: z.enum(['water_balance', 'fu']).default('water_balance'), z: positive.optional() }).optional(),
  soil_retention: z.strictObject({
    fill: z.boolean().default(true),
    /** cap of the L factor (InVEST SDR's l_max) */
    l_max: positive.optional(),
    /** cells draining more than this many cells are streams: no hillslope erosion (InVEST's threshold_flow_accumulation) */
    stream_threshold: positive.optional(),
    parts: z.array(part).optional(),
  }).optional(),
  carbon_sequestration: z.strictObject({ co2_per_dm: positive.optional() }).optional(),
  oxygen_release: z.strictObject({ o2_per_dm: positive.optional() }).optional(),
  climate_regulation: z.strictObject({
    /** types whose evapotranspiration cools (transpiration) and whose water surface evaporates */
    plant_types: z.array(z.enum(TYPE_IDS)).default(['forest', 'shrub', 'grassland', 'wetland']),
    water_types: z.array(z.enum(TYPE_IDS)).default(['water']),
    /** energy efficiency ratio of the air conditioner / humidifier replaced (guideline: r) */
    efficiency: positive.default(1),
    /** share of the year's ET that replaces cooling or humidifying (the guideline counts the
     *  days above 26 °C only: that share of the annual ET) */
    active_share: share.default(1),
    latent_heat_mj_per_kg: positive.default(2.45),
  }).optional(),
  air_purification: coefficientItem.optional(),
  water_purification: coefficientItem.optional(),
  carbon_stock: z.strictObject({}).optional(),
  flood_regulation: z.strictObject({
    lakes: z.strictObject({ layer: f.spec, a: positive, b: positive, note: z.string().optional() }).optional(),
    reservoirs: z.strictObject({ layer: f.spec, capacity_field: f.field, capacity_unit: z.enum(['m3', '10^4 m3']), factor: share }).optional(),
    marshes: z.strictObject({ layer: f.spec, depth_m: positive }).optional(),
  }).optional(),
})

const price = z.strictObject({
  item: z.string().min(1).max(60),
  price: f.number,
  unit: z.string().min(3).max(20),
  year: f.int(1900, 2200),
  source: z.string().min(1).max(400),
  method: z.string().max(40).optional(),
  verified: z.boolean().optional(),
})

const tableRow = z.strictObject({
  unit_code: z.union([z.string(), z.number()]).transform(String),
  category: z.enum(['material', 'cultural']),
  item: z.string().min(1).max(60),
  quantity: f.number,
  unit: z.string().min(1).max(20),
  year: f.int(1900, 2200).optional(),
})

export const GepConfigSchema = z.strictObject({
  name: z.string().max(200).optional(),
  year: f.int(1900, 2200),
  grid: z.union([z.literal('ecosystem'), z.strictObject({ crs: f.crs, resolution: positive })]).default('ecosystem'),
  /** a categorical raster, or a layer ingested with --category-field (its categories are the classes) */
  ecosystem: z.strictObject({ raster: rasterSpec.optional(), layer: rasterSpec.optional(), classes: z.record(z.string(), z.unknown()) })
    .refine((e) => (e.raster === undefined) !== (e.layer === undefined), { error: 'give either raster or layer' }),
  inputs: z.partialRecord(z.enum(Object.keys(INPUT_UNITS) as [InputRole, ...InputRole[]]), input).default({}),
  types: z.partialRecord(z.enum(TYPE_IDS), typeCoefficients).default({}),
  items,
  prices: z.strictObject({ version: z.string().min(1).max(60), rows: z.array(price).min(1) }),
  tables: z.array(tableRow).default([]),
  population: z.record(z.string(), positive).optional(),
  thresholds: z.strictObject({ max_nodata_share: share.default(0.02), decline_share: share.default(0.05) }).default({ max_nodata_share: 0.02, decline_share: 0.05 }),
})
export type GepConfig = z.output<typeof GepConfigSchema>

export function resamplingOf(c: GepConfig, role: InputRole): (typeof RESAMPLING)[number] {
  return c.inputs[role]?.resampling ?? DEFAULT_RESAMPLING[role]
}

/** The config's land-cover classes → ecosystem types (checked: known types, fractions summing to 1). */
export function classMappingOf(c: GepConfig): ClassMapping {
  return checkClassMapping(c.ecosystem.classes, TYPE_IDS, 'gep config: ecosystem.classes')
}

/** A config checked whole: schema, declared units, class mapping, prices' units. */
export function checkConfig(doc: unknown): GepConfig {
  const c = f.parseInput(GepConfigSchema, doc, 'body') as GepConfig
  for (const [role, i] of Object.entries(c.inputs) as [InputRole, z.output<typeof input>][]) {
    const known = INPUT_UNITS[role] as Record<string, number>
    if (!(i.unit in known)) throw new BadInput(`gep config: inputs.${role} is declared in '${i.unit}'; give one of ${Object.keys(known).join(', ')}`)
  }
  classMappingOf(c)
  const seen = new Set<string>()
  for (const p of c.prices.rows) {
    if (!p.unit.startsWith('元/')) throw new BadInput(`gep config: price of '${p.item}' is in '${p.unit}'; prices are in 元/<unit of the quantity>, e.g. 元/m³`)
    if (seen.has(p.item)) throw new BadInput(`gep config: price table ${c.prices.version} lists '${p.item}' twice`)
    seen.add(p.item)
  }
  return c
}

/**
 * A config file read for the CLI: `prices`, `tables` and `population` may name CSV/XLSX/YAML
 * files (relative to the config), which are read into the config, so a run records what it
 * used. Over HTTP the config comes whole, with the tables inline.
 */
export async function readConfig(file: string): Promise<unknown> {
  let doc: unknown
  try {
    doc = parseConfigFile(file)
  } catch (err) {
    throw new BadInput(`gep config: ${(err as Error).message}`)
  }
  if (typeof doc !== 'object' || doc === null) throw new BadInput(`gep config ${path.basename(file)}: not a mapping`)
  const o = { ...(doc as Record<string, unknown>) }
  const dir = path.dirname(file)
  const at = (v: string) => {
    const p = path.resolve(dir, v)
    if (!fs.existsSync(p)) throw new BadInput(`gep config: ${v} (named in ${path.basename(file)}) does not exist`)
    return p
  }
  if (typeof o.prices === 'string') {
    const p = at(o.prices)
    o.prices = /\.(csv|xlsx)$/i.test(p) ? { version: path.basename(p), rows: await readTable(p) } : parseConfigFile(p)
  }
  if (typeof o.tables === 'string') o.tables = await readTable(at(o.tables))
  else if (Array.isArray(o.tables) && o.tables.every((t) => typeof t === 'string')) o.tables = (await Promise.all((o.tables as string[]).map((t) => readTable(at(t))))).flat()
  if (typeof o.population === 'string') {
    const rows = await readTable(at(o.population))
    o.population = Object.fromEntries(rows.map((r) => [String(r.unit_code), Number(r.population)]))
  }
  return o
}
