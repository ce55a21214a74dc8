// What a client may ask to compute, checked once for CLI, query string and JSON body
// alike, and turned into a run plan; and a finished run turned back into something
// exportable.
import type { Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { planChange, readChange } from '../stats/change.ts'
import { planCoverage, readCoverage } from '../stats/coverage.ts'
import type { Exportable } from '../stats/export.ts'
import { changeExport, coverageExport, zonalExport } from '../stats/tables.ts'
import { planZonal, planZonalChange, readZonal } from '../raster/zonal.ts'
import type { RunPlan } from './execute.ts'
import type { RunKind, RunRecord } from './run-store.ts'

const NAME = /^[\p{L}\p{N}_.-]{1,64}$/u
const VINTAGE = /^[0-9A-Za-z_.-]{1,32}$/
const LAYER_LIST = /^[\p{L}\p{N}_.@,-]{1,2000}$/u
const PAIR_LIST = /^(all|[\p{L}\p{N}_.@,+-]{1,2000})$/u
const FLAG = /^(true|false|1|0)$/

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

const RASTER_SPEC = /^[\p{L}\p{N}_.-]{1,64}(@[0-9A-Za-z_.-]{1,32})?$/u
const INT = /^[0-9]{1,4}$/
const RANGE = /^-?[0-9.eE+-]{1,24},-?[0-9.eE+-]{1,24}$/
export const RUN_KINDS = ['coverage', 'change', 'zonal', 'zonal_change'] as const

/** `get(name)` reads one parameter as text (query string, JSON body or CLI option). */
export function parseRunRequest(kind: string | undefined, get: (name: string) => string | undefined): RunRequest {
  if (!(RUN_KINDS as readonly string[]).includes(kind ?? '')) throw new BadInput(`kind must be one of ${RUN_KINDS.join(', ')}, not '${kind ?? ''}'`)
  const want = (name: string, pattern: RegExp, required = false) => {
    const v = get(name)
    if (v === undefined || v === '') {
      if (required) throw new BadInput(`parameter '${name}' is required for ${kind}`)
      return undefined
    }
    if (!pattern.test(v)) throw new BadInput(`parameter '${name}'='${v.slice(0, 80)}' is not valid`)
    return v
  }
  const flag = (name: string) => {
    const v = want(name, FLAG)
    return v === undefined ? undefined : v === 'true' || v === '1'
  }
  const units = want('units', NAME, true)!
  const int = (name: string) => {
    const v = want(name, INT)
    return v === undefined ? undefined : Number(v)
  }
  if (kind === 'zonal') return { kind, units, raster: want('raster', RASTER_SPEC, true), band: int('band'), bins: int('bins'), range: want('range', RANGE) }
  if (kind === 'zonal_change') return { kind, units, from: want('from', RASTER_SPEC, true), to: want('to', RASTER_SPEC, true), band: int('band'), bins: int('bins'), range: want('range', RANGE) }
  if (kind === 'coverage') {
    const union = get('union')
    return {
      kind, units,
      layers: want('layers', LAYER_LIST),
      categories: flag('categories'),
      overlaps: want('overlaps', PAIR_LIST),
      union: union === undefined || union === '' || union === 'false' || union === '0' ? undefined
        : union === 'true' || union === '1' ? true : want('union', LAYER_LIST),
    }
  }
  return { kind: kind as RunKind, units, layer: want('layer', NAME, true), from: want('from', VINTAGE, true), to: want('to', VINTAGE, true), categories: flag('categories') }
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
