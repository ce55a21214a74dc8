// A GEP account as exportable tables: the long-form CSV contract (docs/gep.md), units'
// totals, ecosystem extent, change between two years, the price table, and a workbook laid
// out like the guideline's accounting tables (物质产品 / 调节服务 / 文化服务) with a provenance
// sheet a reader can follow without JSON.
import type ExcelJS from 'exceljs'
import { newWorkbook } from './excel.ts'
import type { GepResult } from '../gep/gep.ts'
import { CATEGORY_NAMES, type GepRow } from '../gep/account.ts'
import { addSheet, type Exportable, type Table } from './export.ts'

export const GEP_COLUMNS = ['unit_code', 'unit_name', 'year', 'category', 'item', 'ecosystem', 'quantity', 'quantity_unit', 'price', 'price_unit', 'value_yuan', 'item_id', 'part_of', 'nodata_m2']
export const GEP_UNIT_COLUMNS = ['unit_code', 'unit_name', 'year', 'area_m2', 'gep_yuan', 'material_yuan', 'regulating_yuan', 'cultural_yuan', 'gep_per_km2', 'population', 'gep_per_capita', 'outside_m2', 'nodata_m2']
export const GEP_EXTENT_COLUMNS = ['unit_code', 'unit_name', 'year', 'ecosystem', 'area_m2', 'share']
export const GEP_CHANGE_COLUMNS = ['unit_code', 'unit_name', 'category', 'item', 'year_from', 'year_to', 'value_from', 'value_to', 'delta_yuan', 'delta_share', 'declined']
export const GEP_TABLES = ['gep', 'units', 'extent', 'change', 'prices'] as const

/** Properties of a unit in GeoJSON and the viewer: the last year's GEP, per km², categories and items. */
function properties(r: GepResult) {
  const year = r.years.at(-1)!
  const out = new Map<string, Record<string, number | string | null>>()
  for (const u of r.units.filter((x) => x.year === year)) {
    out.set(u.unit_code, { gep_yuan: u.gep_yuan, gep_per_km2: u.gep_per_km2, gep_regulating_yuan: u.regulating_yuan, gep_material_yuan: u.material_yuan, gep_cultural_yuan: u.cultural_yuan, gep_per_capita: u.gep_per_capita })
  }
  for (const row of r.rows) {
    if (row.year !== year || row.ecosystem !== '*' || row.item === '*') continue
    const p = out.get(row.unit_code)
    if (!p) continue
    if (row.value_yuan !== null) p[`gep:${row.item_id}_yuan`] = row.value_yuan
    if (row.quantity !== null) p[`gep:${row.item_id}_${row.quantity_unit}`] = row.quantity
  }
  for (const c of r.change.filter((x) => x.item === '*' && x.category === '*')) {
    const p = out.get(c.unit_code)
    if (p) { p.gep_delta_yuan = c.delta_yuan; p.gep_delta_share = c.delta_share; p.gep_declined = c.declined ? 'yes' : 'no' }
  }
  return out
}

export function gepExport(r: GepResult, setId: number): Exportable {
  // values and quantities add up over units; per-km², per-capita and shares are computed again
  const tables: Table[] = [
    { name: 'gep', columns: GEP_COLUMNS, rows: r.rows, rollup: { year: 'key', price: 'key' } },
    { name: 'units', columns: GEP_UNIT_COLUMNS, rows: r.units, rollup: { year: 'key', gep_per_km2: { ratio: ['gep_yuan', 'area_m2', 1e6] }, gep_per_capita: { ratio: ['gep_yuan', 'population'] } } },
    { name: 'extent', columns: GEP_EXTENT_COLUMNS, rows: r.extent, rollup: { year: 'key', share: { ratio: ['area_m2', 'unit_area_m2'] } } },
    {
      name: 'change', columns: GEP_CHANGE_COLUMNS, rows: r.change,
      rollup: { year_from: 'key', year_to: 'key', delta_share: { ratio: ['delta_yuan', 'value_from'] }, declined: { fn: (x) => typeof x.delta_share === 'number' && x.delta_share < -r.declineShare } },
    },
    { name: 'prices', columns: ['item', 'price', 'unit', 'year', 'source', 'method', 'verified'], rows: r.prices.map((p) => ({ ...p, verified: p.verified ?? false })) },
  ]
  return {
    tables,
    result: r,
    setId,
    properties: () => properties(r),
    workbook: () => gepWorkbook(r),
  }
}

const WAN = 1e4

