// A compensation ledger as exportable tables (docs/compensation.md): CSV one table (ledger,
// units, payees, double, explanation, standards), GeoJSON the units with their amounts, and a
// workbook a 财政局 reviewer reads without us: Chinese headers, areas in 亩 and 公顷 beside m²,
// one sheet per table, the standards, and a provenance sheet in words.
import type ExcelJS from 'exceljs'
import { newWorkbook } from './excel.ts'
import type { CompensationResult } from '../ledger/compensate.ts'
import { M2_PER } from './area-units.ts'
import type { Exportable, Table } from './export.ts'

export const LEDGER_TABLES = ['ledger', 'units', 'payees', 'double', 'explanation', 'standards'] as const

const LEDGER_COLUMNS = ['unit_code', 'unit_name', 'programme', 'programme_name', 'class', 'year', 'rate', 'rate_unit', 'claimed_m2', 'excluded_m2', 'paid_m2', 'amount_yuan', 'claimed_yuan']
const UNIT_COLUMNS = ['unit_code', 'unit_name', 'unit_area_m2', 'covered_m2', 'paid_m2', 'amount_yuan', 'amount_if_sum_yuan', 'double_counted_m2', 'double_counted_yuan']
const PAYEE_COLUMNS = ['unit_code', 'unit_name', 'programme', 'programme_name', 'payee_field', 'payee', 'paid_m2', 'amount_yuan']
const PAIR_COLUMNS = ['unit_code', 'unit_name', 'paid_by', 'paid_by_name', 'also_covered_by', 'also_covered_by_name', 'area_m2', 'rate', 'rate_unit', 'yuan']
const EXPLANATION_COLUMNS = ['unit_code', 'unit_name', 'line', 'zh', 'en']
const STANDARD_COLUMNS = ['claims', 'id', 'name', 'layer', 'layer_id', 'layer_checksum', 'categories', 'ownership_field', 'ownership_values', 'payee_field', 'rate', 'rate_unit', 'year', 'source', 'verified']

/** Chinese headers of the workbook */
const LABELS: Record<string, string> = {
  unit_code: '单元代码', unit_name: '单元名称', programme: '补偿项目代码', programme_name: '补偿项目', class: '类别', year: '年度', rate: '补偿标准', rate_unit: '标准单位',
  claimed_m2: '图斑面积', excluded_m2: '已由他项补偿面积', paid_m2: '补偿面积', amount_yuan: '补偿金额（元）', claimed_yuan: '各自计补金额（元）',
  unit_area_m2: '单元面积', covered_m2: '补偿范围面积（去重）', amount_if_sum_yuan: '各渠道分别计补（元）', double_counted_m2: '重复计补面积', double_counted_yuan: '重复计补金额（元）',
  payee_field: '补偿对象字段', payee: '补偿对象', paid_by: '补偿项目代码', paid_by_name: '支付项目', also_covered_by: '重叠项目代码', also_covered_by_name: '重叠项目（不重复支付）',
  area_m2: '重叠面积', yuan: '重叠金额（元）', line: '行', zh: '说明', en: 'explanation', claims: '优先次序', id: '项目代码', name: '项目名称', layer: '图层', layer_id: '图层版本',
  layer_checksum: '数据校验值 sha256', categories: '类别', ownership_field: '权属字段', ownership_values: '权属', source: '依据', verified: '已核实',
}

const RULE_NAMES = { highest_once: 'highest_once：就高不就低、不重复补偿（费率最高的项目支付）', first_listed: 'first_listed：按所列顺序在先的项目支付，不重复补偿', sum: 'sum：各项目分别补偿（重叠部分单列为重复计补）' } as const

function tablesOf(r: CompensationResult): Table[] {
  return [
    // areas and money add up over units (each face lies in one unit); explanations do not
    { name: 'ledger', columns: LEDGER_COLUMNS, rows: r.rows, rollup: { year: 'key', rate: 'key', class: 'key' } },
    { name: 'units', columns: UNIT_COLUMNS, rows: r.units },
    { name: 'payees', columns: PAYEE_COLUMNS, rows: r.payees, rollup: { payee: 'key' } },
    { name: 'double', columns: PAIR_COLUMNS, rows: r.pairs, rollup: { rate: 'key' } },
    { name: 'explanation', columns: EXPLANATION_COLUMNS, rows: r.explanation, rollup: false },
    {
      name: 'standards', columns: STANDARD_COLUMNS,
      rows: r.programmes.map((p) => ({
        claims: r.rule === 'sum' ? null : p.claims, id: p.id, name: p.name, layer: `${p.layer_version.name}@${p.layer_version.vintage}`, layer_id: p.layer_version.id, layer_checksum: p.layer_version.checksum,
        categories: p.categories?.join('、') ?? null, ownership_field: p.ownership_field ?? null, ownership_values: p.ownership_values?.join('、') ?? null,
        payee_field: p.payee_field ?? null, rate: p.rate, rate_unit: p.rate_unit, year: p.year ?? r.year, source: p.source ?? null, verified: p.verified ?? false,
      })),
    },
  ]
}

