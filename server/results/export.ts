// One result, six formats: CSV (the documented long-form contract, one table), JSON
// (the whole result with run, inputs and method), GeoJSON (the units with their
// statistics as flat properties, for QGIS and the viewer), XLSX (every table on its
// own sheet with hectare, km² and 亩 columns beside each m² column, plus a provenance sheet),
// and the units with their statistics as a GeoPackage or a zipped GBK shapefile (geometry as
// stored, CGCS2000).
import type ExcelJS from 'exceljs'
import { newWorkbook } from './excel.ts'
import type { Queryable } from '../db/db.ts'
import { unitsGeoJson } from '../catalog/list.ts'
import { BadInput } from '../errors.ts'
import { M2_PER } from './area-units.ts'
import { toCsv } from './csv.ts'
import { rolledUp, type RollupLevel } from './rollup.ts'
import { exportUnits, storageSrsWkt } from './export-units.ts'
import { geoPackage } from './geopackage.ts'
import { labelledTable, layerDisplayNames, provenanceInWords, type Labels } from './labels.ts'
import { zippedShapefile } from './shapefile.ts'

export const FORMATS = ['csv', 'json', 'geojson', 'xlsx', 'gpkg', 'shp'] as const
export type Format = (typeof FORMATS)[number]
/** formats of binary files: never written onto a terminal, always sent as attachments */
export const FILE_FORMATS: ReadonlySet<string> = new Set(['xlsx', 'gpkg', 'shp'])
/** formats of the units with geometry (no rollup: the parents' outlines are not known) */
const GEOMETRY_FORMATS: ReadonlySet<string> = new Set(['geojson', 'gpkg', 'shp'])

export interface Table {
  name: string
  columns: string[]
  rows: object[]
  /** how the table sums to parent units (results/rollup.ts); false: it does not */
  rollup?: false | Record<string, RollupRule>
}

/**
 * How a column combines when rows are summed to parent units: grouped by (`key`), summed,
 * the largest, left empty (`drop`), a ratio of two combined columns (times `scale`), a mean
 * weighted by another column, by the value of a key column (`switch`), or a function of the
 * combined row. Numbers default to `sum`, text to `key`.
 */
export type RollupRule =
  | 'key' | 'sum' | 'max' | 'drop'
  | { ratio: [string, string, number?] }
  | { weighted: string }
  | { switch: string; cases: Record<string, RollupRule>; otherwise: RollupRule }
  | { fn: (row: Record<string, unknown>) => unknown }

export interface Exportable {
  /** tables in order; CSV writes the one asked for (default: the first) */
  tables: Table[]
  /** the whole result, for JSON and the provenance sheet */
  result: { run: { id: number } & object; method: string } & object
  /** unit set to draw GeoJSON geometry from, and the per-unit properties */
  setId: number
  properties: (rows: object[]) => Map<string, Record<string, number | string | null>>
  /** set by auth/scope.ts for a key limited to regions: the unit codes it may see */
  scope?: Set<string>
  /** a workbook of the result's own layout, in place of one sheet per table (XLSX) */
  workbook?: () => Promise<Buffer>
}

export interface Rendered {
  body: string | Buffer
  contentType: string
  ext: string
}

export async function render(db: Queryable, format: Format, x: Exportable, tableName?: string, rollup?: RollupLevel, o: { labels?: Labels } = {}): Promise<Rendered> {
  if (rollup) {
    if (GEOMETRY_FORMATS.has(format)) throw new BadInput(`rollup gives tables (csv, json, xlsx); ${format} needs the parent units' outlines: import them as a unit set and compute on it`)
    x = await rolledUp(db, x, rollup)
  }
  switch (format) {
    case 'csv': {
      const t = tableName ? x.tables.find((t) => t.name === tableName) : x.tables[0]
      if (!t) throw new BadInput(`table '${tableName}' is not part of this result (has ${x.tables.map((t) => t.name).join(', ')})`)
      const shown = o.labels ? labelledTable(t, await layerDisplayNames(db)) : t
      return { body: toCsv(shown.columns, shown.rows), contentType: 'text/csv; charset=utf-8', ext: 'csv' }
    }
    case 'json':
      return { body: JSON.stringify(x.result, null, 2) + '\n', contentType: 'application/json', ext: 'json' }
    case 'geojson': {
      const fc = await unitsGeoJson(db, x.setId)
      if (x.scope) fc.features = fc.features.filter((f) => x.scope!.has(f.id))
      const props = x.properties(x.tables[0]!.rows)
      for (const f of fc.features) Object.assign(f.properties, props.get(f.id) ?? {})
      return { body: JSON.stringify({ ...fc, run: x.result.run.id }) + '\n', contentType: 'application/geo+json', ext: 'geojson' }
    }
    case 'xlsx':
      return { body: x.workbook && !x.scope && !o.labels ? await x.workbook() : await xlsx(x, o.labels ? await layerDisplayNames(db) : undefined), contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ext: 'xlsx' }
    case 'gpkg': {
      const { units, columns } = await exportUnits(db, x)
      const name = `run${x.result.run.id}`
      return { body: await geoPackage(units, columns, { table: name, description: `run ${x.result.run.id}: ${x.result.method}`.slice(0, 500), srsWkt: await storageSrsWkt(db) }), contentType: 'application/geopackage+sqlite3', ext: 'gpkg' }
    }
    case 'shp': {
      const { units, columns } = await exportUnits(db, x)
      return { body: await zippedShapefile(units, columns, `run${x.result.run.id}`), contentType: 'application/zip', ext: 'zip' }
    }
  }
}

