// A county report as one self-contained, printable HTML page (A4, Chinese or English): map,
// coverage, change and time series, area factors, GEP and compensation where computed,
// provenance and method. Charts and the map are inline SVG; no script, no network.
import type { ReportData } from './report-data.ts'
import { KIND_NAMES as KINDS } from '../catalog/kind-names.ts'

const L = {
  zh: {
    title: '生态资产与生态保护补偿报告', set: '单元集', year: '年份', allYears: '全部年份', generated: '生成', by: '操作人', overview: '概况', area: '面积',
    parent: '上级代码', map: '地图', coverage: '覆盖', layer: '图层', vintage: '年份', ha: '公顷', mu: '亩', share: '占比', ecoSpace: '生态空间（合并计一次）',
    features: '图斑数', change: '变化与时间序列', interval: '时段', net: '净变化', gained: '增加', lost: '减少', rate: '年变化率', factors: '面积因素',
    factor: '因素', value: '值', gep: '生态产品总值（GEP）', gepTotal: 'GEP（万元）', perKm2: '每平方公里（万元）', material: '物质产品（万元）',
    regulating: '调节服务（万元）', cultural: '文化服务（万元）', item: '核算科目', category: '类别', categories: { material: '物质产品', regulating: '调节服务', cultural: '文化服务', stock: '存量（不计入GEP）' }, quantity: '功能量', valueWan: '价值量（万元）', compensation: '生态保护补偿',
    amount: '补偿金额（元）', yuan: '元', paid: '补偿面积（公顷）', doubled: '重复计补面积（公顷）', programme: '补偿项目', rateStd: '标准', claimed: '图斑面积（公顷）',
    provenance: '来源与方法', runs: '计算批次', kind: '类型', when: '时间', inputs: '输入图层', checksum: '校验和', file: '源文件', method: '方法说明',
    none: '（本单元集尚未计算）', notVerified: '示例参数，未经核实', chart: '各图层占比随时间变化', latestShares: '最新年份各图层占比', page: '页',
    factorsLatest: '面积因素按各图层最新年份计算，与所选年份不同，未列出。',
    notes: [
      '面积为 CGCS2000 椭球面上的面积（PostGIS geography，Karney 算法），不是投影平面面积；1 公顷 = 10 000 m²，1 亩 = 10 000/15 m²。',
      '同一图层内重叠的图斑合并计一次；生态空间为各生态类图层的并集，重叠部分只计一次。',
      '变化 = 后一年份与前一年份图层的差：增加为新版有而旧版无的面积，减少反之；净变化 = 增加 − 减少；年变化率 = 净变化 / 起始面积 / 年数。',
      '每个数字都来自下列计算批次，批次记录了输入图层的版本与校验和，可复算核对。',
    ],
  },
  en: {
    title: 'Ecological assets and compensation report', set: 'Unit set', year: 'Year', allYears: 'all years', generated: 'Generated', by: 'by', overview: 'Overview', area: 'Area',
    parent: 'Parent code', map: 'Map', coverage: 'Coverage', layer: 'Layer', vintage: 'Vintage', ha: 'ha', mu: 'mu', share: 'Share', ecoSpace: 'Ecological space (counted once)',
    features: 'Features', change: 'Change and time series', interval: 'Interval', net: 'Net', gained: 'Gained', lost: 'Lost', rate: 'Rate per year', factors: 'Area factors',
    factor: 'Factor', value: 'Value', gep: 'Gross ecosystem product (GEP)', gepTotal: 'GEP (10⁴ yuan)', perKm2: 'per km² (10⁴ yuan)', material: 'material (10⁴ yuan)',
    regulating: 'regulating (10⁴ yuan)', cultural: 'cultural (10⁴ yuan)', item: 'Item', category: 'Category', categories: { material: 'material', regulating: 'regulating', cultural: 'cultural', stock: 'stock (not in GEP)' }, quantity: 'Quantity', valueWan: 'Value (10⁴ yuan)', compensation: 'Ecological compensation',
    amount: 'Amount (yuan)', yuan: 'yuan', paid: 'Paid area (ha)', doubled: 'Double-counted area (ha)', programme: 'Programme', rateStd: 'Rate', claimed: 'Claimed (ha)',
    provenance: 'Provenance and method', runs: 'Runs', kind: 'Kind', when: 'When', inputs: 'Input layers', checksum: 'Checksum', file: 'Source file', method: 'Method',
    none: '(not computed for this unit set yet)', notVerified: 'sample parameters, not verified', chart: 'Share of each layer over time', latestShares: 'Share of each layer, latest vintage', page: 'page',
    factorsLatest: 'Area factors use the latest vintage of each layer, not the chosen year; not listed.',
    notes: [
      'Areas are on the CGCS2000 ellipsoid (PostGIS geography, Karney\'s method), not on a map projection; 1 ha = 10 000 m², 1 mu = 10 000/15 m².',
      'Overlapping features of one layer are counted once; ecological space is the union of the ecological layers, overlaps counted once.',
      'Change compares a vintage with the one before: gained is area in the later and not the earlier, lost the reverse; net = gained − lost; rate per year = net / area at the start / years.',
      'Every number comes from the runs listed, which record the versions and checksums of their input layers, so each can be recomputed and checked.',
    ],
  },
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

export function reportHtml(d: ReportData): string {
  const lang = d.options.lang
  const t = L[lang]
  const loc = lang === 'zh' ? 'zh-CN' : 'en'
  const num = (x: number | null | undefined, digits = 2) => (x == null || !Number.isFinite(Number(x)) ? '—' : Number(x).toLocaleString(loc, { minimumFractionDigits: digits, maximumFractionDigits: digits }))
  const ha = (m2: number | null | undefined) => num(m2 == null ? null : Number(m2) / 1e4)
  const mu = (m2: number | null | undefined) => num(m2 == null ? null : (Number(m2) * 15) / 1e4)
  const pct = (s: number | null | undefined) => (s == null || !Number.isFinite(s) ? '—' : `${(s * 100).toFixed(2)}%`)
  const kindOf = new Map(d.layers.map((l) => [l.name, l.kind]))
  // a layer's own display name (ecocensus layers label), else its kind's
  const display = (name: string) => { const l = d.layers.filter((x) => x.name === name).at(-1); return (lang === 'zh' ? l?.name_zh : l?.name_en) ?? KINDS[kindOf.get(name) ?? '']?.[lang] ?? name }
  const layerName = (name: string) => `${esc(display(name))} <span class="id">${esc(name)}</span>`
  const colour = (name: string) => KINDS[kindOf.get(name) ?? '']?.color ?? '#666'
  const u = d.unit
  const title = `${esc(u.name ?? u.code)}${lang === 'zh' ? '' : ' '}<small>${esc(u.code)}</small>`

  // map: the unit's outline, each layer's latest version clipped to it
  const [x0, y0, x1, y1] = d.map.box
  const w = x1 - x0, h = y1 - y0
  const pad = Math.max(w, h) * 0.04
  const idName = new Map(d.layers.map((l) => [l.id, l.name]))
  const latLen = Math.cos(Math.atan(Math.sinh(d.map.ymid / 6378137)))
  const barM = niceLength((w * latLen) / 4)
  const mapSvg = `<svg class="map" viewBox="${x0 - pad} ${-y1 - pad} ${w + 2 * pad} ${h + 2 * pad}" preserveAspectRatio="xMidYMid meet">
    <defs><clipPath id="unit"><path d="${d.map.unit}"/></clipPath></defs>
    <path d="${d.map.unit}" fill="#f4f1ea" stroke="none"/>
    <g clip-path="url(#unit)">${d.map.layers.map((l) => `<path d="${l.d}" fill="${colour(idName.get(l.layer_id) ?? '')}" fill-opacity="0.55" stroke="${colour(idName.get(l.layer_id) ?? '')}" stroke-width="${Math.max(w, h) / 1500}" data-layer="${esc(idName.get(l.layer_id))}"/>`).join('')}</g>
    <path d="${d.map.unit}" fill="none" stroke="#1b2733" stroke-width="${Math.max(w, h) / 400}"/>
    <g transform="translate(${x0} ${-y0 + pad * 0.6})"><rect x="0" y="${-pad * 0.5}" width="${barM / latLen}" height="${pad * 0.18}" fill="#1b2733"/><text x="0" y="${-pad * 0.6}" font-size="${pad * 0.5}">${barM >= 1000 ? `${barM / 1000} km` : `${barM} m`}</text></g>
  </svg>`
  const mapLegend = [...new Set(d.map.layers.map((l) => idName.get(l.layer_id)!))].map((n) => `<span><i style="background:${colour(n)}"></i>${layerName(n)} ${esc(d.layers.filter((l) => l.name === n).at(-1)?.vintage)}</span>`).join('')

  // coverage
  const layerRows = d.coverage.filter((r) => r.measure === 'layer')
  const union = d.coverage.find((r) => r.measure === 'union')
  const covTable = `<table><thead><tr><th>${t.layer}</th><th>${t.vintage}</th><th class="n">${t.area}（${t.ha}）</th><th class="n">${t.area}（${t.mu}）</th><th class="n">${t.share}</th><th class="n">${t.features}</th></tr></thead><tbody>
    ${layerRows.map((r) => `<tr data-layer="${esc(r.layer)}" data-vintage="${esc(r.vintage)}" data-m2="${r.area_m2}"><td>${layerName(r.layer)}</td><td>${esc(r.vintage)}</td><td class="n">${ha(r.area_m2)}</td><td class="n">${mu(r.area_m2)}</td><td class="n">${pct(r.share)}</td><td class="n">${r.features ?? '—'}</td></tr>`).join('')}
    ${union ? `<tr class="sum" data-measure="union" data-m2="${union.area_m2}"><td colspan="2">${t.ecoSpace} ${esc([...new Set([...union.vintage.matchAll(/@([^∪+,]+)/g)].map((m) => m[1]))].join(', ') || union.vintage)}</td><td class="n">${ha(union.area_m2)}</td><td class="n">${mu(union.area_m2)}</td><td class="n">${pct(union.share)}</td><td></td></tr>` : ''}
  </tbody></table>`
  const latestRows = [...new Map(layerRows.map((r) => [r.layer, r])).values()]
  const maxShare = Math.max(0.01, ...latestRows.map((r) => r.share))
  const bars = `<svg class="bars" viewBox="0 0 520 ${latestRows.length * 22 + 6}">${latestRows.map((r, i) => `<text x="0" y="${i * 22 + 15}" font-size="11">${esc(display(r.layer))}</text><rect x="120" y="${i * 22 + 4}" width="${(330 * r.share) / maxShare}" height="14" fill="${colour(r.layer)}"/><text x="${126 + (330 * r.share) / maxShare}" y="${i * 22 + 15}" font-size="11">${pct(r.share)}</text>`).join('')}</svg>`

  // change and time series
  const series = seriesChart(d.trends.map((tr) => ({ layer: tr.layer, colour: colour(tr.layer), label: display(tr.layer), points: tr.areas.filter((a) => a.category === null).map((a) => [a.year, a.share, a.vintage] as [number, number, string]) })), pct)
  const changeTable = d.trends.length ? `<table><thead><tr><th>${t.layer}</th><th>${t.interval}</th><th class="n">${t.gained}（${t.ha}）</th><th class="n">${t.lost}（${t.ha}）</th><th class="n">${t.net}（${t.ha}）</th><th class="n">${t.rate}</th></tr></thead><tbody>
    ${d.trends.flatMap((tr) => tr.intervals.filter((i) => i.category === null).map((i) => `<tr data-layer="${esc(tr.layer)}" data-from="${esc(i.from_vintage)}" data-to="${esc(i.to_vintage)}" data-net="${i.net_m2}"><td>${layerName(tr.layer)}</td><td>${esc(i.from_vintage)} → ${esc(i.to_vintage)}</td><td class="n">${ha(i.gained_m2)}</td><td class="n">${ha(i.lost_m2)}</td><td class="n">${ha(i.net_m2)}</td><td class="n">${i.rate_pct_per_year == null ? '—' : `${i.rate_pct_per_year.toFixed(2)}%`}</td></tr>`)).join('')}
  </tbody></table>` : ''

  const factorsApply = d.factors.length > 0
  const factorTable = factorsApply ? `<table class="factors"><thead><tr><th>${t.factor}</th><th class="n">${t.value}</th></tr></thead><tbody>${d.factors.map((f) => `<tr data-factor="${esc(f.id)}" data-value="${f.value}"><td>${esc(f.label)}</td><td class="n">${f.unit === 'm2' ? `${ha(f.value)} ${t.ha}` : f.unit === 'share' ? pct(f.value) : f.unit === 'count' || f.unit === 'flag' ? num(f.value, 0) : f.unit === 'yuan' ? `${num(f.value)} ${t.yuan}` : `${num(f.value)} ${esc(f.unit)}`}</td></tr>`).join('')}</tbody></table>` : `<p class="hint">${t.factorsLatest}</p>`

  const g = d.gep
  const wan = (y: unknown) => num(Number(y) / 1e4)
  const gepHtml = g ? `<p>${esc(g.configName)} · ${t.year} ${esc(g.unit.year)}</p>
    <table><tbody><tr data-gep="${g.unit.gep_yuan}"><th>${t.gepTotal}</th><td class="n">${wan(g.unit.gep_yuan)}</td><th>${t.perKm2}</th><td class="n">${wan(g.unit.gep_per_km2)}</td></tr>
    <tr><th>${t.material}</th><td class="n">${wan(g.unit.material_yuan)}</td><th>${t.regulating}</th><td class="n">${wan(g.unit.regulating_yuan)}</td></tr>
    <tr><th>${t.cultural}</th><td class="n">${wan(g.unit.cultural_yuan)}</td><td></td><td></td></tr></tbody></table>
    <table><thead><tr><th>${t.category}</th><th>${t.item}</th><th class="n">${t.quantity}</th><th class="n">${t.valueWan}</th></tr></thead><tbody>
    ${g.items.map((i) => `<tr data-item="${esc(i.item_id)}" data-yuan="${i.value_yuan ?? ''}"><td>${esc(t.categories[i.category as keyof typeof t.categories] ?? i.category)}</td><td>${esc(i.item)}</td><td class="n">${i.quantity == null ? '—' : `${num(Number(i.quantity), 0)} ${esc(i.quantity_unit)}`}</td><td class="n">${i.value_yuan == null ? '—' : wan(i.value_yuan)}</td></tr>`).join('')}</tbody></table>
    <p class="hint">${t.notVerified}</p>` : `<p class="hint">${t.none}</p>`

  const c = d.compensation
  const compHtml = c ? `<table><tbody><tr data-amount="${c.unit.amount_yuan}"><th>${t.amount}</th><td class="n">${num(c.unit.amount_yuan as number)}</td><th>${t.paid}</th><td class="n">${ha(c.unit.paid_m2 as number)}</td></tr>
    <tr><th>${t.doubled}</th><td class="n">${ha(c.unit.double_counted_m2 as number)}</td><td></td><td></td></tr></tbody></table>
    <table><thead><tr><th>${t.programme}</th><th class="n">${t.rateStd}</th><th class="n">${t.claimed}</th><th class="n">${t.paid}</th><th class="n">${t.amount}</th></tr></thead><tbody>
    ${c.rows.map((r) => `<tr><td>${esc(r.programme_name)}</td><td class="n">${esc(r.rate)} ${esc(r.rate_unit)}</td><td class="n">${ha(r.claimed_m2 as number)}</td><td class="n">${ha(r.paid_m2 as number)}</td><td class="n">${num(r.amount_yuan as number)}</td></tr>`).join('')}</tbody></table>
    <ol class="why">${c.explanation.map((e) => `<li>${esc(e[lang])}</li>`).join('')}</ol>` : `<p class="hint">${t.none}</p>`

  const runsTable = `<table class="small"><thead><tr><th>#</th><th>${t.kind}</th><th>${t.when}</th><th>${t.by}</th></tr></thead><tbody>${d.runs.map((r) => `<tr data-run="${r.id}"><td>${r.id}</td><td>${esc(r.kind)}</td><td>${esc(new Date(r.created_at as unknown as string).toISOString().replace('T', ' ').slice(0, 19))} UTC</td><td>${esc(r.created_by ?? '')}</td></tr>`).join('')}</tbody></table>`
  const inputsTable = `<table class="small"><thead><tr><th>${t.layer}</th><th>${t.vintage}</th><th>${t.file}</th><th>${t.checksum}</th></tr></thead><tbody>${d.layers.map((l) => `<tr><td>${layerName(l.name)}</td><td>${esc(l.vintage)}</td><td>${esc(l.source_file)}</td><td class="mono">${esc(l.source_checksum.replace('sha256:', '').slice(0, 16))}…</td></tr>`).join('')}</tbody></table>`

  return `<!doctype html><html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8"><title>${esc(u.name ?? u.code)} · ${t.title}</title><style>${CSS}</style></head><body>
  <header><h1>${title}</h1><p class="sub">${t.title}</p>
  <p class="meta">${t.set} <b>${esc(d.options.units)}</b> · ${t.year} <b>${d.options.year ?? t.allYears}</b> · ${t.generated} ${esc(d.generatedAt.replace('T', ' ').slice(0, 16))} UTC${d.actor ? ` · ${t.by} ${esc(d.actor)}` : ''}</p></header>
  <section><h2>${t.overview}</h2><p>${t.area} <b data-m2="${u.area_m2}">${ha(u.area_m2)}</b> ${t.ha} · ${num(u.area_m2 / 1e6)} km² · ${mu(u.area_m2)} ${t.mu}${u.parent_code ? ` · ${t.parent} ${esc(u.parent_code)}` : ''}</p>
  <figure>${mapSvg}<figcaption class="legend">${mapLegend}</figcaption></figure></section>
  <section><h2>${t.coverage}</h2>${covTable}<h3>${t.latestShares}</h3>${bars}</section>
  ${d.trends.length ? `<section><h2>${t.change}</h2>${changeTable}<h3>${t.chart}</h3>${series}</section>` : ''}
  <section><h2>${t.factors}</h2>${factorTable}</section>
  <section><h2>${t.gep}</h2>${gepHtml}</section>
  <section><h2>${t.compensation}</h2>${compHtml}</section>
  <section class="prov"><h2>${t.provenance}</h2><h3>${t.method}</h3><ol>${t.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ol><h3>${t.runs}</h3>${runsTable}<h3>${t.inputs}</h3>${inputsTable}</section>
  </body></html>`
}

/** A length of 1, 2 or 5 × 10ⁿ metres near the given one. */
function niceLength(m: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(m, 1)))
  return [5, 2, 1].map((k) => k * p).find((x) => x <= m) ?? p
}