/** The workbook: the accounting table per unit, the long table, totals, extent, change, prices, provenance. */
export async function gepWorkbook(r: GepResult): Promise<Buffer> {
  const wb = await newWorkbook()
  wb.creator = 'ecocensus'
  const ws = wb.addWorksheet('GEP核算表')
  ws.columns = [
    { header: '单元代码', width: 12 }, { header: '单元名称', width: 12 }, { header: '年份', width: 7 }, { header: '类别', width: 14 }, { header: '核算科目', width: 24 },
    { header: '功能量', width: 18 }, { header: '单位', width: 8 }, { header: '价格', width: 12 }, { header: '价格单位', width: 10 }, { header: '价值量（万元）', width: 16 }, { header: '占GEP比例', width: 11 },
  ]
  ws.getRow(1).font = { bold: true }
  ws.views = [{ state: 'frozen', ySplit: 1 }]
  const byUnitYear = new Map<string, GepRow[]>()
  for (const row of r.rows) {
    if (row.ecosystem !== '*') continue
    const k = `${row.unit_code}|${row.year}`
    ;(byUnitYear.get(k) ?? byUnitYear.set(k, []).get(k)!).push(row)
  }
  for (const rows of byUnitYear.values()) {
    const gep = rows.find((x) => x.category === '*')?.value_yuan ?? 0
    const first = rows[0]!
    for (const cat of ['material', 'regulating', 'cultural', 'stock'] as const) {
      const items = rows.filter((x) => x.category === cat && x.item !== '*')
      if (!items.length) continue
      for (const x of items) {
        const line = ws.addRow([x.unit_code, x.unit_name, x.year, CATEGORY_NAMES[cat], x.part_of ? `  ${x.item}` : x.item, x.quantity, x.quantity_unit, x.price, x.price_unit, x.value_yuan === null ? null : x.value_yuan / WAN, x.value_yuan !== null && gep && !x.part_of && cat !== 'stock' ? x.value_yuan / gep : null])
        if (!x.part_of) line.font = { bold: false }
      }
      const total = rows.find((x) => x.category === cat && x.item === '*')
      if (total) ws.addRow([first.unit_code, first.unit_name, first.year, CATEGORY_NAMES[cat], '小计', null, null, null, null, (total.value_yuan ?? 0) / WAN, gep ? (total.value_yuan ?? 0) / gep : null]).font = { bold: true }
    }
    ws.addRow([first.unit_code, first.unit_name, first.year, '生态产品总值', 'GEP', null, null, null, null, gep / WAN, 1]).font = { bold: true }
  }
  ws.getColumn(6).numFmt = '#,##0.00'
  ws.getColumn(8).numFmt = '0.0000'
  ws.getColumn(10).numFmt = '#,##0.00'
  ws.getColumn(11).numFmt = '0.00%'
  const e = gepExport(r, 0)
  for (const t of e.tables) if (t.rows.length) addSheet(wb, t)
  const prov = wb.addWorksheet('数据来源 provenance')
  prov.columns = [{ header: '项目 field', key: 'k', width: 28 }, { header: '内容 value', key: 'v', width: 120 }]
  prov.getRow(1).font = { bold: true }
  const add = (k: string, v: unknown) => prov.addRow({ k, v: typeof v === 'string' ? v : String(v) })
  add('run', `${r.run.id} (${r.run.status}, created ${r.run.created_at}${r.run.created_by ? ` by ${r.run.created_by}` : ''})`)
  add('unit set', r.unitSet)
  add('years', r.years.join(' → '))
  add('config', `${r.configName ?? '(unnamed)'}; sha256 ${r.configSha256}`)
  add('price table', r.priceVersion)
  add('model grid', `${r.grid.from}: ${r.grid.crs}, ${r.grid.width}×${r.grid.height} pixels of ${Math.abs(r.grid.transform[1])} × ${Math.abs(r.grid.transform[5])}, origin (${r.grid.transform[0]}, ${r.grid.transform[3]})`)
  for (const [y, refs] of Object.entries(r.inputs)) {
    for (const i of refs) add(`input ${y} ${i.role}`, `${i.raster}@${i.vintage} (${i.layer ? 'layer' : 'raster'} ${i.id}, sha256 ${i.checksum})${i.unit ? `, declared in ${i.unit}` : ''}; ${i.layer ? '' : 'resampling: '}${i.resampling}`)
  }
  for (const [k, l] of Object.entries(r.flood)) add(`flood layer ${k}`, `${l.name}@${l.vintage} (layer ${l.id}, source sha256 ${l.checksum})`)
  add('method', r.method)
  add('decline threshold', `${(r.declineShare * 100).toFixed(1)} % of the earlier year's value`)
  add('units', 'value in yuan (万元 in the accounting table); area 1 km² = 1 000 000 m²; 1 亩 = 666.67 m²')
  return Buffer.from(await wb.xlsx.writeBuffer())
}
