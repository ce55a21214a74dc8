// One zonal computation as plain data: the sources (same grid), the units' lon/lat polygons,
// and what to add up. A job runs in the thread that calls runJob, or in a scan worker
// (scan-pool.ts), which gets the same data by structured clone and gives back the sums.
import type { Queryable } from '../db/db.ts'
import { lonLatForward, type ForwardMany } from '../crs/lonlat-forward.ts'
import { Gone } from '../errors.ts'
import { siblingModule } from '../module-url.ts'
import { unitPolygons } from '../units/unit-cache.ts'
import { widenBox } from '../geom/wkb.ts'
import type { GeoTransform } from './geotiff-file.ts'
import { pixelRings } from './coverage-fraction.ts'
import { pixelAreas } from './pixel-area.ts'
import { openSource, type SourceSpec } from './raster-store.ts'
import { categorical, continuous, transitions, type HistogramSpec } from './zonal-accumulators.ts'
import { scan, type ScanOptions, type ZonalUnit } from './zonal-scan.ts'

export type AccumulatorSpec =
  | { mode: 'categorical'; nodata: number | null }
  | { mode: 'continuous'; nodata: number | null; histogram: HistogramSpec }
  | { mode: 'transitions'; nodataFrom: number | null; nodataTo: number | null }
  /** an accumulator of a layer above (GEP): `module` names a module under server/ (e.g.
   *  'gep/kernel') exporting accumulator(spec, units) → { sums, take }, imported in whichever
   *  thread scans — by name, not by URL, so that a job queued by a coordinator finds the
   *  module of the worker's own installation */
  | { mode: 'module'; module: string; spec: unknown }

export interface ZonalGrid {
  crsProj4: string
  transform: GeoTransform
  width: number
  height: number
  /** lon/lat box of the raster (CGCS2000) */
  extent: [number, number, number, number]
}

export interface JobUnits {
  ids: string[]
  /** per unit: polygons of rings, flat [lon0, lat0, lon1, lat1 …] (CGCS2000) */
  polygons: Float64Array[][][]
  /** per unit: west, south, east, north */
  boxes: Float64Array
}

export interface ZonalJob {
  sources: SourceSpec[]
  grid: ZonalGrid
  accumulator: AccumulatorSpec
  units: JobUnits
}

export interface JobResult {
  /** units that meet the raster, in the order of sums */
  inside: string[]
  /** per inside unit, what the accumulator added up */
  sums: unknown[]
  /** units that do not meet the raster */
  outside: string[]
  /** unit-window pixels visited */
  pixels: number
  /** threads that scanned */
  threads: number
}

/**
 * Units in pixel coordinates of the grid (reprojected from CGCS2000 lon/lat, then through
 * the inverse geotransform), with their pixel windows clamped to the raster; units whose
 * box or window misses the raster are outside.
 */
export function pixelUnits(units: JobUnits, g: ZonalGrid): { inside: ZonalUnit[]; outside: string[] } {
  const { width, height, extent } = g
  const toPixels = lonLatToPixels(g)
  const inside: ZonalUnit[] = []
  const outside: string[] = []
  const [ew, es, ee, en] = extent
  const { boxes } = units
  const box = new Float64Array(4)
  for (let i = 0; i < units.ids.length; i++) {
    const uid = units.ids[i]!
    // the unit's lon/lat box against the raster's (what PostGIS's && would say)
    if (boxes[4 * i + 2]! < ew || boxes[4 * i]! > ee || boxes[4 * i + 3]! < es || boxes[4 * i + 1]! > en) {
      outside.push(uid)
      continue
    }
    box.set([Infinity, Infinity, -Infinity, -Infinity])
    const polys: Float64Array[][] = []
    for (const rings of units.polygons[i]!) {
      const out: Float64Array[] = []
      for (const ll of rings) {
        const xy = new Float64Array(ll.length)
        toPixels(ll, xy)
        widenBox(xy, box)
        out.push(xy)
      }
      polys.push(out)
    }
    const c0 = Math.max(0, Math.floor(box[0]!))
    const c1 = Math.min(width, Math.ceil(box[2]!))
    const r0 = Math.max(0, Math.floor(box[1]!))
    const r1 = Math.min(height, Math.ceil(box[3]!))
    if (!(c0 < c1 && r0 < r1)) {
      outside.push(uid)
      continue
    }
    inside.push({ id: uid, rings: pixelRings(polys), r0, r1, c0, c1 })
  }
  return { inside, outside }
}

