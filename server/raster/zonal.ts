// Zonal statistics of a raster per unit (kind 'zonal') and change between two rasters
// per unit (kind 'zonal_change': class transitions of two categorical rasters on one
// grid, or the difference of means of two continuous rasters), planned as runs over the
// streaming scan. Results go to run_value, one row per unit and band, class or pair.
import { performance } from 'node:perf_hooks'
import type { Db, Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { runToEnd, type RunOptions, type RunPlan, type StepContext } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { runUnits } from '../stats/coverage.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { pixelAreas } from './pixel-area.ts'
import { findRaster, pixelSource, type RasterRecord } from './raster-store.ts'
import { categorical, continuous, continuousStats, pairOf, transitions, type HistogramSpec } from './zonal-accumulators.ts'
import { loadZonalUnits, scan } from './zonal-scan.ts'

export const ZONAL_METHOD =
  'Each pixel is weighted by the exact fraction of its area inside the unit (the unit reprojected to the raster CRS, clipped against the pixel grid by Green\'s theorem: no centroid sampling, no all-touched) times its ellipsoidal area. ' +
  'Categorical: area per class; share = class area / ellipsoidal unit area. Continuous: count = Σ fraction, sum = Σ fraction·value; mean and stddev are weighted by covered area (fraction·pixel area; equal to sum/count on equal-area grids); min/max over pixels more than 1e-9 covered (coordinate rounding is not coverage); nodata pixels are left out.'

export interface ZonalOptions {
  band?: number
  bins?: number
  /** histogram range 'lo,hi' (default: the band's min and max, [-1, 1] for NDVI, [0, 1] for FVC) */
  range?: string
}

interface RasterRef {
  id: number
  name: string
  vintage: string
  kind: string
  checksum: string
  crs: string
  legend: RasterRecord['legend']
}

type ZonalMeta = {
  unitSet: { id: number; name: string }
  raster: RasterRef
  to?: RasterRef
  mode: 'categorical' | 'continuous' | 'transitions' | 'difference'
  band: number
  histogram?: HistogramSpec
  pixelArea: string
  method: string
  unitsOutside: number
  /** time of loading units, scanning the raster, storing sums */
  stages?: { unitsMs: number; scanMs: number; storeMs: number }
}

const refOf = (r: RasterRecord): RasterRef => ({ id: r.id, name: r.name, vintage: r.vintage, kind: r.kind, checksum: r.checksum, crs: r.crs, legend: r.legend })

function bandOf(r: RasterRecord, band: number | undefined): number {
  const b = band ?? 1
  if (!Number.isInteger(b) || b < 1 || b > r.bands) throw new BadInput(`band ${band}: raster '${r.name}' has band${r.bands > 1 ? 's 1..' + r.bands : ' 1'}`)
  return b
}

function histogramOf(r: RasterRecord, band: number, o: ZonalOptions): HistogramSpec {
  const bins = o.bins ?? 10
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000) throw new BadInput(`bins ${o.bins}: give 1..1000`)
  if (o.range) {
    const [lo, hi] = o.range.split(',').map(Number)
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi! > lo!)) throw new BadInput(`range '${o.range}': give lo,hi with lo < hi`)
    return { lower: lo!, upper: hi!, bins }
  }
  if (r.derived?.op === 'ndvi') return { lower: -1, upper: 1, bins }
  if (r.derived?.op === 'fvc') return { lower: 0, upper: 1, bins }
  const s = r.band_stats[band - 1]
  const lo = s?.min ?? 0
  const hi = s?.max ?? 1
  return { lower: lo, upper: hi > lo ? hi : lo + 1, bins }
}

async function insertValues(db: Queryable, runId: number, rows: [string, string, unknown][]): Promise<void> {
  for (let i = 0; i < rows.length; i += 2000) {
    const part = rows.slice(i, i + 2000)
    await db.query(
      'INSERT INTO run_value (run_id, unit_id, key, v) SELECT $1, u::bigint, k, v::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) AS t(u, k, v)',
      [runId, part.map((r) => r[0]), part.map((r) => r[1]), part.map((r) => JSON.stringify(r[2]))],
    )
  }
}

