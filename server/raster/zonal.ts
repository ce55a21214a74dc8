// Zonal statistics of a raster per unit (kind 'zonal') and change between two rasters
// per unit (kind 'zonal_change': class transitions of two categorical rasters on one
// grid, or the difference of means of two continuous rasters), planned as runs over the
// streaming scan. Results go to run_result, one document of entries per unit and band, class or pair.
import { recallResult, rememberResult } from '../runs/result-memo.ts'
import { performance } from 'node:perf_hooks'
import type { Db, Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { runToEnd, type RunOptions, type RunPlan, type StepContext } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { runUnits } from '../units/unit-cache.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { pixelAreas } from './pixel-area.ts'
import { findRaster, sourceSpec, type RasterRecord, type SourceSpec } from './raster-store.ts'
import { scanJob, warmScan } from './scan-distributed.ts'
import type { DistributedMeta } from '../distribute/distribute.ts'
import { continuousStats, pairOf, type CategoricalSums, type ContinuousSums, type HistogramSpec } from './zonal-accumulators.ts'
import { jobUnits, type ZonalGrid } from './zonal-job.ts'

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
  /** time of reading units (or finding them read), scanning the raster (units reprojected, on
   *  `threads` threads), storing the sums */
  stages?: { unitsMs: number; scanMs: number; storeMs: number; threads: number }
  /** the scan's tasks on worker processes (distribute/), when runs are distributed */
  distributed?: DistributedMeta
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

const gridOf = (r: RasterRecord): ZonalGrid => ({ crsProj4: r.crs_proj4, transform: r.transform, width: r.width, height: r.height, extent: r.extent })
/** a file's nodata value; derived rasters mark nodata as NaN */
const nodataOf = (s: SourceSpec): number | null => (s.op === 'file' ? s.nodata : null)

/** Stores a run's entries ([unit id, key, value]) as one document (see migration 006). */
/** A zonal entry (a unit's statistics: classes with area and pixels, or a histogram) counts as this many in the result memo. */
const ZONAL_ENTRY_WEIGHT = 16

async function storeResult(db: Queryable, runId: number, entries: [string, string, unknown][]): Promise<void> {
  await db.query('INSERT INTO run_result (run_id, entries, body) VALUES ($1, $2, $3)', [runId, entries.length, JSON.stringify(entries)])
  // read back at once by the request that ran it (readZonal): kept, not fetched and parsed again
  rememberResult(runId, entries, ZONAL_ENTRY_WEIGHT)
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
        warmScan(r.width * r.height)
        const units = await jobUnits(ctx.db, set.id)
        meta.stages = { unitsMs: lap(), scanMs: 0, storeMs: 0, threads: 1 }
        const source = await sourceSpec(ctx.db, rasterDir, r, band)
        const accumulator = mode === 'categorical' ? { mode, nodata: nodataOf(source) } as const : { mode, nodata: nodataOf(source), histogram: histogram! } as const
        const res = await scanJob(ctx, { sources: [source], grid: gridOf(r), accumulator, units }, set.id, rasterDir)
        meta.unitsOutside = res.outside.length
        meta.distributed = res.distributed
        meta.stages.threads = res.threads
        const out: [string, string, unknown][] = []
        if (mode === 'categorical') {
          // one row per unit: class → [area m², pixels], and the nodata area
          ;(res.sums as CategoricalSums[]).forEach((s, i) => out.push([res.inside[i]!, 'classes', { classes: Object.fromEntries(s.classes), nodata: [s.nodataM2, s.nodataPixels] }]))
        } else {
          ;(res.sums as ContinuousSums[]).forEach((s, i) => out.push([res.inside[i]!, `b:${band}`, continuousStats(s)]))
        }
        meta.stages.scanMs = lap()
        await storeResult(ctx.db, ctx.runId, out)
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
        warmScan(a.width * a.height)
        const units = await jobUnits(ctx.db, set.id)
        if (mode === 'transitions') {
          const sources = [await sourceSpec(ctx.db, rasterDir, a, band), await sourceSpec(ctx.db, rasterDir, b, band)]
          const accumulator = { mode, nodataFrom: nodataOf(sources[0]!), nodataTo: nodataOf(sources[1]!) } as const
          const res = await scanJob(ctx, { sources, grid: gridOf(a), accumulator, units }, set.id, rasterDir)
          meta.unitsOutside = res.outside.length
          meta.distributed = res.distributed
          // one row per unit: 'from:to' → [area m², pixels], and the nodata area
          ;(res.sums as { pairs: Map<number, [number, number]>; nodataM2: number }[]).forEach((s, i) =>
            out.push([res.inside[i]!, 'pairs', { pairs: Object.fromEntries([...s.pairs].map(([k, v]) => [pairOf(k).join(':'), v])), nodata: s.nodataM2 }]))
        } else {
          const stats = new Map<string, { from?: unknown; to?: unknown }>()
          for (const [which, r] of [['from', a], ['to', b]] as const) {
            const source = await sourceSpec(ctx.db, rasterDir, r, band)
            const res = await scanJob(ctx, { sources: [source], grid: gridOf(r), accumulator: { mode: 'continuous', nodata: nodataOf(source), histogram: histogram! }, units }, set.id, rasterDir,
              (f) => ctx.progress(which === 'from' ? f / 2 : 0.5 + f / 2))
            if (res.distributed) meta.distributed = res.distributed
            ;(res.sums as ContinuousSums[]).forEach((s, i) => {
              const id = res.inside[i]!
              const e = stats.get(id) ?? stats.set(id, {}).get(id)!
              e[which] = continuousStats(s)
            })
          }
          for (const [unit, v] of stats) out.push([unit, `d:${band}`, v])
        }
        await storeResult(ctx.db, ctx.runId, out)
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
  const units = await runUnits(db, run.id, meta.unitSet.id, meta.unitSet.name)
  let entries = recallResult<[string, string, Record<string, unknown>]>(run.id)
  if (!entries) {
    const [stored] = await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [run.id])
    entries = (stored ? JSON.parse(stored.body) : []) as [string, string, Record<string, unknown>][]
  }
  const byUnit = new Map<string, Map<string, Record<string, unknown>>>()
  for (const [unit, key, v] of entries) (byUnit.get(unit) ?? byUnit.set(unit, new Map()).get(unit)!).set(key, v)
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