/**
 * CGCS2000 lon/lat pairs → (column, row) pairs of the grid: reprojected to the raster CRS
 * (none for a lon/lat raster on GRS80/WGS84), then through the inverse geotransform.
 */
export function lonLatToPixels(g: ZonalGrid): ForwardMany {
  const { crsProj4, transform: t, extent } = g
  const geographic = /\+proj=(longlat|latlong|lonlat|latlon)\b/.test(crsProj4)
  const forward = geographic && /\+(ellps=GRS80|datum=WGS84|ellps=WGS84)/.test(crsProj4) ? undefined : lonLatForward(crsProj4, extent).many
  const det = t[1] * t[5] - t[2] * t[4]
  // inverse affine: col = ia·(x − t0) + ib·(y − t3); row = ic·(x − t0) + id·(y − t3)
  const ia = t[5] / det
  const ib = -t[2] / det
  const ic = -t[4] / det
  const id = t[1] / det
  const t0 = t[0]
  const t3 = t[3]
  return (ll, xy) => {
    if (forward) forward(ll, xy)
    else xy.set(ll)
    for (let k = 0; k < xy.length; k += 2) {
      const dx = xy[k]! - t0
      const dy = xy[k + 1]! - t3
      xy[k] = ia * dx + ib * dy
      xy[k + 1] = ic * dx + id * dy
    }
  }
}

type Accumulator = { sums: unknown[]; take: Parameters<typeof scan>[3] }

async function accumulatorOf(spec: AccumulatorSpec, n: number): Promise<Accumulator> {
  if (spec.mode === 'module') {
    // a folder and a module of ours, nothing else: a job may come from the queue
    if (!/^[a-z]+\/[a-z-]+$/.test(spec.module)) throw new Error(`accumulator module '${spec.module}' is not a module of ours (folder/name)`)
    const url = siblingModule(import.meta.url, `../${spec.module}`).href
    const mod = (await import(url)) as { accumulator?: (spec: unknown, units: number) => Accumulator }
    if (typeof mod.accumulator !== 'function') throw new Error(`${spec.module} exports no accumulator(spec, units)`)
    return mod.accumulator(spec.spec, n)
  }
  if (spec.mode === 'categorical') return categorical(n, spec.nodata)
  if (spec.mode === 'continuous') return continuous(n, spec.nodata, spec.histogram)
  return transitions(n, spec.nodataFrom, spec.nodataTo)
}

/** Units of a set that meet the raster, in pixel coordinates of the raster (benchmarks, tests). */
export async function loadZonalUnits(db: Queryable, setId: number, grid: ZonalGrid): Promise<{ inside: ZonalUnit[]; outside: string[] }> {
  return pixelUnits(await jobUnits(db, setId), grid)
}

/** A set's units as a job carries them (read once per process, units/unit-cache.ts). */
export async function jobUnits(db: Queryable, setId: number): Promise<JobUnits> {
  const set = await unitPolygons(db, setId)
  if (!set) throw new Gone(`unit set ${setId} no longer exists (replaced while the run was planned); run the statistics again`)
  return { ids: set.rows.map((r) => r.id), polygons: set.polygons.polygons, boxes: set.polygons.boxes }
}

/** Runs a job in this thread. */
export async function runJob(job: ZonalJob, o: ScanOptions = {}): Promise<JobResult> {
  const { inside, outside } = pixelUnits(job.units, job.grid)
  const sources = await Promise.all(job.sources.map(openSource))
  const acc = await accumulatorOf(job.accumulator, inside.length)
  const areas = pixelAreas(job.grid.crsProj4, job.grid.transform)
  const pixels = await scan(sources, inside, areas, acc.take, o)
  return { inside: inside.map((u) => u.id), sums: acc.sums, outside, pixels, threads: 1 }
}