/** Zonal statistics of one band of a raster over a unit set. */
export async function planZonal(db: Queryable, unitSet: string, rasterSpec: string, o: ZonalOptions = {}, rasterDir: string): Promise<RunPlan> {
  const set = await unitSetVersion(db, unitSet)
  const r = await findRaster(db, rasterSpec)
  const band = bandOf(r, o.band)
  const mode = r.kind === 'categorical' ? 'categorical' : 'continuous'
  const histogram = mode === 'continuous' ? histogramOf(r, band, o) : undefined
  const areas = pixelAreas(r.crs_proj4, r.transform)
  const meta: ZonalMeta = { unitSet: { id: set.id, name: set.name }, raster: refOf(r), mode, band, histogram, pixelArea: areas.method, method: ZONAL_METHOD, unitsOutside: 0 }
  return {
    kind: 'zonal',
    params: { units: unitSet, raster: rasterSpec, band, bins: histogram?.bins, range: histogram && [histogram.lower, histogram.upper] },
    inputs: { unitSet: set, raster: { id: r.id, checksum: r.checksum } },
    meta,
    steps: [{
      label: `zonal ${r.name}@${r.vintage}`,
      weight: 1,
      run: async (ctx: StepContext) => {
        let t = performance.now()
        const lap = () => { const ms = Math.round(performance.now() - t); t = performance.now(); return ms }
        const { inside, outside } = await loadZonalUnits(ctx.db, set.id, r.crs_proj4, r.transform, r.width, r.height, r.extent)
        meta.unitsOutside = outside.length
        meta.stages = { unitsMs: lap(), scanMs: 0, storeMs: 0 }
        const src = await pixelSource(ctx.db, rasterDir, r, band)
        const out: [string, string, unknown][] = []
        if (mode === 'categorical') {
          const acc = categorical(inside.length, src.nodata)
          await scan([src], inside, areas, acc.take, { signal: ctx.signal, progress: ctx.progress })
          // one row per unit: class → [area m², pixels], and the nodata area
          acc.sums.forEach((s, i) => out.push([inside[i]!.id, 'classes', { classes: Object.fromEntries(s.classes), nodata: [s.nodataM2, s.nodataPixels] }]))
        } else {
          const acc = continuous(inside.length, src.nodata, histogram!)
          await scan([src], inside, areas, acc.take, { signal: ctx.signal, progress: ctx.progress })
          acc.sums.forEach((s, i) => out.push([inside[i]!.id, `b:${band}`, continuousStats(s)]))
        }
        meta.stages.scanMs = lap()
        await insertValues(ctx.db, ctx.runId, out)
        meta.stages.storeMs = lap()
      },
    }],
  }
}

