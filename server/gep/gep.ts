// GEP accounting per unit as a run (kind 'gep'): the config checked, every raster it names
// resolved to a version (with {year} filled), a model grid declared, the inputs resampled onto
// it on read, LS computed from the DEM over the whole grid, then one scan adds up the class
// sums of every unit (gep/kernel.ts) and flood storage is taken from layers. The run stores
// those sums; the reader turns them into the account (gep/account.ts) with the config the
// run recorded, so a result is always computed from exactly the inputs it lists.
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import proj4 from 'proj4'
import type { Db, Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { resolveCrs } from '../crs/resolve.ts'
import { CGCS2000 } from '../crs/reproject.ts'
import { runToEnd, type RunOptions, type RunPlan, type StepContext } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { runUnits } from '../units/unit-cache.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { current } from '../scoped.ts'
import { lonLatExtent } from '../raster/ingest-raster.ts'
import { findRaster, sourceSpec, type RasterRecord, type SourceSpec } from '../raster/raster-store.ts'
import { scanJob, type Deferring, type ScanSource } from '../raster/scan-distributed.ts'
import { DISTRIBUTOR, type DistributedMeta } from '../distribute/distribute.ts'
import { jobUnits, type ZonalGrid } from '../raster/zonal-job.ts'
import { sameGrid, type GridDef } from '../raster/warp.ts'
import type { GeoTransform } from '../raster/geotiff-file.ts'
import { checkConfig, classMappingOf, INPUT_UNITS, resamplingOf, type GepConfig, type InputRole } from './config.ts'
import { accountUnit, typeSums, type GepRow, type PriceCache, type UnitSums } from './account.ts'
import { FIELDS, type KernelSpec, type KernelSums } from './kernel.ts'
import { floodLayers, floodStorage } from './flood.ts'
import { layerCategories, RASTERIZE_METHOD } from './rasterize.ts'
import { selectLayers, type LayerVersion } from '../catalog/layer-select.ts'
import { GEP_SOURCES, rasterizedLayer, STAGES, terrainOf } from './scan-sources.ts'
import { ECOSYSTEM_TYPES } from './config.ts'

export interface GepRequest {
  units: string
  config: unknown
  year?: number
  compare?: number
}

export const GEP_METHOD =
  'Model grid: every input raster resampled onto one grid by the stated method (nearest for classes, bilinear or average for continuous fields). ' +
  'Per unit and land-cover class: Σ (exact covered fraction × ellipsoidal pixel area × field), the zonal engine\'s weighting; classes mapped to ecosystem types by the stated fractions. ' +
  'Items: docs/gep.md (water balance Q = Σ(P − α·P − ET)·A or the InVEST Fu yield; soil retention R·K·LS·(1 − C·P)·A with LS by Desmet & Govers and McCool; CO₂ and O₂ from NPP by the photosynthesis equation; climate regulation from ET latent heat; purification by per-type coefficients; flood storage from layers). Value = quantity × price of the price table named.'

/** Which inputs each item reads. */
const NEEDS: Record<string, InputRole[]> = {
  water_conservation: ['precipitation', 'evapotranspiration'],
  water_conservation_fu: ['precipitation', 'reference_et', 'available_water'],
  soil_retention: ['erosivity', 'erodibility', 'dem'],
  carbon_sequestration: ['npp'],
  oxygen_release: ['npp'],
  climate_regulation: ['evapotranspiration'],
}

interface GridMeta extends GridDef {
  crs: string
  /** lon/lat box */
  extent: [number, number, number, number]
  from: string
}

/** an input version; `raster` names a layer where `layer` is set (a vector ecosystem map) */
interface InputRef { role: InputRole | 'ecosystem'; raster: string; vintage: string; id: number; checksum: string; unit?: string; resampling: string; layer?: true }

type EcoSource = { raster: RasterRecord; layer?: undefined } | { layer: LayerVersion; raster?: undefined }
interface YearInputs { eco: EcoSource; inputs: Partial<Record<InputRole, RasterRecord>> }

export interface GepMeta {
  unitSet: { id: number; name: string }
  years: number[]
  grid: GridMeta
  inputs: Record<string, InputRef[]>
  classes: string[]
  flood: Record<string, { id: number; name: string; vintage: string; checksum: string }>
  priceVersion: string
  configName: string | null
  configSha256: string
  method: string
  unitsOutside: number
  stages?: Record<string, number>
  /** per pass and year, when the run's scans went to workers */
  distributed?: Record<string, DistributedMeta>
}

const fillYear = (spec: string, year: number) => spec.replace(/\{year\}/g, String(year))

function gridOfRaster(r: RasterRecord): GridMeta {
  return { crs: r.crs, crsProj4: r.crs_proj4, transform: r.transform, width: r.width, height: r.height, extent: r.extent, from: `the grid of ${r.name}@${r.vintage}` }
}

/** A declared grid (CRS, resolution) over the unit set's box, snapped to multiples of the resolution. */
async function declaredGrid(db: Queryable, crsCode: string, res: number, box: [number, number, number, number]): Promise<GridMeta> {
  const crs = await resolveCrs(crsCode, db, 'model grid CRS')
  if (crs.geographic) throw new BadInput(`model grid: ${crs.id} is geographic; declare a projected CRS (metres), e.g. an Albers or Gauss-Krüger zone`)
  const fwd = proj4(CGCS2000, crs.proj4)
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity]
  const N = 40
  for (let i = 0; i <= N; i++) {
    for (const [lon, lat] of [[box[0] + ((box[2] - box[0]) * i) / N, box[1]], [box[0] + ((box[2] - box[0]) * i) / N, box[3]], [box[0], box[1] + ((box[3] - box[1]) * i) / N], [box[2], box[1] + ((box[3] - box[1]) * i) / N]]) {
      const [x, y] = fwd.forward([lon!, lat!]) as [number, number]
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y)
    }
  }
  x0 = Math.floor(x0 / res) * res - res; y0 = Math.floor(y0 / res) * res - res
  x1 = Math.ceil(x1 / res) * res + res; y1 = Math.ceil(y1 / res) * res + res
  const width = Math.round((x1 - x0) / res)
  const height = Math.round((y1 - y0) / res)
  if (width * height > 2e9) throw new BadInput(`model grid: ${width}×${height} pixels at ${res} m is too large; give a coarser resolution`)
  const transform: GeoTransform = [x0, res, 0, y1, 0, -res]
  return { crs: crs.id, crsProj4: crs.proj4, transform, width, height, extent: lonLatExtent(crs, transform, width, height, 'model grid'), from: `declared: ${crs.id} at ${res} m` }
}