export function compensationExport(r: CompensationResult, setId: number): Exportable {
  return {
    tables: tablesOf(r),
    result: r,
    setId,
    properties: () => new Map(r.units.map((u) => [u.unit_code, { amount_yuan: u.amount_yuan, paid_m2: u.paid_m2, double_counted_m2: u.double_counted_m2, double_counted_yuan: u.double_counted_yuan, amount_if_sum_yuan: u.amount_if_sum_yuan }])),
    workbook: () => ledgerWorkbook(r),
  }
}

/** a sheet with Chinese headers; every *_m2 column followed by 亩 and 公顷 */
function sheet(wb: ExcelJS.Workbook, title: string, t: Table) {
  const ws = wb.addWorksheet(title)
  const cols = t.columns.flatMap((c) => c.endsWith('_m2')
    ? [{ header: `${LABELS[c] ?? c}（m²）`, key: c, div: 1 }, { header: `${LABELS[c] ?? c}（亩）`, key: c, div: M2_PER.mu }, { header: `${LABELS[c] ?? c}（公顷）`, key: c, div: M2_PER.ha }]
    : [{ header: LABELS[c] ?? c, key: c, div: 0 }])
  ws.columns = cols.map((c) => ({ header: c.header, width: c.key === 'zh' || c.key === 'en' ? 110 : Math.min(40, Math.max(10, c.header.length * 2)) }))
  for (const row of t.rows as Record<string, unknown>[]) ws.addRow(cols.map((c) => (c.div && typeof row[c.key] === 'number' ? (row[c.key] as number) / c.div : row[c.key] ?? null)))
  ws.getRow(1).font = { bold: true }
  ws.views = [{ state: 'frozen', ySplit: 1 }]
  cols.forEach((c, i) => {
    if (c.div) ws.getColumn(i + 1).numFmt = '#,##0.00'
    else if (c.key.endsWith('_yuan')) ws.getColumn(i + 1).numFmt = '#,##0.00'
  })
  return ws
}

export async function ledgerWorkbook(r: CompensationResult): Promise<Buffer> {
  const wb = await newWorkbook()
  wb.creator = 'ecocensus'
  const [ledger, units, payees, pairs, explanation, standards] = tablesOf(r) as [Table, Table, Table, Table, Table, Table]
  const u = sheet(wb, '补偿汇总 units', units)
  const total = (k: 'covered_m2' | 'paid_m2' | 'amount_yuan' | 'amount_if_sum_yuan' | 'double_counted_m2' | 'double_counted_yuan') => r.units.reduce((s, x) => s + x[k], 0)
  const sum = u.addRow(['合计', null, null, null, null, total('covered_m2'), total('covered_m2') / M2_PER.mu, total('covered_m2') / M2_PER.ha, total('paid_m2'), total('paid_m2') / M2_PER.mu, total('paid_m2') / M2_PER.ha, total('amount_yuan'), total('amount_if_sum_yuan'), total('double_counted_m2'), total('double_counted_m2') / M2_PER.mu, total('double_counted_m2') / M2_PER.ha, total('double_counted_yuan')])
  sum.font = { bold: true }
  sheet(wb, '补偿明细 ledger', ledger)
  sheet(wb, '补偿对象 payees', payees)
  sheet(wb, '重复计补 double', pairs)
  sheet(wb, '计算说明 explanation', explanation)
  sheet(wb, '补偿标准 standards', standards)
  const prov = wb.addWorksheet('数据来源 provenance')
  prov.columns = [{ header: '项目 field', width: 28 }, { header: '内容 value', width: 130 }]
  prov.getRow(1).font = { bold: true }
  const add = (k: string, v: string) => prov.addRow([k, v])
  add('计算批次 run', `${r.run.id}（${r.run.status}，${r.run.created_at}${r.run.created_by ? `，${r.run.created_by}` : ''}）`)
  add('单元集 unit set', r.unitSet)
  add('补偿标准 standards', `${r.configName ?? '（未命名）'}，${r.year} 年；sha256 ${r.configSha256}`)
  add('重叠规则 rule', RULE_NAMES[r.rule])
  for (const p of r.programmes) {
    const filters = [p.categories ? `类别 ${p.categories.join('、')}` : '', p.ownership_field ? `${p.ownership_field} 为 ${p.ownership_values!.join('、')}` : ''].filter(Boolean).join('，')
    add(`项目 ${p.id}`, `${p.name}：图层 ${p.layer_version.name}@${p.layer_version.vintage}（版本 ${p.layer_version.id}，sha256 ${p.layer_version.checksum}）${filters ? `，${filters}` : ''}，${p.rate} ${p.rate_unit}${p.verified ? '' : '（标准未核实 verified: false）'}`)
  }
  add('计算方法 method', r.method)
  add('面积 area', '椭球面积（CGCS2000 / GRS80），1 亩 = 10 000/15 m² ≈ 666.67 m²，1 公顷 = 10 000 m²')
  add('核对 identities', '各渠道分别计补 − 补偿金额 = 重复计补金额（每个单元）；补偿面积 + 已由他项补偿面积 = 图斑面积；补偿对象之和 = 项目补偿金额')
  return Buffer.from(await wb.xlsx.writeBuffer())
}