/** Change between two rasters per unit: transitions (categorical, same grid) or difference of means (continuous). */
export async function planZonalChange(db: Queryable, unitSet: string, fromSpec: string, toSpec: string, o: ZonalOptions = {}, rasterDir: string): Promise<RunPlan> {
  const set = await unitSetVersion(db, unitSet)
  const a = await findRaster(db, fromSpec, 'from raster')
  const b = await findRaster(db, toSpec, 'to raster')
  if (a.kind !== b.kind) throw new BadInput(`'${a.name}@${a.vintage}' is ${a.kind} and '${b.name}@${b.vintage}' is ${b.kind}; change needs two of one kind`)
  const band = bandOf(a, o.band)
  bandOf(b, o.band)
  const mode = a.kind === 'categorical' ? 'transitions' : 'difference'
  if (mode === 'transitions') {
    const same = a.width === b.width && a.height === b.height && a.crs_proj4 === b.crs_proj4 &&
      a.transform.every((v, i) => Math.abs(v - b.transform[i]!) <= 1e-9 * Math.max(1, Math.abs(v)))
    if (!same) throw new BadInput(`class transitions need both rasters on the same grid; '${a.name}@${a.vintage}' (${a.width}×${a.height}, ${a.crs}) and '${b.name}@${b.vintage}' (${b.width}×${b.height}, ${b.crs}) differ: resample one onto the other first (gdalwarp -tap)`)
  }
  const areasA = pixelAreas(a.crs_proj4, a.transform)
  const areasB = pixelAreas(b.crs_proj4, b.transform)
  const histogram = mode === 'difference' ? histogramOf(a, band, { ...o, range: o.range ?? `${Math.min(histogramOf(a, band, o).lower, histogramOf(b, band, o).lower)},${Math.max(histogramOf(a, band, o).upper, histogramOf(b, band, o).upper)}` }) : undefined
  const meta: ZonalMeta = { unitSet: { id: set.id, name: set.name }, raster: refOf(a), to: refOf(b), mode, band, histogram, pixelArea: areasA.method, method: ZONAL_METHOD, unitsOutside: 0 }
  return {
    kind: 'zonal_change',
    params: { units: unitSet, from: fromSpec, to: toSpec, band },
    inputs: { unitSet: set, from: { id: a.id, checksum: a.checksum }, to: { id: b.id, checksum: b.checksum } },
    meta,
    steps: [{
      label: `${mode} ${a.name}@${a.vintage} → ${b.name}@${b.vintage}`,
      weight: 1,
      run: async (ctx: StepContext) => {
        const out: [string, string, unknown][] = []
        if (mode === 'transitions') {
          const { inside, outside } = await loadZonalUnits(ctx.db, set.id, a.crs_proj4, a.transform, a.width, a.height, a.extent)
          meta.unitsOutside = outside.length
          const sa = await pixelSource(ctx.db, rasterDir, a, band)
          const sb = await pixelSource(ctx.db, rasterDir, b, band)
          const acc = transitions(inside.length, sa.nodata, sb.nodata)
          await scan([sa, sb], inside, areasA, acc.take, { signal: ctx.signal, progress: ctx.progress })
          // one row per unit: 'from:to' → [area m², pixels], and the nodata area
          acc.sums.forEach((s, i) => out.push([inside[i]!.id, 'pairs', { pairs: Object.fromEntries([...s.pairs].map(([k, v]) => [pairOf(k).join(':'), v])), nodata: s.nodataM2 }]))
        } else {
          const stats = new Map<string, { from?: unknown; to?: unknown }>()
          for (const [which, r, areas] of [['from', a, areasA], ['to', b, areasB]] as const) {
            const { inside } = await loadZonalUnits(ctx.db, set.id, r.crs_proj4, r.transform, r.width, r.height, r.extent)
            const src = await pixelSource(ctx.db, rasterDir, r, band)
            const acc = continuous(inside.length, src.nodata, histogram!)
            await scan([src], inside, areas, acc.take, {
              signal: ctx.signal,
              progress: (f) => ctx.progress(which === 'from' ? f / 2 : 0.5 + f / 2),
            })
            acc.sums.forEach((s, i) => {
              const e = stats.get(inside[i]!.id) ?? stats.set(inside[i]!.id, {}).get(inside[i]!.id)!
              e[which] = continuousStats(s)
            })
          }
          for (const [unit, v] of stats) out.push([unit, `d:${band}`, v])
        }
        await insertValues(ctx.db, ctx.runId, out)
      },
    }],
  }
}

export interface CategoricalRow {
  unit_code: string
  unit_name: string | null
  raster: string
  vintage: string
  class: number
  area_m2: number
  share: number
  class_name: string | null
  pixels: number
}

export interface ContinuousRow {
  unit_code: string
  unit_name: string | null
  raster: string
  vintage: string
  band: number
  count: number
  sum: number
  mean: number | null
  min: number | null
  max: number | null
  stddev: number | null
  area_m2: number
  nodata_m2: number
}

export interface ZonalResult {
  run: RunRecord
  unitSet: string
  raster: RasterRef
  to?: RasterRef
  mode: ZonalMeta['mode']
  band: number
  histogram?: HistogramSpec
  pixelArea: string
  method: string
  unitsOutside: number
  /** per mode: categorical or continuous rows, transitions, or differences */
  rows: object[]
  histogramRows: object[]
}

