// What a client may ask to compute, checked once for CLI, query string and JSON body
// alike, and turned into a run plan; and a finished run turned back into something
// exportable.
import type { Queryable } from '../db/db.ts'
import { z } from 'zod'
import { BadInput } from '../errors.ts'
import * as f from '../validate/fields.ts'
import { planChange, readChange } from '../stats/change.ts'
import { planCoverage, readCoverage } from '../stats/coverage.ts'
import type { Exportable } from './export.ts'
import { changeExport, coverageExport, zonalExport } from './tables.ts'
import { planZonal, planZonalChange, readZonal } from '../raster/zonal.ts'
import type { RunPlan } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { readGep } from '../gep/gep.ts'
import { gepExport } from './gep-tables.ts'
import { readCompensation } from '../ledger/compensate.ts'
import { compensationExport } from './ledger-tables.ts'
import { alertsExport } from './alert-tables.ts'
import { readAlerts } from '../alerts/alerts.ts'
import { readSettlement } from '../watershed/settle.ts'
import { settlementExport } from './settlement-tables.ts'

export interface RunRequest {
  kind: StatsKind
  units: string
  layers?: string
  categories?: boolean
  overlaps?: string
  union?: boolean | string
  layer?: string
  from?: string
  to?: string
  raster?: string
  band?: number
  bins?: number
  range?: string
}

/** the statistics kinds: parameters only, a CLI `stats` command and a GET route each (GEP,
 *  whose request carries a config document, has its own command and route) */
export const RUN_KINDS = ['coverage', 'change', 'zonal', 'zonal_change'] as const
export type StatsKind = (typeof RUN_KINDS)[number]

const units = f.name.describe('unit set')
const histogram = {
  band: f.int(1, 10_000).optional().describe('band (default 1)'),
  bins: f.int(1, 1000).optional().describe('histogram bins of a continuous raster, or of the difference of two (default 10)'),
  range: f.range.optional().describe("histogram range lo,hi (default: the band's min,max; NDVI -1,1; FVC 0,1)"),
}
/**
 * What each kind of run takes: the same names in a query string, a JSON body and CLI
 * options. The one source of the run contract: the CLI's `stats` commands (cli/program.ts)
 * and the OpenAPI document (http/openapi.ts) are generated from these schemas and
 * descriptions.
 */
export const RUN_SHAPES = {
  coverage: {
    units,
    layers: f.specList.optional().describe('NAME, NAME@VINTAGE or NAME#ID, comma-separated (default: the latest vintage of every layer)'),
    categories: f.flag.optional().describe('also a row per category of layers ingested with a category field'),
    overlaps: f.pairList.optional().describe("overlap areas of layer pairs: A+B,C+D, or 'all'"),
    // true (the ecological layers) or the layers to unite; false is the same as absent
    union: z.union([f.flag, f.specList], { error: 'must be true or a list of layers' }).transform((v) => (v === false ? undefined : v)).optional()
      .describe('ecological space counted once: true (the latest vintage of each ecological layer) or the layers to unite, A,B,C'),
  },
  change: {
    units,
    layer: f.name.describe('layer name'),
    from: f.vintage.describe('earlier vintage'),
    to: f.vintage.describe('later vintage'),
    categories: f.flag.optional().describe('false: no class transitions even if both vintages have categories'),
  },
  zonal: { units, raster: f.spec.describe('raster NAME or NAME@VINTAGE'), ...histogram },
  zonal_change: { units, from: f.spec.describe('earlier raster, NAME@VINTAGE'), to: f.spec.describe('later raster, NAME@VINTAGE'), ...histogram },
} satisfies Record<StatsKind, z.ZodRawShape>

