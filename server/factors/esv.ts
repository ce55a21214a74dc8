// Ecosystem service value per unit by the unit-area value equivalent-factor method
// (谢高地 et al. 2015): ESV_unit,service = Σ_class A_class(ha) × Σ_type f_class,type ×
// equivalent_type,service × V, with V the value of one standard equivalent (元/hm²).
// Class areas come from the statistics engines: a categorical raster's exact zonal areas, or
// a layer's per-category coverage (flattened within each category). The coefficient table is
// a CSV users can replace; the class → ecosystem-type mapping is a JSON file.
import fs from 'node:fs'
import path from 'node:path'
import type { Db } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { ROOT } from '../settings.ts'
import { toCsvRows } from '../validate/csv-read.ts'
import { checkClassMapping } from '../gep/class-mapping.ts'
import { coverage } from '../stats/coverage.ts'
import { zonal, type CategoricalRow } from '../raster/zonal.ts'
import type { Exportable } from '../results/export.ts'

export const DEFAULT_COEFFICIENTS = path.join(ROOT, 'data', 'esv', 'xie2015.csv')

export interface Coefficients {
  file: string
  services: string[]
  types: Map<string, { name: string; eq: number[] }>
}

export function loadCoefficients(file = DEFAULT_COEFFICIENTS): Coefficients {
  if (!fs.existsSync(file)) throw new BadInput(`coefficient table ${file} does not exist`)
  const rows = toCsvRows(fs.readFileSync(file, 'utf8'))
  const head = rows[0]
  if (!head || head[0] !== 'type' || head[1] !== 'name' || head.length < 3) throw new BadInput(`${path.basename(file)}: the first row must be type,name,<service>,… (got ${head?.join(',') ?? 'nothing'})`)
  const services = head.slice(2)
  const types = new Map<string, { name: string; eq: number[] }>()
  rows.slice(1).forEach((r, i) => {
    if (r.length === 1 && r[0] === '') return
    if (r.length !== head.length) throw new BadInput(`${path.basename(file)} line ${i + 2}: ${r.length} fields, expected ${head.length}`)
    const eq = r.slice(2).map((v, k) => {
      const x = Number(v)
      if (v.trim() === '' || !Number.isFinite(x)) throw new BadInput(`${path.basename(file)} line ${i + 2}: ${services[k]} '${v}' is not a number`)
      return x
    })
    if (types.has(r[0]!)) throw new BadInput(`${path.basename(file)} line ${i + 2}: type '${r[0]}' appears twice`)
    types.set(r[0]!, { name: r[1]!, eq })
  })
  if (!types.size) throw new BadInput(`${path.basename(file)}: no ecosystem types`)
  return { file, services, types }
}

export interface EsvMapping {
  /** class value (as text) → [type, fraction][]; empty = no service value */
  classes: Map<string, [string, number][]>
  equivalentValue?: number
}

export function checkMapping(doc: unknown, coef: Coefficients): EsvMapping {
  const bad = (m: string) => new BadInput(`ESV mapping: ${m}`)
  if (typeof doc !== 'object' || doc === null) throw bad('must be an object {classes: {CLASS: TYPE | {TYPE: fraction} | null}, equivalent_value?}')
  const o = doc as Record<string, unknown>
  if (typeof o.classes !== 'object' || o.classes === null) throw bad('needs "classes": {CLASS: TYPE | {TYPE: fraction, …} | null}')
  const classes = checkClassMapping(o.classes, [...coef.types.keys()], 'ESV mapping')
  const ev = o.equivalent_value
  if (ev !== undefined && (typeof ev !== 'number' || !(ev > 0))) throw bad(`equivalent_value must be a positive number of yuan per hectare, not ${JSON.stringify(ev)}`)
  return { classes, equivalentValue: ev as number | undefined }
}

export interface EsvOptions {
  raster?: string
  layer?: string
  mapping: EsvMapping
  coefficients: Coefficients
  /** yuan per hectare of one standard equivalent (overrides the mapping's) */
  equivalentValue?: number
  rasterDir: string
  beforeCompute?: () => Promise<void>
  /** who asked (stored on new runs) */
  actor?: string
}

export interface EsvRow { unit_code: string; unit_name: string | null; service: string; value_yuan: number }
export interface EsvTypeRow { unit_code: string; unit_name: string | null; class: string; type: string; type_name: string; area_m2: number; value_yuan: number }

