// Per-unit tables (GEP tables, indicators) and price tables as rows of named fields, from CSV
// (UTF-8, header row) or XLSX (first sheet, header row), each with its line in the file.
// Numbers stay as read here; the caller converts and checks them, so a bad cell is reported
// with its line.
import fs from 'node:fs'
import path from 'node:path'
import { BadInput } from '../errors.ts'
import { toCsvLines } from './csv-read.ts'

/** A cell as a number: numbers as they are, text written as a decimal number (spaces around allowed), else NaN. */
export function numberCell(v: unknown): number {
  if (typeof v === 'number') return v
  return typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v) ? Number(v) : NaN
}

export async function readTable(file: string): Promise<Record<string, unknown>[]> {
  return (await readTableLines(file)).map((r) => r.values)
}

/** Rows with their line numbers in the file (the header is line 1). */
export async function readTableLines(file: string): Promise<{ line: number; values: Record<string, unknown> }[]> {
  const name = path.basename(file)
  let rows: unknown[][]
  const lines: number[] = []
  if (/\.xlsx$/i.test(file)) {
    // exceljs loaded only when a workbook is read (~0.3 s at every start otherwise)
    const { default: ExcelJS } = await import('exceljs')
    const wb = new ExcelJS.Workbook()
    try {
      await wb.xlsx.readFile(file)
    } catch (err) {
      throw new BadInput(`${name}: not a readable XLSX workbook (${(err as Error).message.split('\n')[0]})`)
    }
    const ws = wb.worksheets[0]
    if (!ws) throw new BadInput(`${name}: the workbook has no sheet`)
    rows = []
    ws.eachRow({ includeEmpty: false }, (row, n) => {
      const v = (row.values as unknown[]).slice(1).map((x) => (x && typeof x === 'object' && 'result' in x ? (x as { result: unknown }).result : x))
      rows.push(v)
      lines.push(n)
    })
  } else if (/\.csv$/i.test(file)) {
    const csv = toCsvLines(fs.readFileSync(file, 'utf8'))
    rows = csv.rows
    lines.push(...csv.lines)
  }
  else throw new BadInput(`${name}: give a .csv or .xlsx table`)
  const head = (rows[0] ?? []).map((h) => String(h ?? '').trim())
  if (!head.length || head.some((h) => !h)) throw new BadInput(`${name}: the first row must name every column`)
  return rows.slice(1).map((r, i) => {
    const line = lines[i + 1]!
    if (r.length > head.length) throw new BadInput(`${name} line ${line}: ${r.length} fields, the header has ${head.length}`)
    const o: Record<string, unknown> = {}
    head.forEach((h, k) => {
      const v = r[k]
      if (v === undefined || v === null || v === '') return
      o[h] = typeof v === 'string' && /^(verified)$/.test(h) ? v === 'true' : v
    })
    return { line, values: o }
  })
}