/** Inputs of an item that the config does not give. */
function checkInputs(c: GepConfig) {
  const it = c.items
  const need = new Set<string>()
  for (const [id, v] of Object.entries(it)) {
    if (!v) continue
    const key = id === 'water_conservation' && it.water_conservation?.method === 'fu' ? 'water_conservation_fu' : id
    for (const role of NEEDS[key] ?? []) if (!c.inputs[role]) throw new BadInput(`gep config: item ${id} needs inputs.${role} (a raster with its unit)`)
    need.add(key)
  }
  if (!Object.values(it).some(Boolean) && !c.tables.length) throw new BadInput('gep config: no items and no tables: nothing to account')
  return need
}

/** The GEP of a unit set as a run. */
export async function planGep(db: Queryable, req: GepRequest, rasterDir: string): Promise<RunPlan> {
  const c = checkConfig(req.config)
  const year = req.year ?? c.year
  if (req.compare !== undefined && req.compare === year) throw new BadInput(`--compare ${req.compare} is the year accounted; give an earlier (or later) year`)
  const years = req.compare !== undefined ? [req.compare, year] : [year]
  const set = await unitSetVersion(db, req.units)
  const needs = checkInputs(c)
  const mapping = classMappingOf(c)
  const classes = [...mapping.keys()]
  // rasters of each year
  const rasters = new Map<number, YearInputs>()
  for (const y of years) {
    let eco: EcoSource
    if (c.ecosystem.raster) {
      const r = await findRaster(db, fillYear(c.ecosystem.raster, y), `ecosystem raster (${y})`)
      if (r.kind !== 'categorical') throw new BadInput(`ecosystem raster ${r.name}@${r.vintage} is continuous; it must hold land-cover classes`)
      const present = Object.keys(r.band_stats[0]?.values ?? {})
      const unknown = present.filter((v) => !mapping.has(v) && Number(v) !== r.nodata)
      if (unknown.length) throw new BadInput(`gep config: ecosystem.classes does not map class${unknown.length > 1 ? 'es' : ''} ${unknown.join(', ')} of ${r.name}@${r.vintage}; map each to a type or to null`)
      eco = { raster: r }
    } else {
      const l = (await selectLayers(db, fillYear(c.ecosystem.layer!, y)))[0]!
      if (!l.category_field) throw new BadInput(`ecosystem layer ${l.name}@${l.vintage} was ingested without --category-field; it has no classes to map`)
      const { categories, uncategorized } = await layerCategories(db, l.id)
      if (uncategorized) throw new BadInput(`ecosystem layer ${l.name}@${l.vintage}: ${uncategorized} feature(s) have no ${l.category_field}; every patch needs a class`)
      const unknown = categories.filter((v) => !mapping.has(v))
      if (unknown.length) throw new BadInput(`gep config: ecosystem.classes does not map categor${unknown.length > 1 ? 'ies' : 'y'} ${unknown.slice(0, 10).join(', ')} of layer ${l.name}@${l.vintage}; map each to a type or to null`)
      if (c.grid === 'ecosystem') throw new BadInput(`the ecosystem map is a layer (${l.name}@${l.vintage}): declare the model grid, grid: {crs: <projected CRS>, resolution: <m>}`)
      eco = { layer: l }
    }
    const inputs: Partial<Record<InputRole, RasterRecord>> = {}
    for (const [role, i] of Object.entries(c.inputs) as [InputRole, NonNullable<GepConfig['inputs'][InputRole]>][]) {
      const r = await findRaster(db, fillYear(i.raster, y), `${role} raster (${y})`)
      if (r.kind !== 'continuous') throw new BadInput(`inputs.${role}: raster ${r.name}@${r.vintage} is categorical; ${role} is a continuous field`)
      inputs[role] = r
    }
    rasters.set(y, { eco, inputs })
  }
  const units = await jobUnits(db, set.id)
  let box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity]
  for (let i = 0; i < units.ids.length; i++) {
    box = [Math.min(box[0], units.boxes[4 * i]!), Math.min(box[1], units.boxes[4 * i + 1]!), Math.max(box[2], units.boxes[4 * i + 2]!), Math.max(box[3], units.boxes[4 * i + 3]!)]
  }
  if (!units.ids.length) throw new BadInput(`unit set ${set.name} has no units`)
  const grid = c.grid === 'ecosystem' ? gridOfRaster(rasters.get(year)!.eco.raster!) : await declaredGrid(db, c.grid.crs, c.grid.resolution, box)
  if (needs.has('soil_retention') && /\+proj=(longlat|latlong)/.test(grid.crsProj4)) throw new BadInput(`soil retention needs slopes in metres: the model grid (${grid.from}) is geographic; declare grid: {crs: <projected CRS>, resolution: <m>}`)
  const inputRefs: Record<string, InputRef[]> = {}
  for (const y of years) {
    const { eco, inputs } = rasters.get(y)!
    const refs: InputRef[] = [eco.raster
      ? { role: 'ecosystem', raster: eco.raster.name, vintage: eco.raster.vintage, id: eco.raster.id, checksum: eco.raster.checksum, resampling: sameGrid(grid, gridOfRaster(eco.raster)) ? 'none (on the model grid)' : 'nearest' }
      : { role: 'ecosystem', layer: true, raster: eco.layer!.name, vintage: eco.layer!.vintage, id: eco.layer!.id, checksum: eco.layer!.source_checksum, resampling: RASTERIZE_METHOD }]
    for (const [role, r] of Object.entries(inputs) as [InputRole, RasterRecord][]) {
      refs.push({ role, raster: r.name, vintage: r.vintage, id: r.id, checksum: r.checksum, unit: c.inputs[role]!.unit, resampling: sameGrid(grid, gridOfRaster(r)) ? 'none (on the model grid)' : resamplingOf(c, role) })
    }
    inputRefs[y] = refs
  }
  const fl = c.items.flood_regulation ? await floodLayers(db, c.items.flood_regulation) : {}
  const flood = Object.fromEntries(Object.entries(fl).map(([k, l]) => [k, { id: l!.id, name: l!.name, vintage: l!.vintage, checksum: l!.source_checksum }]))
  // every price and unit the account will need, checked now (zero sums of every mapped class)
  for (const y of years) {
    const zero = new Array((classes.length + 2) * (1 + 2 * FIELDS.length)).fill(0)
    accountUnit(c, mapping, classes, { code: '', name: null }, y, { data: zero, flood: c.items.flood_regulation ? {} : undefined }, c.tables.filter((t) => (t.year ?? c.year) === y))
  }
  const entries: [string, string, unknown][] = []
  const configSha256 = createHash('sha256').update(JSON.stringify(req.config)).digest('hex')
  const meta: GepMeta = {
    unitSet: { id: set.id, name: set.name }, years, grid, inputs: inputRefs, classes, flood, priceVersion: c.prices.version, configName: c.name ?? null, configSha256, method: GEP_METHOD, unitsOutside: 0,
  }
  // unit codes of the tables must be units of the set
  if (c.tables.length || c.population) {
    const codes = new Set((await db.query<{ code: string }>('SELECT code FROM unit WHERE set_id = $1', [set.id])).map((r) => r.code))
    const unknown = [...new Set([...c.tables.map((t) => t.unit_code), ...Object.keys(c.population ?? {})])].filter((u) => !codes.has(u))
    if (unknown.length) throw new BadInput(`gep tables: unit code${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ' …' : ''} not in unit set ${set.name}`)
  }
  return {
    kind: 'gep',
    params: { units: req.units, year, compare: req.compare, config: req.config },
    inputs: {
      unitSet: set,
      rasterList: years.flatMap((y) => inputRefs[y]!.filter((r) => !r.layer).map((r) => ({ year: y, role: r.role, id: r.id, checksum: r.checksum }))),
      layers: [
        ...Object.entries(flood).map(([k, l]) => ({ use: k, id: l.id, checksum: l.checksum })),
        ...years.flatMap((y) => inputRefs[y]!.filter((r) => r.layer).map((r) => ({ use: `ecosystem ${y}`, id: r.id, checksum: r.checksum }))),
      ],
      configSha256,
    },
    meta: meta as unknown as Record<string, unknown>,
    steps: [
      ...years.map((y) => ({
        label: `gep ${y}`,
        weight: 1,
        run: async (ctx: StepContext) => void entries.push(...(await accountYear(ctx, c, meta, y, rasters.get(y)!, rasterDir))),
      })),
      {
        label: 'store',
        weight: 0.01,
        run: async (ctx: StepContext) => void (await ctx.db.query('INSERT INTO run_result (run_id, entries, body) VALUES ($1, $2, $3)', [ctx.runId, entries.length, JSON.stringify(entries)])),
      },
    ],
  }
}

