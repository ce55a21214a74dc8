// A zonal scan (zonal-job.ts) spread over worker processes when runs are distributed
// (distribute/): its units cut into groups of consecutive raster rows (scan-pool.ts
// splitUnits, as for threads), one task per group, each scanned by a worker as this process
// would scan it. A unit's windows do not depend on which units share its scan, so its sums
// are the same to the last bit however the units are grouped.
import path from 'node:path'
import type { StepContext } from '../runs/execute.ts'
import { current } from '../scoped.ts'
import { distribute, DISTRIBUTOR, type DistributedMeta } from '../distribute/distribute.ts'
import type { SourceSpec } from './raster-store.ts'
import { SCAN_POOL, splitUnits } from './scan-pool.ts'
import { jobUnits, type JobResult, type ZonalJob } from './zonal-job.ts'

/**
 * A source that the process running the scan makes before it scans, because it needs the
 * database or the whole grid (GEP's rasterized land-cover layer, its terrain from the DEM):
 * made by `resolvers[kind]` from plain `args` and the `inputs` it reads, once per run in each
 * process (`memo`), so that a source too large to queue travels as the recipe that makes it.
 */
export interface DeferredSource { op: 'deferred'; kind: string; args: unknown; inputs: SourceSpec[] }
export type ScanSource = SourceSpec | DeferredSource
export type ScanJob = Omit<ZonalJob, 'sources'> & { sources: ScanSource[] }
export type SourceResolver = (ctx: StepContext, args: unknown, inputs: SourceSpec[], memo: Map<string, unknown>) => Promise<SourceSpec>
export type Resolvers = Record<string, SourceResolver>

/** What makes a scan's deferred sources: the resolvers by kind and what they keep of the run. */
export interface Deferring { resolvers: Resolvers; memo: Map<string, unknown> }

/** A scan's task: the job without its units (the worker reads them: the set's), the raster store it named files in. */
export interface ScanTaskSpec {
  job: Omit<ScanJob, 'units'>
  setId: number
  rasterDir: string
}

/**
 * Runs a scan of set `setId`'s units (`job.units`): on the workers when runs are distributed
 * and the set has more than one task's units, else in this process's scan pool.
 */
export async function scanJob(ctx: StepContext, job: ScanJob, setId: number, rasterDir: string, progress = ctx.progress, deferring?: Deferring): Promise<JobResult & { distributed?: DistributedMeta }> {
  const d = current(DISTRIBUTOR)
  const parts = d ? Math.ceil(job.units.ids.length / d.unitsPerTask) : 1
  // sources held in this process's memory cannot travel (deferred ones travel as their recipe)
  if (!d || parts < 2 || job.sources.some(inMemory)) {
    const sources = await resolveAll(ctx, job.sources, deferring)
    return current(SCAN_POOL).run({ ...job, sources }, { signal: ctx.signal, progress })
  }
  const { units: _units, ...rest } = job
  const out: JobResult = { inside: [], sums: [], outside: [], pixels: 0, threads: 0 }
  const distributed = await distribute<JobResult>({ ...ctx, progress }, d, 'scan', { job: rest, setId, rasterDir } satisfies ScanTaskSpec, parts, (_, r) => {
    out.inside.push(...r.inside)
    out.sums.push(...r.sums)
    out.outside.push(...r.outside)
    out.pixels += r.pixels
    out.threads += r.threads
  })
  return { ...out, distributed }
}

/** Starts this process's scan threads ahead of a scan over `pixels` pixels that will run here. */
export function warmScan(pixels: number): void {
  if (!current(DISTRIBUTOR)) current(SCAN_POOL).warm(pixels)
}

/** Group `part` of `parts` of a scan, as a worker computes it; files found in this host's raster store. */
export async function scanTask(ctx: StepContext, spec: ScanTaskSpec, part: number, parts: number, rasterDir: string, deferring: Deferring): Promise<JobResult> {
  const units = await jobUnits(ctx.db, spec.setId)
  const group = splitUnits(units, parts, spec.job.grid)[part]
  if (!group) throw new Error(`scan part ${part + 1} of ${parts}: the unit set has only ${units.ids.length} units here`)
  const sources = await resolveAll(ctx, spec.job.sources.map((s) => relocate(s, spec.rasterDir, rasterDir)), deferring)
  return current(SCAN_POOL).run({ ...spec.job, sources, units: group }, { signal: ctx.signal, progress: ctx.progress })
}

/** The deferred sources of a scan made (in this process, once per run): what the scan threads read. */
async function resolveAll(ctx: StepContext, sources: ScanSource[], deferring: Deferring | undefined): Promise<SourceSpec[]> {
  const out: SourceSpec[] = []
  for (const s of sources) {
    if (s.op !== 'deferred') { out.push(s); continue }
    const resolve = deferring?.resolvers[s.kind]
    if (!resolve) throw new Error(`a scan source of kind '${s.kind}' has no resolver here: run the same ecocensus version everywhere`)
    out.push(await resolve(ctx, s.args, s.inputs, deferring!.memo))
  }
  return out
}

function inMemory(s: ScanSource): boolean {
  switch (s.op) {
    case 'deferred': return s.inputs.some(inMemory)
    case 'array': return true
    case 'file': return false
    case 'ndvi': return inMemory(s.red) || inMemory(s.nir)
    case 'fvc': return inMemory(s.ndvi)
    case 'warp': return inMemory(s.source)
  }
}

/** A source's files moved from the coordinator's raster store to this host's. */
function relocate<S extends ScanSource>(s: S, from: string, to: string): S
function relocate(s: ScanSource, from: string, to: string): ScanSource {
  switch (s.op) {
    case 'deferred': return { ...s, inputs: s.inputs.map((i) => relocate(i, from, to)) }
    case 'file': return { ...s, path: path.join(to, path.relative(from, s.path)) }
    case 'ndvi': return { ...s, red: relocate(s.red, from, to), nir: relocate(s.nir, from, to) }
    case 'fvc': return { ...s, ndvi: relocate(s.ndvi, from, to) }
    case 'warp': return { ...s, source: relocate(s.source, from, to) }
    case 'array': return s
  }
}
