// Report-ready tables (`--labels zh`, `labels=zh`): Chinese headers, each m² column followed
// by 公顷 and 亩 columns rounded to 2 decimals (the exact m² stays), and beside a layer id its
// display name (the kind's name: 永久基本农田 for `farmland`). The default output, the
// documented CSV contract, is unchanged. And the provenance of a run in words, for the
// workbook's 数据来源 sheet.
import type { Queryable } from '../db/db.ts'
import { M2_PER } from './area-units.ts'
import type { Exportable, Table } from './export.ts'
import { KIND_NAMES } from '../catalog/kind-names.ts'

export const LABEL_SETS = ['zh'] as const
export type Labels = (typeof LABEL_SETS)[number]

const ZH: Record<string, string> = {
  unit_code: '单元代码', unit_name: '单元名称', unit_area: '单元面积', parent_code: '上级代码', layer: '图层', vintage: '年份', area: '面积', share: '占比',
  measure: '量度', category: '类别', features: '图斑数', from_vintage: '起始年份', to_vintage: '终止年份', from: '起始面积', to: '终止面积',
  gained: '增加', lost: '减少', net: '净变化', stable: '稳定', years: '年数', rate_m2_per_year: '年变化（m²/年）', rate_pct_per_year: '年变化率（%/年）',
  raster: '栅格', class: '类别值', class_name: '类别名称', pixels: '像元数', mean: '均值', min: '最小值', max: '最大值', stddev: '标准差', count: '计数',
  year: '年', from_class: '原类别', to_class: '新类别', nodata: '无数据面积', covered: '有数据面积', rule: '规则', rule_name: '规则名称', value: '值',
  threshold: '阈值', op: '比较', unit: '单位',
}
export const KIND_ZH: Record<string, string> = Object.fromEntries(Object.entries(KIND_NAMES).map(([k, v]) => [k, v.zh]))

/** The table with Chinese headers, 公顷 and 亩 twins of each m² column (2 decimals), and a layer's display name. */
export function labelledTable(t: Table, displayNames: Map<string, string>): Table {
  // displayNames: layer name → its display name (layerDisplayNames)
  const out: { header: string; from: (r: Record<string, unknown>) => unknown }[] = []
  for (const c of t.columns) {
    if (c.endsWith('_m2')) {
      const stem = c.slice(0, -3)
      const zh = ZH[stem] ?? stem
      const num = (r: Record<string, unknown>) => (typeof r[c] === 'number' ? (r[c] as number) : null)
      out.push({ header: `${zh}（m²）`, from: num })
      out.push({ header: `${zh}（公顷）`, from: (r) => (num(r) === null ? null : (num(r)! / M2_PER.ha).toFixed(2)) })
      out.push({ header: `${zh}（亩）`, from: (r) => (num(r) === null ? null : (num(r)! / M2_PER.mu).toFixed(2)) })
    } else if (c === 'share') {
      out.push({ header: '占比', from: (r) => r[c] })
      out.push({ header: '占比（%）', from: (r) => (typeof r[c] === 'number' ? ((r[c] as number) * 100).toFixed(2) : null) })
    } else if (c === 'layer') {
      out.push({ header: '图层', from: (r) => r[c] })
      out.push({ header: '图层名称', from: (r) => displayNames.get(String(r[c])) ?? null })
    } else out.push({ header: ZH[c] ?? c, from: (r) => r[c] })
  }
  return {
    name: t.name,
    columns: out.map((o) => o.header),
    rows: (t.rows as Record<string, unknown>[]).map((r) => Object.fromEntries(out.map((o) => [o.header, o.from(r)]))),
    rollup: false,
  }
}

/** name → display name in Chinese of every layer in the catalogue: its own (layers label), else its kind's */
export async function layerDisplayNames(db: Queryable): Promise<Map<string, string>> {
  const rows = await db.query<{ name: string; kind: string; name_zh: string | null }>(
    'SELECT DISTINCT ON (l.name) l.name, l.kind, b.name_zh FROM layer l LEFT JOIN layer_label b ON b.name = l.name ORDER BY l.name, l.id DESC')
  return new Map(rows.map((r) => [r.name, r.name_zh ?? KIND_ZH[r.kind] ?? r.kind]))
}

type Rec = Record<string, unknown>
const str = (v: unknown) => (v == null ? '' : typeof v === 'string' ? v : JSON.stringify(v))

/** A run's provenance as lines of words: [field, text]. */
export function provenanceInWords(x: Exportable): [string, string][] {
  const r = x.result as Rec
  const run = r.run as Rec
  const lines: [string, string][] = []
  lines.push(['计算批次 run', `#${run.id} ${str(run.kind)}（${str(run.status)}；${str(run.created_at)}${run.created_by ? `；${str(run.created_by)}` : ''}）`])
  const set = r.unitSet as Rec | string | undefined
  if (set) lines.push(['单元集 unit set', typeof set === 'string' ? set : `${str(set.name)}（版本 ${str(set.id)}）`])
  const layers = (r.layers ?? (run.inputs as Rec | undefined)?.layers) as Rec[] | undefined
  if (Array.isArray(layers)) {
    for (const l of layers) {
      const kind = KIND_ZH[String(l.kind)] ?? str(l.kind)
      lines.push([`输入图层 ${str(l.name)}@${str(l.vintage)}`, `${kind}；版本 ${str(l.id)}${l.feature_count != null ? `；${str(l.feature_count)} 个图斑` : ''}${l.source_checksum ? `；sha256 ${String(l.source_checksum).replace('sha256:', '')}` : ''}`])
    }
  }
  for (const k of ['raster', 'from', 'to', 'layer', 'year', 'configName', 'configSha256']) if (r[k] != null && typeof r[k] !== 'object') lines.push([k, str(r[k])])
  const params = run.params as Rec | undefined
  if (params) lines.push(['参数 parameters', Object.entries(params).map(([k, v]) => `${k} = ${str(v)}`).join('；')])
  if (r.method) lines.push(['计算方法 method', str(r.method)])
  lines.push(['面积 area', '椭球面积（CGCS2000 / GRS80 椭球，PostGIS geography），不是投影平面面积；1 公顷 = 10 000 m²；1 km² = 1 000 000 m²；1 亩 = 10 000/15 m² ≈ 666.67 m²'])
  lines.push(['复核 check', `同一计算批次 #${run.id} 的输入版本与参数不变时，重新计算得到相同结果（ecocensus runs show ${run.id}）`])
  return lines
}
