// An allocation from a config file: factors from the engines, the allocation maths of
// allocate.ts, and the tables and workbook finance users read (with provenance).
import fs from 'node:fs'
import type ExcelJS from 'exceljs'
import { newWorkbook } from '../results/excel.ts'
import type { Db } from '../db/db.ts'
import { z } from 'zod'
import type { RunOptions } from '../runs/execute.ts'
import { BadInput } from '../errors.ts'
import * as f from '../validate/fields.ts'
import { parseConfigFile } from '../config-file.ts'
import { addSheet, type Exportable, type Table } from '../results/export.ts'
import { allocate, checkConfig, type AllocationConfig, type AllocationResult } from './allocate.ts'
import { checkDefinitions, computeFactors, defaultDefinitions, factorTables, type FactorResult } from './factors.ts'
import { unitSetId } from '../units/unit-set.ts'
import type { EsvResult } from './esv.ts'
import { esvTables } from './esv.ts'

/** A JSON or YAML config file (by extension; JSON also when the extension says nothing). */
export function readConfigFile(file: string, maxBytes = 1 << 20): unknown {
  if (!fs.existsSync(file)) throw new BadInput(`config file ${file} does not exist`)
  const size = fs.statSync(file).size
  if (size > maxBytes) throw new BadInput(`config file ${file} is ${size} bytes; more than ${maxBytes} is not a config`)
  try {
    return parseConfigFile(file)
  } catch (err) {
    throw new BadInput(`config file ${(err as Error).message}`)
  }
}

export interface AllocationRun {
  config: AllocationConfig & { units: string }
  factors: FactorResult
  allocation: AllocationResult
  run: { id: number }
  method: string
}

/** The top level of an allocation config; the parts are checked by checkConfig (allocate.ts),
 *  which needs the factor ids, and checkDefinitions. */
const yuan = z.number({ error: 'must be a number of yuan' }).refine(Number.isFinite, { error: 'must be a finite number' })
const list = z.array(z.unknown(), { error: 'must be a list' })
const CONFIG_TOP = z.strictObject({
  description: z.string().max(2000).optional(), units: f.name,
  budget: yuan, factors: list.min(1, { error: 'must list at least one {factor, weight}' }), definitions: list.optional(),
  adjustments: list.optional(), deductions: list.optional(), floor: yuan.optional(), cap: yuan.optional(),
})

/** `beforeCompute`: see RunOptions (factors may start coverage and change runs). */
export async function runAllocation(db: Db, doc: unknown, runOptions: Pick<RunOptions, 'beforeCompute' | 'actor'> & { beforeAllocate?: (units: string) => Promise<void>; rasterDir?: string } = {}): Promise<AllocationRun> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new BadInput('allocation config: must be an object {units, budget, factors, adjustments?, deductions?, floor?, cap?}')
  let o: z.output<typeof CONFIG_TOP>
  try {
    o = f.parseInput(CONFIG_TOP, doc, 'body')
  } catch (err) {
    throw new BadInput(`allocation config: ${(err as Error).message}`)
  }
  // the whole config is checked before any run starts: a budget of 1e308 or an unknown
  // factor is refused at once, not after the factors' coverage and change runs
  const defs = o.definitions === undefined ? await defaultDefinitions(db) : checkDefinitions(o.definitions)
  const config = checkConfig(doc, new Set(defs.map((d) => d.id)))
  await unitSetId(db, o.units)
  await runOptions.beforeAllocate?.(o.units)
  const factors = await computeFactors(db, o.units, defs, runOptions)
  const units = factors.units.map((u) => ({ code: u.code, name: u.name, values: factors.values.get(u.code)! }))
  const allocation = allocate(units, config)
  return { config: { ...config, units: o.units }, factors, allocation, run: factors.run, method: factors.method }
}

export const ALLOCATION_COLUMNS = ['unit_code', 'unit_name', 'weighted_share', 'coefficient', 'adjusted_share', 'before_deductions', 'deduction', 'redistributed', 'floor_cap', 'amount']

export function allocationTables(a: AllocationRun): Table[] {
  const explanation = a.allocation.units.flatMap((u) => u.explanation.map((l, i) => ({ unit_code: u.unit_code, unit_name: u.unit_name, line: i + 1, step: l.step, text: l.text, amount: l.amount ?? null })))
  const params = [
    { item: 'budget (yuan)', value: a.config.budget },
    ...a.allocation.weights.map((w) => ({ item: `weight ${w.factor}`, value: w.weight })),
    ...(a.config.adjustments ?? []).map((x) => ({ item: `coefficient ${x.coefficient}`, value: `${x.reason}: ${x.units ? x.units.join(', ') : JSON.stringify(x.where)}` })),
    ...(a.config.deductions ?? []).map((x) => ({ item: `deduction ${x.factor}`, value: `${x.rate_per_ha !== undefined ? `${x.rate_per_ha} yuan/ha` : `${x.rate_per_unit} yuan/unit`}: ${x.reason}` })),
    ...(a.config.floor !== undefined ? [{ item: 'floor (yuan)', value: a.config.floor }] : []),
    ...(a.config.cap !== undefined ? [{ item: 'cap (yuan)', value: a.config.cap }] : []),
    ...a.allocation.warnings.map((w) => ({ item: 'warning', value: w })),
  ]
  return [
    { name: 'allocation', columns: ALLOCATION_COLUMNS, rows: a.allocation.units },
    { name: 'explanation', columns: ['unit_code', 'unit_name', 'line', 'step', 'text', 'amount'], rows: explanation },
    { name: 'parameters', columns: ['item', 'value'], rows: params },
  ]
}

export function allocationExport(a: AllocationRun, setId: number): Exportable {
  const [alloc, expl, params] = allocationTables(a)
  const [factorsLong, factorUnits, prov] = factorTables(a.factors)
  return {
    tables: [alloc!, expl!, params!, factorUnits!, factorsLong!, prov!],
    result: { ...a, factors: { ...a.factors, values: Object.fromEntries(a.factors.values) } } as never,
    setId,
    properties: () => new Map(a.allocation.units.map((u) => [u.unit_code, { amount: u.amount, adjusted_share: u.adjusted_share, deduction: u.deduction }])),
  }
}

/** The finance workbook: units (factors, with ha and 亩), factors (long), allocation with
 *  explanations, ESV, provenance. Numbers are numbers; areas in m², ha, km² and 亩. */
export async function financeWorkbook(f: FactorResult, a?: AllocationRun, esv?: EsvResult): Promise<Buffer> {
  const wb = await newWorkbook()
  wb.creator = 'ecocensus'
  const [factorsLong, factorUnits, prov] = factorTables(a?.factors ?? f)
  const sheets: Table[] = [factorUnits!, factorsLong!]
  if (a) sheets.push(...allocationTables(a))
  if (esv) sheets.push(...esvTables(esv))
  sheets.push(prov!)
  for (const t of sheets) {
    const { ws, cols } = addSheet(wb, t)
    cols.forEach((c, i) => {
      if (c.header === 'amount' || c.header.endsWith('_yuan') || ['before_deductions', 'deduction', 'redistributed', 'floor_cap'].includes(c.header)) ws.getColumn(i + 1).numFmt = '#,##0.00'
      else if (c.header.endsWith('share')) ws.getColumn(i + 1).numFmt = '0.0000%'
    })
  }
  return Buffer.from(await wb.xlsx.writeBuffer())
}