/** How each kind shows in the shells: its statistics route and CLI command, and what it computes. */
export const RUN_KIND_DOCS: Record<StatsKind, { route: string; summary: string; result: string; cli: Record<string, string> }> = {
  coverage: {
    route: 'coverage',
    summary: 'area and share of each layer inside each unit (overlaps flattened, ellipsoidal m²); categories, layer-pair overlaps, ecological space',
    result: 'CSV: unit_code,unit_name,unit_area_m2,layer,vintage,area_m2,share,measure,category,features',
    // CLI value names; `[layers]`: the value may be left out (--union alone means true)
    cli: { units: '<set>', layers: '<list>', overlaps: '<pairs>', union: '[layers]' },
  },
  change: {
    route: 'change',
    summary: 'stable, gained, lost and net area of a layer between two vintages per unit; class transitions; SEEA extent account',
    result: 'CSV tables: change (unit_code,unit_name,layer,from_vintage,to_vintage,stable_m2,gained_m2,lost_m2,net_m2,from_m2,to_m2), transitions, transition_totals, account',
    // on by default when both vintages have categories: the CLI offers --no-categories
    cli: { units: '<set>', layer: '<name>', from: '<vintage>', to: '<vintage>', categories: 'no' },
  },
  zonal: {
    route: 'zonal',
    summary: 'zonal statistics of a raster per unit: every pixel weighted by the exact fraction inside the unit and its ellipsoidal area',
    result: 'CSV: categorical unit_code,unit_name,raster,vintage,class,area_m2,share,class_name,pixels; continuous unit_code,unit_name,raster,vintage,band,count,sum,mean,min,max,stddev,area_m2,nodata_m2; table histogram',
    cli: { units: '<set>', raster: '<name>', band: '<n>', bins: '<n>', range: '<lo,hi>' },
  },
  zonal_change: {
    route: 'raster-change',
    summary: 'change between two rasters per unit: class transition matrix (categorical, same grid) or difference of means (continuous)',
    result: 'CSV transitions (…,from_class,to_class,area_m2,share,…) or difference (…,mean_from,mean_to,mean_diff,…)',
    cli: { units: '<set>', from: '<raster>', to: '<raster>', band: '<n>', bins: '<n>', range: '<lo,hi>' },
  },
}

/**
 * A run request from `input` (query string, JSON body or CLI options), checked with the
 * kind's schema plus `extra` (what the front end takes besides: format, table, fresh …);
 * unknown names are refused. Returns the request and the extra values.
 */
export function parseRunRequest<E extends z.ZodRawShape>(kind: unknown, input: Record<string, unknown>, style: f.InputStyle, extra: E): { request: RunRequest; extra: z.output<z.ZodObject<E>> } {
  const k = f.parseInput(z.object({ kind: f.oneOf(RUN_KINDS) }), { kind }, style).kind
  const shape = RUN_SHAPES[k]
  const { kind: _kind, ...fields } = input
  const data = f.parseInput(z.strictObject({ ...shape, ...extra }), fields, style) as Record<string, unknown>
  const request = { kind: k } as Record<string, unknown>
  const rest = {} as Record<string, unknown>
  for (const [key, v] of Object.entries(data)) {
    if (v === undefined) continue
    if (key in shape) request[key] = v
    else rest[key] = v
  }
  return { request: request as unknown as RunRequest, extra: rest as z.output<z.ZodObject<E>> }
}

/** `rasterDir`: where the raster store is (zonal kinds). */
export async function planRun(db: Queryable, r: RunRequest, rasterDir = ''): Promise<RunPlan> {
  const z = { band: r.band, bins: r.bins, range: r.range }
  switch (r.kind) {
    case 'coverage': return planCoverage(db, r.units, { layers: r.layers, categories: r.categories, overlaps: r.overlaps, union: r.union })
    case 'change': return planChange(db, r.units, r.layer!, r.from!, r.to!, { categories: r.categories })
    case 'zonal': return planZonal(db, r.units, r.raster!, z, rasterDir)
    case 'zonal_change': return planZonalChange(db, r.units, r.from!, r.to!, z, rasterDir)
  }
}

/** A done run as tables for export. */
export async function exportableOf(db: Queryable, run: RunRecord): Promise<Exportable> {
  if (run.status !== 'done') throw new BadInput(`run ${run.id} is ${run.status}${run.error ? ` (${run.error})` : ''}; its result is not available`)
  if (run.kind === 'settlement') return settlementExport(await readSettlement(db, run))
  if (run.kind === 'ingest') throw new BadInput(`run ${run.id} is an import of files staged by the workers: its result is a layer version (GET /api/layers), not a table`)
  const setId = (run.meta as { unitSet: { id: number } }).unitSet.id
  switch (run.kind) {
    case 'coverage': return coverageExport(await readCoverage(db, run), setId)
    case 'change': return changeExport(await readChange(db, run), setId)
    case 'gep': return gepExport(await readGep(db, run), setId)
    case 'compensation': return compensationExport(await readCompensation(db, run), setId)
    case 'alerts': return alertsExport(await readAlerts(db, run), setId)
    default: return zonalExport(await readZonal(db, run), setId)
  }
}
