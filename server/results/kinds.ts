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
import type { RunKind, RunRecord } from '../runs/run-store.ts'

export interface RunRequest {
  kind: RunKind
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

export const RUN_KINDS = ['coverage', 'change', 'zonal', 'zonal_change'] as const

const zonal = { units: f.name, band: f.int(1, 10_000).optional(), bins: f.int(1, 1000).optional(), range: f.range.optional() }
/** What each kind of run takes: the same names in a query string, a JSON body and CLI options. */
export const RUN_SHAPES = {
  coverage: {
    units: f.name, layers: f.specList.optional(), categories: f.flag.optional(), overlaps: f.pairList.optional(),
    // true (the ecological layers) or the layers to unite; false is the same as absent
    union: z.union([f.flag, f.specList], { error: 'must be true or a list of layers' }).transform((v) => (v === false ? undefined : v)).optional(),
  },
  change: { units: f.name, layer: f.name, from: f.vintage, to: f.vintage, categories: f.flag.optional() },
  zonal: { ...zonal, raster: f.spec },
  zonal_change: { ...zonal, from: f.spec, to: f.spec },
} satisfies Record<RunKind, z.ZodRawShape>

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
  const setId = (run.meta as { unitSet: { id: number } }).unitSet.id
  switch (run.kind) {
    case 'coverage': return coverageExport(await readCoverage(db, run), setId)
    case 'change': return changeExport(await readChange(db, run), setId)
    default: return zonalExport(await readZonal(db, run), setId)
  }
}