/** Rows of a done zonal or zonal_change run. */
export async function readZonal(db: Queryable, run: RunRecord): Promise<ZonalResult> {
  const meta = run.meta as unknown as ZonalMeta
  const units = await runUnits(db, run, meta.unitSet.id, meta.unitSet.name)
  const values = await db.query<{ unit_id: string; key: string; v: Record<string, unknown> }>(
    'SELECT unit_id::text AS unit_id, key, v FROM run_value WHERE run_id = $1', [run.id])
  const byUnit = new Map<string, Map<string, Record<string, unknown>>>()
  for (const r of values) (byUnit.get(r.unit_id) ?? byUnit.set(r.unit_id, new Map()).get(r.unit_id)!).set(r.key, typeof r.v === 'string' ? JSON.parse(r.v) : r.v)
  const ra = meta.raster
  const names = new Map((ra.legend ?? []).map((e) => [e.value, e.name]))
  const namesTo = new Map((meta.to?.legend ?? []).map((e) => [e.value, e.name]))
  const rows: object[] = []
  const histogramRows: object[] = []
  const h = meta.histogram
  const histRows = (base: object, stats: Record<string, unknown> | undefined, extra: object = {}) => {
    if (!h) return
    const hist = (stats?.histogram as number[] | undefined) ?? new Array(h.bins).fill(0)
    hist.forEach((area, i) => histogramRows.push({ ...base, ...extra, band: meta.band, bin: i + 1, lower: h.lower + ((h.upper - h.lower) * i) / h.bins, upper: h.lower + ((h.upper - h.lower) * (i + 1)) / h.bins, area_m2: area }))
  }
  const num = (v: unknown) => (typeof v === 'number' ? v : null)
  for (const u of units) {
    const s = byUnit.get(u.id) ?? new Map()
    const base = { unit_code: u.code, unit_name: u.name }
    if (meta.mode === 'categorical') {
      const v = s.get('classes') as { classes: Record<string, [number, number]> } | undefined
      const classes = Object.entries(v?.classes ?? {}).map(([k, x]) => [Number(k), x] as const).sort((x, y) => x[0] - y[0])
      for (const [c, [area, pixels]] of classes) {
        const row: CategoricalRow = { unit_code: u.code, unit_name: u.name, raster: ra.name, vintage: ra.vintage, class: c, area_m2: area, share: u.area_m2 > 0 ? area / u.area_m2 : 0, class_name: names.get(c) ?? null, pixels }
        rows.push(row)
      }
    } else if (meta.mode === 'continuous') {
      const v = s.get(`b:${meta.band}`)
      rows.push({
        ...base, raster: ra.name, vintage: ra.vintage, band: meta.band, count: num(v?.count) ?? 0, sum: num(v?.sum) ?? 0, mean: num(v?.mean), min: num(v?.min),
        max: num(v?.max), stddev: num(v?.stddev), area_m2: num(v?.area_m2) ?? 0, nodata_m2: num(v?.nodata_m2) ?? 0,
      } satisfies ContinuousRow)
      histRows({ ...base, raster: ra.name, vintage: ra.vintage }, v)
    } else if (meta.mode === 'transitions') {
      const v = s.get('pairs') as { pairs: Record<string, [number, number]> } | undefined
      const pairs = Object.entries(v?.pairs ?? {}).map(([k, x]) => { const [p, q] = k.split(':'); return [Number(p), Number(q), x[0]] as const })
        .sort((x, y) => x[0] - y[0] || x[1] - y[1])
      for (const [p, q, area] of pairs) {
        rows.push({ ...base, from_raster: ra.name, from_vintage: ra.vintage, to_raster: meta.to!.name, to_vintage: meta.to!.vintage, from_class: p, to_class: q, area_m2: area, share: u.area_m2 > 0 ? area / u.area_m2 : 0, from_name: names.get(p) ?? null, to_name: namesTo.get(q) ?? null, changed: p !== q })
      }
    } else {
      const v = s.get(`d:${meta.band}`) as { from?: Record<string, unknown>; to?: Record<string, unknown> } | undefined
      const mf = num(v?.from?.mean)
      const mt = num(v?.to?.mean)
      rows.push({ ...base, from_raster: ra.name, from_vintage: ra.vintage, to_raster: meta.to!.name, to_vintage: meta.to!.vintage, band: meta.band, mean_from: mf, mean_to: mt, mean_diff: mf !== null && mt !== null ? mt - mf : null, count_from: num(v?.from?.count) ?? 0, count_to: num(v?.to?.count) ?? 0 })
    }
  }
  return { run, unitSet: meta.unitSet.name, raster: ra, to: meta.to, mode: meta.mode, band: meta.band, histogram: h, pixelArea: meta.pixelArea, method: meta.method, unitsOutside: meta.unitsOutside, rows, histogramRows }
}

/** Computes zonal statistics as a run and reads them. */
export async function zonal(db: Db, unitSet: string, raster: string, o: ZonalOptions & { rasterDir: string }, opts: RunOptions = {}): Promise<ZonalResult> {
  return readZonal(db, await runToEnd(db, await planZonal(db, unitSet, raster, o, o.rasterDir), opts))
}

export async function zonalChange(db: Db, unitSet: string, from: string, to: string, o: ZonalOptions & { rasterDir: string }, opts: RunOptions = {}): Promise<ZonalResult> {
  return readZonal(db, await runToEnd(db, await planZonalChange(db, unitSet, from, to, o, o.rasterDir), opts))
}