/** Columns of an XLSX sheet: every `*_m2` column followed by its ha, km² and 亩 twins. */
export function spreadsheetColumns(columns: string[]): { header: string; source: string; divisor: number }[] {
  return columns.flatMap((c) => {
    if (!c.endsWith('_m2')) return [{ header: c, source: c, divisor: 0 }]
    const stem = c.slice(0, -3)
    return [
      { header: c, source: c, divisor: M2_PER.m2 },
      { header: `${stem}_ha`, source: c, divisor: M2_PER.ha },
      { header: `${stem}_km2`, source: c, divisor: M2_PER.km2 },
      { header: `${stem}_mu`, source: c, divisor: M2_PER.mu },
    ]
  })
}

/** One table as a sheet: frozen bold header, numbers as numbers, every `*_m2` column with its
 *  ha, km² and 亩 twins (formatted). Returns the sheet and its columns for further formats. */
export function addSheet(wb: ExcelJS.Workbook, t: Table): { ws: ExcelJS.Worksheet; cols: ReturnType<typeof spreadsheetColumns> } {
  const ws = wb.addWorksheet(t.name.slice(0, 31))
  const cols = spreadsheetColumns(t.columns)
  ws.columns = cols.map((c) => ({ header: c.header, key: c.header, width: Math.min(60, Math.max(10, c.header.length + 2)) }))
  for (const r of t.rows as Record<string, unknown>[]) {
    ws.addRow(cols.map((c) => {
      const v = r[c.source]
      return c.divisor && typeof v === 'number' ? v / c.divisor : v ?? null
    }))
  }
  ws.getRow(1).font = { bold: true }
  ws.views = [{ state: 'frozen', ySplit: 1 }]
  // exact values; shown to 2 decimals in 公顷 and 亩, 6 in km², 4 in m²
  cols.forEach((c, i) => { if (c.divisor) ws.getColumn(i + 1).numFmt = c.divisor === M2_PER.km2 ? '0.000000' : c.divisor === M2_PER.m2 ? '0.0000' : '#,##0.00' })
  return { ws, cols }
}

async function xlsx(x: Exportable, displayNames?: Map<string, string>): Promise<Buffer> {
  const wb = await newWorkbook()
  wb.creator = 'ecocensus'
  for (const t of x.tables) addSheet(wb, displayNames ? labelledTable(t, displayNames) : t)
  // where the numbers come from, in words; then every field of the run as recorded
  const words = wb.addWorksheet('数据来源 provenance')
  words.columns = [{ header: '项目 field', key: 'k', width: 30 }, { header: '内容 value', key: 'v', width: 130 }]
  for (const [k, v] of provenanceInWords(x)) words.addRow({ k, v })
  words.getRow(1).font = { bold: true }
  words.getColumn(2).alignment = { wrapText: true, vertical: 'top' }
  const prov = wb.addWorksheet('run')
  prov.columns = [{ header: 'field', key: 'k', width: 16 }, { header: 'value', key: 'v', width: 120 }]
  const { rows: _r, ...rest } = x.result as Record<string, unknown>
  for (const [k, v] of Object.entries(rest)) {
    if (Array.isArray(v) && v.length > 50) continue // the tables themselves
    prov.addRow({ k, v: typeof v === 'string' ? v : JSON.stringify(v) })
  }
  prov.addRow({ k: 'area units', v: '1 ha = 10 000 m²; 1 km² = 1 000 000 m²; 1 亩 = 10 000/15 m² ≈ 666.67 m²' })
  prov.getRow(1).font = { bold: true }
  return Buffer.from(await wb.xlsx.writeBuffer())
}