async function specOn(db: Queryable, rasterDir: string, r: RasterRecord, grid: GridMeta, method: string, band = 1): Promise<SourceSpec> {
  const s = await sourceSpec(db, rasterDir, r, band)
  if (sameGrid(grid, gridOfRaster(r))) return s
  return { op: 'warp', source: s, from: { crsProj4: r.crs_proj4, transform: r.transform }, to: { crsProj4: grid.crsProj4, transform: grid.transform, width: grid.width, height: grid.height }, method: method as 'nearest' }
}

/** One year's class sums of every unit, as run entries. */
async function accountYear(ctx: StepContext, c: GepConfig, meta: GepMeta, year: number, rasters: YearInputs, rasterDir: string): Promise<[string, string, unknown][]> {
  const stages = (meta.stages ??= {})
  let t = performance.now()
  const lap = (k: string) => { stages[`${k}_${year}`] = Math.round(performance.now() - t); t = performance.now() }
  const grid = meta.grid
  const zgrid: ZonalGrid = { crsProj4: grid.crsProj4, transform: grid.transform, width: grid.width, height: grid.height, extent: grid.extent }
  const eco = rasters.eco
  const it = c.items
  const classSource: ScanSource = eco.raster ? await specOn(ctx.db, rasterDir, eco.raster, grid, 'nearest') : rasterizedLayer(eco.layer.id, zgrid, meta.classes)
  // two passes over the units: the fields from climate rasters (and every class area) start
  // at once in the scan threads, while this thread computes the terrain the soil pass needs
  const NONE = { precip: -1, et: -1, npp: -1, r: -1, k: -1, tan: -1, xaspect: -1, acc: -1, c: -1, et0: -1, awc: -1 }
  const pass = () => ({ sources: [classSource] as ScanSource[], idx: { ...NONE } })
  const add = (p: ReturnType<typeof pass>, key: keyof typeof NONE, source: ScanSource) => {
    p.idx[key] = p.sources.length
    p.sources.push(source)
  }
  const addTo = async (p: ReturnType<typeof pass>, role: InputRole, key: keyof typeof NONE) => {
    const r = rasters.inputs[role]
    if (r) add(p, key, await specOn(ctx.db, rasterDir, r, grid, resamplingOf(c, role), c.inputs[role]!.band))
  }
  const climate = pass()
  await addTo(climate, 'precipitation', 'precip')
  await addTo(climate, 'evapotranspiration', 'et')
  await addTo(climate, 'npp', 'npp')
  await addTo(climate, 'reference_et', 'et0')
  await addTo(climate, 'available_water', 'awc')
  const soil = pass()
  if (it.soil_retention) {
    await addTo(soil, 'erosivity', 'r')
    await addTo(soil, 'erodibility', 'k')
    await addTo(soil, 'cover_management', 'c')
    // LS from the terrain over the whole model grid (gep/scan-sources.ts): flow paths do not stop at unit boundaries
    const dem = await specOn(ctx.db, rasterDir, rasters.inputs.dem!, grid, resamplingOf(c, 'dem'), c.inputs.dem!.band)
    for (const part of ['tan', 'xaspect', 'acc'] as const) add(soil, part, terrainOf(dem, grid, it.soil_retention.fill, part))
  }
  const mapping = classMappingOf(c)
  const kc: number[] = []
  const vegetated: boolean[] = []
  for (const cls of meta.classes) {
    const parts = mapping.get(cls) ?? []
    // Fu's coefficients of a mixed class: the fraction-weighted Kc, vegetated if any part is
    kc.push(parts.reduce((s, [t, f]) => s + f * (c.types[t as keyof typeof ECOSYSTEM_TYPES]?.kc ?? NaN), 0))
    vegetated.push(parts.some(([t]) => c.types[t as keyof typeof ECOSYSTEM_TYPES]?.vegetated ?? false))
  }
  if (it.water_conservation?.method === 'fu') {
    const missing = meta.classes.filter((_, i) => (mapping.get(meta.classes[i]!) ?? []).length && !Number.isFinite(kc[i]))
    if (missing.length) throw new BadInput(`water yield (Fu): types of class${missing.length > 1 ? 'es' : ''} ${missing.join(', ')} need kc in types`)
  }
  const mm = (role: InputRole) => {
    const i = c.inputs[role]
    return i ? (INPUT_UNITS[role] as Record<string, number>)[i.unit]! : 1
  }
  const fields: KernelSpec['fields'] = {
    wb_p: !!it.water_conservation && it.water_conservation.method !== 'fu', wb_et: !!it.water_conservation && it.water_conservation.method !== 'fu',
    et: !!it.climate_regulation, npp: !!(it.carbon_sequestration || it.oxygen_release), rkls: !!it.soil_retention, rklsc: !!it.soil_retention && soil.idx.c >= 0,
    fu: it.water_conservation?.method === 'fu',
  }
  const specOf = (p: ReturnType<typeof pass>, f: Partial<KernelSpec['fields']>): KernelSpec => ({
    inputs: p.idx,
    fields: { wb_p: false, wb_et: false, et: false, npp: false, rkls: false, rklsc: false, fu: false, ...f },
    // a rasterized layer codes the mapping's categories 1…n, 0 for no data
    classNodata: eco.raster ? eco.raster.nodata : 0,
    classes: eco.raster ? meta.classes.map(Number) : meta.classes.map((_, i) => i + 1),
    kc,
    vegetated,
    z: it.water_conservation?.z ?? 5,
    ls: { D: Math.sqrt(Math.abs(grid.transform[1] * grid.transform[5])), cell: Math.abs(grid.transform[1] * grid.transform[5]), lMax: it.soil_retention?.l_max },
    stream: it.soil_retention?.stream_threshold ?? Infinity,
    mm: { precip: mm('precipitation'), et: mm('evapotranspiration'), et0: mm('reference_et'), awc: mm('available_water') },
  })
  const units = await jobUnits(ctx.db, meta.unitSet.id)
  const share = [0, 0]
  const report = (k: 0 | 1) => (f: number) => { share[k] = f; return ctx.progress(0.05 + 0.9 * (it.soil_retention ? 0.3 * share[0]! + 0.7 * share[1]! : share[0]!)) }
  // made sources (the rasterized layer, the terrain) once for both passes, here or on each worker
  const deferring: Deferring = { resolvers: GEP_SOURCES, memo: new Map() }
  const scanPass = (p: ReturnType<typeof pass>, f: Partial<KernelSpec['fields']>, k: 0 | 1) =>
    scanJob(ctx, { sources: p.sources, grid: zgrid, accumulator: { mode: 'module', module: 'gep/kernel', spec: specOf(p, f) }, units }, meta.unitSet.id, rasterDir, report(k), deferring)
  const climatePass = scanPass(climate, { wb_p: fields.wb_p, wb_et: fields.wb_et, et: fields.et, npp: fields.npp, fu: fields.fu }, 0)
  // awaited below: a failure meanwhile (a raster file gone) must reach that await, not end
  // the process as an unhandled rejection
  climatePass.catch(() => {})
  let soilPass: typeof climatePass | undefined
  if (it.soil_retention) {
    // the passes of a distributed run go to the workers one after the other (a run's parts
    // are one set at a time); here, this thread computes the terrain while the scan threads
    // take the climate pass (handed to them first)
    if (current(DISTRIBUTOR)) await climatePass
    else await new Promise((r) => setImmediate(r))
    soilPass = scanPass(soil, { rkls: true, rklsc: fields.rklsc }, 1)
    soilPass.catch(() => {})
  }
  const res = await climatePass
  const soilRes = await soilPass
  for (const [k, ms] of Object.entries((deferring.memo.get(STAGES) ?? {}) as Record<string, number>)) stages[`${k}_${year}`] = ms
  for (const [k, r] of [['climate', res], ['soil', soilRes]] as const) if (r?.distributed) (meta.distributed ??= {})[`${k}_${year}`] = r.distributed
  if (soilRes) {
    // the soil pass adds its two fields to the climate pass's sums (same units, same order)
    const soilOf = new Map(soilRes.inside.map((id, i) => [id, (soilRes.sums as KernelSums[])[i]!]))
    const at = [1 + 2 * FIELDS.indexOf('rkls'), 1 + 2 * FIELDS.indexOf('rklsc')]
    res.inside.forEach((id, i) => {
      const a = (res.sums as KernelSums[])[i]!
      const b = soilOf.get(id)!
      for (let row = 0; row < a.rows; row++) for (const k of at) { a.data[row * a.width + k] = b.data[row * b.width + k]!; a.data[row * a.width + k + 1] = b.data[row * b.width + k + 1]! }
    })
  }
  lap('scan')
  meta.unitsOutside = res.outside.length
  const flood = it.flood_regulation ? await floodStorage(ctx.db, meta.unitSet.id, it.flood_regulation, Object.fromEntries(Object.entries(meta.flood).map(([k, l]) => [k, { ...l, kind: '', source_checksum: l.checksum, feature_count: 0, category_field: null }]))) : undefined
  lap('flood')
  // refuse holes above the threshold: units the grid leaves uncovered, or inputs without data
  const rows = await runUnits(ctx.db, ctx.runId, meta.unitSet.id, meta.unitSet.name)
  const entries: [string, string, unknown][] = []
  const holes: string[] = []
  const sumsOf = new Map<string, KernelSums>()
  res.inside.forEach((id, i) => sumsOf.set(id, (res.sums as KernelSums[])[i]!))
  for (const r of rows) {
    const s = sumsOf.get(r.id)
    const data = s ? Array.from(s.data) : new Array((meta.classes.length + 2) * (1 + 2 * FIELDS.length)).fill(0)
    const { extent, byType } = typeSums(data, meta.classes, mapping)
    const limit = c.thresholds.max_nodata_share * r.area_m2
    const outside = Math.max(0, r.area_m2 - extent.scanned_m2)
    if (outside > limit) holes.push(`${r.code}: ${(outside / 1e6).toFixed(3)} km² outside the model grid`)
    for (const f of FIELDS) {
      if (!fields[f]) continue
      let nd = extent.nodata_m2
      for (const v of byType.values()) nd += v[2 + 2 * FIELDS.indexOf(f)]!
      if (nd > limit) holes.push(`${r.code}: ${(nd / 1e6).toFixed(3)} km² without ${f} data`)
    }
    entries.push([r.id, `y${year}`, { data, flood: flood?.get(r.id) ?? (flood ? {} : undefined), outside_m2: outside } satisfies UnitSums & { outside_m2: number }])
  }
  if (holes.length) {
    throw new BadInput(`gep ${year}: inputs leave more than ${(c.thresholds.max_nodata_share * 100).toFixed(1)}% of ${holes.length} unit×field(s) without data (thresholds.max_nodata_share): ${holes.slice(0, 8).join('; ')}${holes.length > 8 ? ' …' : ''}`)
  }
  return entries
}

