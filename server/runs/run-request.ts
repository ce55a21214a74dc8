// What a client may ask to compute, checked once for CLI, query string and JSON body
// alike, and turned into a run plan; and a finished run turned back into something
// exportable.
import type { Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { planChange, readChange } from '../stats/change.ts'
import { planCoverage, readCoverage } from '../stats/coverage.ts'
import type { Exportable } from '../stats/export.ts'
import { changeExport, coverageExport } from '../stats/tables.ts'
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
}

/** `get(name)` reads one parameter as text (query string, JSON body or CLI option). */
export function parseRunRequest(kind: string | undefined, get: (name: string) => string | undefined): RunRequest {
  if (kind !== 'coverage' && kind !== 'change') throw new BadInput(`kind must be coverage or change, not '${kind ?? ''}'`)
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
  return { kind, units, layer: want('layer', NAME, true), from: want('from', VINTAGE, true), to: want('to', VINTAGE, true), categories: flag('categories') }
}

export async function planRun(db: Queryable, r: RunRequest): Promise<RunPlan> {
  return r.kind === 'coverage'
    ? planCoverage(db, r.units, { layers: r.layers, categories: r.categories, overlaps: r.overlaps, union: r.union })
    : planChange(db, r.units, r.layer!, r.from!, r.to!, { categories: r.categories })
}

/** A done run as tables for export. */
export async function exportableOf(db: Queryable, run: RunRecord): Promise<Exportable> {
  if (run.status !== 'done') throw new BadInput(`run ${run.id} is ${run.status}${run.error ? ` (${run.error})` : ''}; its result is not available`)
  const setId = (run.meta as { unitSet: { id: number } }).unitSet.id
  return run.kind === 'coverage' ? coverageExport(await readCoverage(db, run), setId) : changeExport(await readChange(db, run), setId)
}