export async function computeEsv(db: Db, unitSet: string, o: EsvOptions) {
  if (!o.raster === !o.layer) throw new BadInput('ESV: give either a categorical raster (--raster NAME[@V]) or a layer with categories (--layer NAME)')
  const V = o.equivalentValue ?? o.mapping.equivalentValue
  if (!(V !== undefined && V > 0)) throw new BadInput('ESV: the value of one standard equivalent (yuan/ha) is required: --equivalent-value N, or equivalent_value in the mapping file')
  // class areas per unit
  const areas = new Map<string, { name: string | null; byClass: Map<string, number> }>()
  let source: string
  let runId: number
  if (o.raster) {
    const z = await zonal(db, unitSet, o.raster, { rasterDir: o.rasterDir }, { beforeCompute: o.beforeCompute, actor: o.actor })
    if (z.mode !== 'categorical') throw new BadInput(`ESV: raster ${o.raster} is continuous; ESV needs land-cover classes`)
    for (const r of z.rows as CategoricalRow[]) {
      const u = areas.get(r.unit_code) ?? areas.set(r.unit_code, { name: r.unit_name, byClass: new Map() }).get(r.unit_code)!
      u.byClass.set(String(r.class), (u.byClass.get(String(r.class)) ?? 0) + r.area_m2)
    }
    source = `raster ${z.raster.name}@${z.raster.vintage} (${z.raster.checksum})`
    runId = z.run.id
  } else {
    const cov = await coverage(db, unitSet, { layers: o.layer, categories: true }, { beforeCompute: o.beforeCompute, actor: o.actor })
    const l = cov.layers[0]!
    if (!l.category_field) throw new BadInput(`ESV: layer ${l.name} was ingested without --category-field; it has no classes to map`)
    for (const r of cov.rows) {
      const u = areas.get(r.unit_code) ?? areas.set(r.unit_code, { name: r.unit_name, byClass: new Map() }).get(r.unit_code)!
      if (r.measure === 'category') u.byClass.set(r.category ?? '', r.area_m2)
    }
    source = `layer ${l.name}@${l.vintage} (${l.source_checksum}), categories of ${l.category_field}`
    runId = cov.run.id
  }
  const unmapped = new Set<string>()
  for (const u of areas.values()) for (const [c, a] of u.byClass) if (a > 0 && !o.mapping.classes.has(c)) unmapped.add(c)
  if (unmapped.size) throw new BadInput(`ESV mapping has no entry for class(es) ${[...unmapped].sort().join(', ')} found in the data; map each to a type, {type: fraction}, or null`)
  const S = o.coefficients.services
  const rows: EsvRow[] = []
  const typeRows: EsvTypeRow[] = []
  const unitRows: Record<string, unknown>[] = []
  const totals = new Array<number>(S.length).fill(0)
  for (const [code, u] of [...areas].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const perService = new Array<number>(S.length).fill(0)
    for (const [c, a] of u.byClass) {
      for (const [type, frac] of o.mapping.classes.get(c) ?? []) {
        const t = o.coefficients.types.get(type)!
        const ha = (a * frac) / 1e4
        let v = 0
        t.eq.forEach((e, k) => {
          const x = ha * e * V
          perService[k]! += x
          v += x
        })
        typeRows.push({ unit_code: code, unit_name: u.name, class: c, type, type_name: t.name, area_m2: a * frac, value_yuan: v })
      }
    }
    S.forEach((s, k) => {
      rows.push({ unit_code: code, unit_name: u.name, service: s, value_yuan: perService[k]! })
      totals[k]! += perService[k]!
    })
    unitRows.push({ unit_code: code, unit_name: u.name, total_yuan: perService.reduce((a, b) => a + b, 0), ...Object.fromEntries(S.map((s, k) => [s, perService[k]])) })
  }
  return {
    unitSet, source, runId, equivalentValue: V, coefficients: o.coefficients.file, services: S,
    rows, typeRows, unitRows,
    totals: S.map((s, k) => ({ service: s, value_yuan: totals[k]! })).concat([{ service: 'total', value_yuan: totals.reduce((a, b) => a + b, 0) }]),
    method: `unit-area value equivalent factors (Xie et al. 2015 table unless replaced: ${path.basename(o.coefficients.file)}); ${V} yuan/ha per standard equivalent; class areas from ${source}`,
  }
}

export type EsvResult = Awaited<ReturnType<typeof computeEsv>>

export function esvTables(e: EsvResult) {
  return [
    { name: 'esv_units', columns: ['unit_code', 'unit_name', 'total_yuan', ...e.services], rows: e.unitRows },
    { name: 'esv', columns: ['unit_code', 'unit_name', 'service', 'value_yuan'], rows: e.rows },
    { name: 'esv_by_type', columns: ['unit_code', 'unit_name', 'class', 'type', 'type_name', 'area_m2', 'value_yuan'], rows: e.typeRows },
    { name: 'esv_totals', columns: ['service', 'value_yuan'], rows: e.totals },
  ]
}

export function esvExport(e: EsvResult, setId: number): Exportable {
  return {
    tables: esvTables(e),
    result: { ...e, run: { id: e.runId } } as never,
    setId,
    properties: () => new Map(e.unitRows.map((r) => [r.unit_code as string, r as Record<string, number | string | null>])),
  }
}