export interface GepUnitRow {
  unit_code: string
  unit_name: string | null
  year: number
  area_m2: number
  gep_yuan: number
  material_yuan: number
  regulating_yuan: number
  cultural_yuan: number
  gep_per_km2: number
  population: number | null
  gep_per_capita: number | null
  outside_m2: number
  nodata_m2: number
}

export interface GepChangeRow {
  unit_code: string
  unit_name: string | null
  category: string
  item: string
  year_from: number
  year_to: number
  value_from: number
  value_to: number
  delta_yuan: number
  delta_share: number | null
  declined: boolean
}

export interface GepExtentRow { unit_code: string; unit_name: string | null; year: number; ecosystem: string; area_m2: number; share: number }

export interface GepResult {
  run: RunRecord
  unitSet: string
  years: number[]
  grid: GridMeta
  inputs: GepMeta['inputs']
  flood: GepMeta['flood']
  priceVersion: string
  prices: GepConfig['prices']['rows']
  configName: string | null
  configSha256: string
  method: string
  declineShare: number
  rows: GepRow[]
  units: GepUnitRow[]
  extent: GepExtentRow[]
  change: GepChangeRow[]
}

/** The account of a done gep run, from its stored sums and recorded config. */
export async function readGep(db: Queryable, run: RunRecord): Promise<GepResult> {
  const meta = run.meta as unknown as GepMeta
  const c = checkConfig(run.params.config)
  const mapping = classMappingOf(c)
  const units = await runUnits(db, run.id, meta.unitSet.id, meta.unitSet.name)
  const stored = await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [run.id])
  const byKey = new Map<string, UnitSums & { outside_m2: number }>()
  for (const s of stored) for (const [u, k, v] of JSON.parse(s.body) as [string, string, UnitSums & { outside_m2: number }][]) byKey.set(`${u}|${k}`, v)
  const rows: GepRow[] = []
  const prices: PriceCache = new Map()
  const tablesOf = new Map<string, GepConfig['tables']>()
  for (const t of c.tables) (tablesOf.get(t.unit_code) ?? tablesOf.set(t.unit_code, []).get(t.unit_code)!).push(t)
  const unitRows: GepUnitRow[] = []
  const extent: GepExtentRow[] = []
  for (const y of meta.years) {
    for (const u of units) {
      const sums = byKey.get(`${u.id}|y${y}`)
      if (!sums) throw new BadInput(`gep run ${run.id} has no sums for unit ${u.code} in ${y}; run it again (--fresh)`)
      const tables = (tablesOf.get(u.code) ?? []).filter((t) => (t.year ?? c.year) === y)
      const mine = accountUnit(c, mapping, meta.classes, { code: u.code, name: u.name }, y, sums, tables, prices)
      rows.push(...mine)
      const { extent: ex } = typeSums(sums.data, meta.classes, mapping)
      const val = (cat: string) => mine.find((r) => r.category === cat && r.item === '*')?.value_yuan ?? 0
      const pop = c.population?.[u.code] ?? null
      const gepV = val('*')
      unitRows.push({
        unit_code: u.code, unit_name: u.name, year: y, area_m2: u.area_m2, gep_yuan: gepV, material_yuan: val('material'), regulating_yuan: val('regulating'), cultural_yuan: val('cultural'),
        gep_per_km2: u.area_m2 > 0 ? gepV / (u.area_m2 / 1e6) : 0, population: pop, gep_per_capita: pop ? gepV / pop : null, outside_m2: sums.outside_m2, nodata_m2: ex.nodata_m2,
      })
      for (const [t, a] of Object.entries(ex.types) as [keyof typeof ECOSYSTEM_TYPES, number][]) extent.push({ unit_code: u.code, unit_name: u.name, year: y, ecosystem: ECOSYSTEM_TYPES[t], area_m2: a, share: u.area_m2 > 0 ? a / u.area_m2 : 0 })
    }
  }
  const change: GepChangeRow[] = []
  if (meta.years.length === 2) {
    const [y0, y1] = meta.years as [number, number]
    const key = (r: GepRow) => `${r.unit_code}|${r.category}|${r.item}`
    const from = new Map(rows.filter((r) => r.year === y0 && r.ecosystem === '*' && r.part_of === null).map((r) => [key(r), r]))
    for (const r of rows.filter((r) => r.year === y1 && r.ecosystem === '*' && r.part_of === null)) {
      const a = from.get(key(r))
      // a stock changes in quantity (t C); flows in value
      const v0 = r.category === 'stock' ? a?.quantity ?? 0 : a?.value_yuan ?? 0
      const v1 = r.category === 'stock' ? r.quantity ?? 0 : r.value_yuan ?? 0
      const d = v1 - v0
      const share = v0 !== 0 ? d / Math.abs(v0) : null
      change.push({ unit_code: r.unit_code, unit_name: r.unit_name, category: r.category, item: r.item, year_from: y0, year_to: y1, value_from: v0, value_to: v1, delta_yuan: d, delta_share: share, declined: share !== null && share < -c.thresholds.decline_share })
    }
  }
  return {
    run, unitSet: meta.unitSet.name, years: meta.years, grid: meta.grid, inputs: meta.inputs, flood: meta.flood, priceVersion: meta.priceVersion, prices: c.prices.rows,
    configName: meta.configName, configSha256: meta.configSha256, method: meta.method, declineShare: c.thresholds.decline_share, rows, units: unitRows, extent, change,
  }
}

/** Computes GEP as a run (or finds an identical one) and reads it. */
export async function gep(db: Db, req: GepRequest, rasterDir: string, opts: RunOptions = {}): Promise<GepResult> {
  return readGep(db, await runToEnd(db, await planGep(db, req, rasterDir), opts))
}