/** Share per vintage, one line per layer. */
function seriesChart(lines: { layer: string; colour: string; label: string; points: [number, number, string][] }[], pct: (s: number) => string): string {
  const all = lines.flatMap((l) => l.points)
  if (!all.length) return ''
  const W = 520, H = 200, left = 48, right = 110, top = 10, bottom = 24
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1])
  const [xa, xb] = [Math.min(...xs), Math.max(...xs)]
  const yb = Math.max(0.01, ...ys) * 1.1
  const X = (x: number) => left + (xb === xa ? 0.5 : (x - xa) / (xb - xa)) * (W - left - right)
  const Y = (y: number) => top + (1 - y / yb) * (H - top - bottom)
  const years = [...new Set(all.map((p) => p[2]))]
  return `<svg class="series" viewBox="0 0 ${W} ${H}">
    <line x1="${left}" y1="${Y(0)}" x2="${W - right}" y2="${Y(0)}" stroke="#888"/><text x="${left - 4}" y="${Y(0) + 4}" font-size="10" text-anchor="end">0</text><text x="${left - 4}" y="${Y(yb / 1.1) + 4}" font-size="10" text-anchor="end">${pct(yb / 1.1)}</text>
    ${years.map((v) => { const p = all.find((q) => q[2] === v)!; return `<text x="${X(p[0])}" y="${H - 6}" font-size="10" text-anchor="middle">${v}</text>` }).join('')}
    ${lines.map((l) => `<polyline fill="none" stroke="${l.colour}" stroke-width="2" points="${l.points.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>${l.points.map((p) => `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${l.colour}" data-layer="${l.layer}" data-vintage="${p[2]}" data-share="${p[1]}"/>`).join('')}<text x="${W - right + 6}" y="${Y(l.points.at(-1)![1]) + 4}" font-size="10" fill="${l.colour}">${l.label}</text>`).join('')}
  </svg>`
}

const CSS = `
@page { size: A4; margin: 16mm 14mm 18mm; }
body { font-family: 'WenQuanYi Zen Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif; font-size: 10.5pt; color: #1b2733; margin: 0; }
header { border-bottom: 2px solid #1b2733; margin-bottom: 8px; }
h1 { font-size: 20pt; margin: 0 0 2px; } h1 small { font-size: 11pt; color: #5b6b7b; font-weight: normal; margin-left: 6px; }
.sub { font-size: 13pt; margin: 0 0 4px; } .meta { color: #5b6b7b; font-size: 9pt; margin: 0 0 6px; }
h2 { font-size: 13pt; border-left: 4px solid #2b8cbe; padding-left: 6px; margin: 14px 0 6px; break-after: avoid; }
h3 { font-size: 10.5pt; margin: 10px 0 4px; color: #34495e; }
section { break-inside: auto; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; break-inside: auto; }
th, td { border-bottom: 1px solid #d5dbe1; padding: 3px 5px; text-align: left; vertical-align: top; }
thead th { background: #eef2f6; font-weight: 600; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { break-inside: avoid; } tr.sum td { font-weight: 600; border-top: 1.5px solid #1b2733; }
.id { color: #7b8794; font-size: 8.5pt; } .mono { font-family: monospace; font-size: 8pt; }
table.small { font-size: 8.5pt; }
figure { margin: 6px 0; break-inside: avoid; } svg.map { width: 100%; height: 120mm; display: block; }
.legend span { display: inline-block; margin-right: 10px; font-size: 9pt; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; opacity: .7; vertical-align: -1px; }
svg.bars, svg.series { width: 100%; max-width: 170mm; display: block; break-inside: avoid; }
.hint { color: #7b8794; font-size: 9pt; } ol.why { font-size: 9pt; }
.prov ol { font-size: 9pt; padding-left: 18px; }
`
