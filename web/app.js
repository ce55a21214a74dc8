// The ecocensus viewer. Everything on the map comes from our own tiles: units and layers as
// vector tiles (/tiles/units:SET, /tiles/layer:NAME@V, /tiles/change:NAME@A,B), rasters as
// PNG tiles; the choropleth colours the unit tiles by a statistic that the tiles carry as
// properties (?run=ID). Numbers in the side panel come from the statistics API. No CDN: the
// basemap is bundled (basemap.js; or a raster one configured by ECOCENSUS_BASEMAP_URL), so it
// works offline.
import { addBasemap, findPlace, places, setHillshade, setUnitLabels } from './basemap.js'
import { initInspect } from './inspect.js'
import { bboxOf } from './bbox.js'
import { csvText } from './csv.js'
const $ = (id) => document.getElementById(id)
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])

// ---- labels: Chinese by default, English on request --------------------------------------
const T = {
  zh: {
    subtitle: '生态资产普查', areaUnit: '面积单位', unitSet: '单元集', statistic: '专题统计（分级设色）', layers: '图层', changeView: '变化',
    showChange: '显示增加 / 减少', gained: '增加', lost: '减少', clickHint: '点击地图上的单元查看全部统计', upload: '上传图层',
    file: '文件（.zip 含 shp / .geojson / .gpkg）', layerName: '图层名', kind: '类型', vintage: '年份', categoryField: '分类字段（可选）',
    apiKey: '写入密钥', send: '上传', share: '占比', area: '面积', layer: '图层', unitArea: '单元面积', coverage: '覆盖', overlaps: '叠置',
    ecoSpace: '生态空间（合并计一次）', change: '变化', stable: '稳定', net: '净变化', raster: '栅格', class: '类别', mean: '均值', minmax: '最小 / 最大',
    stddev: '标准差', run: '计算批次', download: '下载本表', downloadRun: '下载全部', none: '无', computing: '计算中…', noData: '无数据',
    opacity: '透明度', uploaded: '已上传', statNote: '颜色 = 所选统计量（椭球面积，重叠已合并）', netShare: '净变化占单元比例', lostShare: '减少占单元比例',
    classShare: '类别占比', chart: '各图层覆盖占比', transfer: '转移支付：因素与分配', factorsXlsx: '下载因素表 XLSX', allocConfig: '分配方案（JSON，见 README）',
    allocRun: '计算分配', allocXlsx: '下载分配 XLSX', amount: '金额（元）', total: '合计', unit: '单元',
    gep: '生态产品总值 GEP', gepPerKm2: 'GEP（万元/km²）', gepTotal: 'GEP（万元）', gepRegulating: '调节服务价值（万元）', item: '核算科目', quantity: '功能量',
    value: '价值量（万元）', gepShare: '占GEP', material: '物质产品', regulating: '调节服务', cultural: '文化服务', stock: '存量（不计入GEP）', gepNote: '示例参数，未经核实',
    comp: '生态保护补偿（分类补偿）', compAmount: '补偿金额（万元）', compDouble: '重复计补面积占比', compDoubleYuan: '避免重复补偿（万元）', programme: '补偿项目', claimed: '图斑面积',
    paid: '补偿面积', rate: '标准', compTotal: '补偿合计', ifSum: '若各渠道分别补偿', doubleCounted: '重复计补', paidBy: '支付项目', alsoBy: '重叠项目', compNote: '示例标准，未经核实',
    rules: { highest_once: '就高不就低、不重复', first_listed: '在先者补偿、不重复', sum: '各渠道分别补偿' },
    basin: '流域横向补偿', section: '断面', upstream: '上游', downstream: '下游', target: '目标', periodClass: '年度水质', monthly: '逐月水质类别',
    agreement: '协议', pays: '支付', netFlow: '净资金流向', basinNote: '示例断面与数据（合成）', search: '查找单元或地名（代码或名称）', hillshade: '山体阴影', report: '打印报告（PDF）', save: '保存', attrTable: '属性表', filter: '筛选', inView: '仅当前视图', exportShown: '导出所列', of: '共', mergedNote: '{n} 个小图斑在此比例尺下合并显示', ranking: '排名（所选统计）', close: '关闭', noUnit: '没有这个单元', breaksLabel: '分级', quantile: '分位数', equal: '等间距', jenks: '自然断点', series: '各图层占比随时间变化', time: '年份', alerts: '监测预警', alertRules: '预警规则（JSON，见 docs/alerts.md）', alertRun: '检查预警', alertCount: '条预警', alertNone: '没有单元触发预警', checks: '次检查', templates: { index: '补偿指数', class: '水质类别', load: '污染物通量', flow: '生态流量' },
  },
  en: {
    subtitle: 'ecological asset census', areaUnit: 'Area unit', unitSet: 'Unit set', statistic: 'Statistic (choropleth)', layers: 'Layers', changeView: 'Change',
    showChange: 'Show gained / lost', gained: 'gained', lost: 'lost', clickHint: 'Click a unit on the map for all of its statistics', upload: 'Upload a layer',
    file: 'File (.zip with shp / .geojson / .gpkg)', layerName: 'Layer name', kind: 'Kind', vintage: 'Vintage', categoryField: 'Category field (optional)',
    apiKey: 'Write key', send: 'Upload', share: 'share', area: 'area', layer: 'layer', unitArea: 'Unit area', coverage: 'Coverage', overlaps: 'Overlaps',
    ecoSpace: 'Ecological space (counted once)', change: 'Change', stable: 'stable', net: 'net', raster: 'Raster', class: 'class', mean: 'mean', minmax: 'min / max',
    stddev: 'std. dev.', run: 'run', download: 'Download this table', downloadRun: 'Download all', none: 'none', computing: 'computing…', noData: 'no data',
    opacity: 'opacity', uploaded: 'uploaded', statNote: 'Colour = the chosen statistic (ellipsoidal areas, overlaps flattened)', netShare: 'net change, share of unit', lostShare: 'lost, share of unit',
    classShare: 'class share', chart: 'Coverage share by layer', transfer: 'Transfer payment: factors and allocation', factorsXlsx: 'Download factors XLSX', allocConfig: 'Allocation config (JSON, see README)',
    allocRun: 'Allocate', allocXlsx: 'Download allocation XLSX', amount: 'amount (yuan)', total: 'total', unit: 'unit',
    gep: 'Gross ecosystem product (GEP)', gepPerKm2: 'GEP (10⁴ yuan/km²)', gepTotal: 'GEP (10⁴ yuan)', gepRegulating: 'regulating services (10⁴ yuan)', item: 'item', quantity: 'quantity',
    value: 'value (10⁴ yuan)', gepShare: 'share of GEP', material: 'material products', regulating: 'regulating services', cultural: 'cultural services', stock: 'stock (not in GEP)', gepNote: 'sample parameters, not verified',
    comp: 'Compensation per hectare (paid once)', compAmount: 'compensation (10⁴ yuan)', compDouble: 'double-counted area, share of unit', compDoubleYuan: 'double payment avoided (10⁴ yuan)', programme: 'programme', claimed: 'claimed',
    paid: 'paid', rate: 'rate', compTotal: 'total', ifSum: 'if every programme paid', doubleCounted: 'double-counted', paidBy: 'paid by', alsoBy: 'also covered by', compNote: 'example rates, not verified',
    rules: { highest_once: 'highest rate pays, once', first_listed: 'listed first pays, once', sum: 'every programme pays' },
    basin: 'Cross-boundary watershed compensation', section: 'section', upstream: 'upstream', downstream: 'downstream', target: 'target', periodClass: 'class of the year', monthly: 'class by month',
    agreement: 'agreement', pays: 'pays', netFlow: 'net money flow', basinNote: 'sample section and data (synthetic)', search: 'Find a unit or place (code or name)', hillshade: 'hillshade', report: 'Print report (PDF)', save: 'save', attrTable: 'table', filter: 'filter', inView: 'in view only', exportShown: 'export rows', of: 'of', mergedNote: '{n} small features drawn merged at this scale', ranking: 'Ranking (chosen statistic)', close: 'Close', noUnit: 'no such unit', breaksLabel: 'Classes', quantile: 'quantiles', equal: 'equal intervals', jenks: 'natural breaks', series: 'Share of each layer over time', time: 'Vintage', alerts: 'Monitoring alerts', alertRules: 'Alert rules (JSON, see docs/alerts.md)', alertRun: 'Check alerts', alertCount: 'alert(s)', alertNone: 'no unit raised an alert', checks: 'checks', templates: { index: 'index', class: 'water class', load: 'load', flow: 'ecological flow' },
  },
}
const KINDS = {
  redline: { zh: '生态保护红线', en: 'ecological red line', color: '#d7301f' },
  protected_area: { zh: '自然保护地', en: 'protected areas', color: '#7a4fb0' },
  forest: { zh: '公益林', en: 'public-welfare forest', color: '#238b45' },
  wetland: { zh: '重要湿地', en: 'important wetlands', color: '#2c7fb8' },
  farmland: { zh: '永久基本农田', en: 'permanent farmland', color: '#e6a817' },
  grassland: { zh: '草地', en: 'grassland', color: '#8cc152' },
  water: { zh: '水域', en: 'water', color: '#4292c6' },
  other: { zh: '其他', en: 'other', color: '#636363' },
}
let lang = localStorage.getItem('ecocensus.lang') || 'zh'
const t = (k) => T[lang][k] ?? k
const kindLabel = (kind) => KINDS[kind]?.[lang] ?? kind

// ---- area units --------------------------------------------------------------------------
const UNITS = { m2: { f: 1, zh: 'm²', en: 'm²', d: 0 }, ha: { f: 1e-4, zh: '公顷', en: 'ha', d: 2 }, km2: { f: 1e-6, zh: 'km²', en: 'km²', d: 3 }, mu: { f: 15 / 1e4, zh: '亩', en: 'mu', d: 1 } }
let areaUnit = localStorage.getItem('ecocensus.areaUnit') || 'ha'
const fmtArea = (m2) => (m2 == null ? '—' : (Math.abs(m2 * UNITS[areaUnit].f) < 0.5 * 10 ** -UNITS[areaUnit].d ? 0 : m2 * UNITS[areaUnit].f).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { minimumFractionDigits: UNITS[areaUnit].d, maximumFractionDigits: UNITS[areaUnit].d }))
const unitName = () => UNITS[areaUnit][lang]
const pctf = (s) => (s == null ? '—' : `${(s * 100).toFixed(2)}%`)

// the key typed in the upload panel (kept for the browser session) goes with every API call:
// on a server with keys, computing statistics not yet stored needs an analyst key
function withKey(init = {}) {
  const key = sessionStorage.getItem('ecocensus.key')
  if (!key || init.headers?.authorization) return init
  return { ...init, headers: { ...(init.headers ?? {}), 'x-api-key': key } }
}

async function getJson(url, init) {
  const res = await fetch(url, withKey(init))
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(`${res.status}: ${body.error?.message ?? url}`)
  return { body, runId: res.headers.get('x-run-id') }
}

// ---- state -------------------------------------------------------------------------------
const state = {
  config: {}, sets: [], layers: [], rasters: [], set: null,
  coverage: null, // { runId, rows }
  change: new Map(), // layer → { runId, rows } (latest two vintages)
  zonal: new Map(), // raster@v → { runId, rows, kind }
  gep: null, // { runId, rows, units, year } of the sample GEP config over this set
  comp: null, // { runId, rows, units, pairs, explanation, rule, programmes } of the sample standards over this set
  compConfig: undefined, // the sample standards (null: none)
  basin: null, // { agreement, points, result } of the sample agreement's settlement
  gepConfig: undefined, // the sample GEP config (null: none)
  alerts: null, // { runId, rows, patches } of the last alert check
  selected: null, detailRows: [],
}
const byName = () => {
  const m = new Map()
  for (const l of state.layers) (m.get(l.name) ?? m.set(l.name, []).get(l.name)).push(l)
  for (const v of m.values()) v.sort((a, b) => (a.vintage < b.vintage ? -1 : a.vintage > b.vintage ? 1 : 0))
  return m
}

const map = new maplibregl.Map({
  container: 'map',
  style: { version: 8, sources: {}, layers: [{ id: 'bg', type: 'background', paint: { 'background-color': '#dfe6ee' } }] },
  center: [118.2, 29.9],
  zoom: 7,
  attributionControl: { compact: true },
})
window.ecomap = map // for the browser tests and the console
map.addControl(new maplibregl.NavigationControl(), 'top-right')
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }))
const tileUrl = (source, q = '') => `${location.origin}/tiles/${encodeURIComponent(source)}/{z}/{x}/{y}.mvt${q}`

async function init() {
  const [config, sets, layers, rasters] = await Promise.all([getJson('/api/config'), getJson('/api/unit-sets'), getJson('/api/layers'), getJson('/api/rasters')])
  Object.assign(state, { config: config.body, sets: sets.body, layers: layers.body, rasters: rasters.body })
  if (state.config.basemap) {
    map.addSource('basemap', { type: 'raster', tiles: state.config.basemap.tiles, tileSize: 256, attribution: state.config.basemap.attribution })
    map.addLayer({ id: 'basemap', type: 'raster', source: 'basemap' })
  }
  addBasemap(map)
  $('unitset').innerHTML = state.sets.map((s) => `<option value="${esc(s.name)}">${esc(s.name)} (${s.unit_count})</option>`).join('')
  if (pending?.set && state.sets.some((x) => x.name === pending.set)) $('unitset').value = pending.set
  $('search').onchange = () => {
    const code = findUnit($('search').value)
    if (code) {
      $('search').setCustomValidity('')
      select(code)
      return void zoomTo(code).catch(report)
    }
    // not a unit of the set: a place of the basemap (province, city or county)
    findPlace($('search').value).then((p) => {
      if (!p) return void ($('search').setCustomValidity(t('noUnit')), $('search').reportValidity())
      $('search').setCustomValidity('')
      map.fitBounds([[p.bbox[0], p.bbox[1]], [p.bbox[2], p.bbox[3]]], { padding: { top: 40, bottom: 40, right: 40, left: $('details').hidden ? 40 : 440 }, duration: 600 })
    }).catch(report)
  }
  $('details-close').onclick = () => closeDetails()
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('details').hidden) closeDetails() })
  $('area-unit').value = areaUnit
  $('unitset').onchange = () => showSet().catch(report)
  $('stat').onchange = () => paintChoropleth().catch(report)
  $('breaks').onchange = () => paintChoropleth().catch(report)
  $('area-unit').onchange = () => { areaUnit = $('area-unit').value; localStorage.setItem('ecocensus.areaUnit', areaUnit); refreshText() }
  $('lang').onclick = () => { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('ecocensus.lang', lang); refreshText() }
  buildLayerPanel()
  buildRasterPanel()
  buildChangePanel()
  initUpload()
  initMoney().catch(report)
  initAlerts().catch(report)
  applyI18n()
  await showSet()
  showBasin().catch(report)
}

/**
 * A run's result with its progress on screen: started with POST /api/runs (which answers at
 * once: a stored identical run, or a new one under way), polled for progress and stage, then
 * read. Without the right to start runs (keys exist and none is given) the blocking GET route
 * `fallback` answers instead (it reads a stored run). The map stays usable meanwhile.
 */
async function computed(kind, params, fallback) {
  if (state.config.writes && !sessionStorage.getItem('ecocensus.key')) return getJson(fallback)
  const started = await getJson('/api/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind, ...params }) })
  let run = started.body
  const bar = $('progress')
  try {
    while (run.status === 'running') {
      bar.hidden = false
      bar.querySelector('i').style.width = `${Math.round((run.progress ?? 0) * 100)}%`
      bar.querySelector('span').textContent = `${t('computing')} ${kind} · ${Math.round((run.progress ?? 0) * 100)}%${run.stage ? ` · ${run.stage}` : ''} · ${t('run')} ${run.id}`
      bar.dataset.progress = String(run.progress ?? 0)
      await new Promise((r) => setTimeout(r, 400))
      run = (await getJson(`/api/runs/${run.id}`)).body
    }
  } finally {
    bar.hidden = true
  }
  if (run.status !== 'done') throw new Error(`${kind} run ${run.id} ${run.status}: ${run.error ?? ''}`)
  const r = await getJson(`/api/runs/${run.id}/result?format=json`)
  return { body: r.body, runId: String(run.id) }
}

/** The view the URL asked for, applied once by the first showSet. */
let pending = readUrl()

function closeDetails() {
  $('details').hidden = true
  if (state.selected && map.getSource('units')) map.setFeatureState({ source: 'units', sourceLayer: 'units', id: state.selected }, { selected: false })
  state.selected = null
  saveUrl()
}

// ---- unit set, coverage and the choropleth -----------------------------------------------
async function showSet() {
  const name = $('unitset').value
  if (!name) return
  state.set = state.sets.find((s) => s.name === name)
  state.change.clear()
  state.zonal.clear()
  state.gep = null
  state.comp = null
  const want = pending
  pending = null
  restoring = !!want
  if (want?.view) map.jumpTo({ center: [want.view[0], want.view[1]], zoom: want.view[2] })
  else if (state.set?.bbox) map.fitBounds([[state.set.bbox[0], state.set.bbox[1]], [state.set.bbox[2], state.set.bbox[3]]], { padding: { top: 20, bottom: 20, right: 50, left: 420 }, duration: 0 })
  $('details-body').innerHTML = `<p class="hint">${t('clickHint')}</p>`
  $('details').hidden = false
  state.selected = null
  // coverage of every layer version, with the union of the ecological layers
  const layers = state.layers.map((l) => `${l.name}@${l.vintage}`).join(',')
  let cov
  try {
    cov = await computed('coverage', { units: name, layers, union: true }, `/api/stats/coverage?units=${encodeURIComponent(name)}&layers=${encodeURIComponent(layers)}&union=true`)
  } finally {
    // ready either way: a server with keys answers 401 until an analyst has computed this
    // set's statistics (the message is shown; a key in the upload panel lets them compute)
    document.body.dataset.ready = '1'
  }
  state.coverage = { runId: cov.runId, rows: cov.body.rows }
  setUnitsSource(`units:${name}`, `?run=${cov.runId}`)
  buildSearch()
  buildStatMenu()
  if (want?.stat && [...$('stat').options].some((o) => o.value === want.stat)) $('stat').value = want.stat
  for (const spec of want?.layers ?? []) {
    const [lname, vintage] = spec.split('@')
    const row = [...$('layers').querySelectorAll('.lyr')].find((r) => r.dataset.layer === lname)
    if (!row) continue
    if (vintage && [...row.querySelector('.vintage').options].some((o) => o.value === vintage)) row.querySelector('.vintage').value = vintage
    row.querySelector('.toggle').checked = true
    row.querySelector('.toggle').onchange()
  }
  if (want?.unit && unitNames().has(want.unit)) select(want.unit)
  restoring = false
  await paintChoropleth()
  showGep(name).catch(report)
  showCompensation(name).catch(report)
  // change since the previous vintage of each layer: in the background, shown when ready
  for (const [lname, versions] of byName()) {
    if (versions.length < 2) continue
    const from = versions[versions.length - 2].vintage
    const to = versions[versions.length - 1].vintage
    getJson(`/api/stats/change?units=${encodeURIComponent(name)}&layer=${encodeURIComponent(lname)}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)
      .then((r) => {
        if (state.set?.name !== name) return
        state.change.set(lname, { runId: r.runId, rows: r.body.rows, from, to })
        buildStatMenu()
        if (state.selected) select(state.selected)
      })
      .catch(report)
  }
}

/** GEP of the set by the sample's config (rasters it needs loaded): in the background; its
 *  statistics join the choropleth menu and the unit panel when ready. */
async function showGep(name) {
  if (state.gepConfig === undefined) state.gepConfig = await getJson('/api/gep/example').then((r) => r.body, () => null)
  if (!state.gepConfig) return
  let r
  try {
    r = await getJson('/api/gep?format=json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: name, config: state.gepConfig }) })
  } catch (err) {
    // a set the sample's rasters do not cover has no GEP: say why in the console only
    console.warn(`GEP of ${name}: ${err.message}`)
    return
  }
  if (state.set?.name !== name) return
  state.gep = { runId: r.runId, rows: r.body.rows, units: r.body.units, year: r.body.years.at(-1) }
  buildStatMenu()
  if (state.selected) select(state.selected)
}

/** The compensation ledger of the set by the sample's standards, in the background (as GEP). */
async function showCompensation(name) {
  if (state.compConfig === undefined) state.compConfig = await getJson('/api/compensation/example').then((r) => r.body, () => null)
  if (!state.compConfig) return
  let r
  try {
    r = await getJson('/api/compensation?format=json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: name, config: state.compConfig }) })
  } catch (err) {
    console.warn(`compensation of ${name}: ${err.message}`)
    return
  }
  if (state.set?.name !== name) return
  const b = r.body
  state.comp = { runId: r.runId, rows: b.rows, units: b.units, pairs: b.pairs, explanation: b.explanation, rule: b.rule, programmes: b.programmes }
  buildStatMenu()
  if (state.selected) select(state.selected)
}

// ---- watershed: the sample agreement's sections, classes and money ------------------------
const CLASS_COLOURS = { 'Ⅰ': '#08519c', 'Ⅱ': '#3182bd', 'Ⅲ': '#31a354', 'Ⅳ': '#fec44f', 'Ⅴ': '#f16913', '劣Ⅴ': '#cb181d' }
const CLASS_ORDER = ['Ⅰ', 'Ⅱ', 'Ⅲ', 'Ⅳ', 'Ⅴ', '劣Ⅴ']

/** The sample agreement settled in the background; its sections drawn by the year's class. */
async function showBasin() {
  const agreement = await getJson('/api/basin/example').then((r) => r.body, () => null)
  if (!agreement) return
  let points, result
  try {
    points = (await getJson(`/api/sections/${encodeURIComponent(agreement.sections)}/points`)).body
    result = await getJson('/api/basin/settle?format=json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agreement }) })
  } catch (err) {
    console.warn(`watershed sample: ${err.message}`)
    return
  }
  state.basin = { agreement, points, result: result.body, runId: result.runId }
  const cls = new Map(result.body.evaluation.map((e) => [e.section_code, e.class]))
  for (const f of points.features) f.properties.cls = cls.get(f.properties.code) ?? ''
  map.addSource('sections', { type: 'geojson', data: points })
  map.addLayer({ id: 'sections-pt', type: 'circle', source: 'sections', paint: {
    'circle-radius': 8, 'circle-stroke-color': '#111', 'circle-stroke-width': 2,
    'circle-color': ['match', ['get', 'cls'], ...Object.entries(CLASS_COLOURS).flat(), '#999'],
  } })
  map.on('click', 'sections-pt', (e) => selectSection(e.features[0].properties.code))
  map.on('mouseenter', 'sections-pt', () => (map.getCanvas().style.cursor = 'pointer'))
  map.on('mouseleave', 'sections-pt', () => (map.getCanvas().style.cursor = ''))
}

/** A section: its pair, the year's class, the class by month against the target band, the money of each agreement. */
function selectSection(code) {
  const b = state.basin
  const p = b.points.features.find((f) => f.properties.code === code).properties
  const ev = b.result.evaluation.find((e) => e.section_code === code)
  const months = b.result.months.filter((m) => m.section_code === code)
  const money = b.result.ledger.filter((l) => l.section_code === code && l.role === 'upstream')
  const yuan = (v) => v.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  // class by month: one column a month, Ⅰ at the top; the band of classes meeting the target shaded
  const w = 300, h = 130, left = 30, top = 8, rowH = 18, colW = (w - left) / 12
  const target = CLASS_ORDER.indexOf(ev.target_class)
  let svg = `<svg class="basin-chart" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect x="${left}" y="${top}" width="${w - left}" height="${(target + 1) * rowH}" fill="#e5f5e0"/>`
  CLASS_ORDER.forEach((c, i) => { svg += `<text x="2" y="${top + i * rowH + 13}" font-size="11">${c}</text>` })
  months.forEach((m, i) => {
    const k = CLASS_ORDER.indexOf(m.class)
    svg += `<text x="${left + i * colW + colW / 2}" y="${h - 4}" font-size="9" text-anchor="middle">${i + 1}</text>`
    if (k >= 0) svg += `<circle data-month="${esc(m.month)}" cx="${left + i * colW + colW / 2}" cy="${top + k * rowH + 9}" r="6" fill="${CLASS_COLOURS[m.class]}" stroke="#111"/>`
  })
  svg += '</svg>'
  const net = money.reduce((s, l) => s + l.amount_yuan, 0)
  const flow = (l) => (l.amount_yuan >= 0 ? `${esc(l.counterpart)} → ${esc(l.unit_code)}` : `${esc(l.unit_code)} → ${esc(l.counterpart)}`)
  let html = `<h3 data-section="${esc(code)}">${esc(p.name ?? code)} <small>${esc(code)} · ${esc(p.river ?? '')}</small></h3>
    <p>${t('upstream')} <b>${esc(p.upstream)}</b> → ${t('downstream')} <b>${esc(p.downstream)}</b> · ${t('target')} ${esc(ev.target_class)} · ${t('periodClass')} ${b.result.period}: <b data-class="${esc(ev.class)}" style="color:${CLASS_COLOURS[ev.class]}">${esc(ev.class)}</b></p>
    <h4>${t('monthly')} <small>${b.result.period}</small></h4>${svg}
    <h4>${t('basin')} <small>${t('basinNote')}</small></h4><table class="basin"><tr><th>${t('agreement')}</th><th>${t('pays')}</th><th class="n">${t('amount')}</th></tr>`
  html += money.map((l) => `<tr data-agreement="${l.agreement}"><td>${l.agreement} · ${esc(t('templates')[l.template] ?? l.template)}</td><td>${flow(l)}</td><td class="n">${yuan(Math.abs(l.amount_yuan))}</td></tr>`).join('')
  html += `<tr class="cat" data-net="${net}"><td>${t('netFlow')}</td><td>${net >= 0 ? `${esc(p.downstream)} → ${esc(p.upstream)}` : `${esc(p.upstream)} → ${esc(p.downstream)}`}</td><td class="n">${yuan(Math.abs(net))}</td></tr></table>`
  const lines = b.result.explanation.filter((e) => e.section_code === code)
  html += `<details class="comp-why"><summary>${lang === 'zh' ? '计算说明' : 'Explanation'}</summary><ol>${lines.map((l) => `<li>${esc(lang === 'zh' ? l.zh : l.en)}</li>`).join('')}</ol></details>`
  html += `<p class="runs">${t('run')}: <a href="/api/runs/${b.runId}" target="_blank">#${b.runId}</a></p>`
  $('details-body').innerHTML = html
  $('details').hidden = false
}

/** The unit tiles (with the statistics of run ?run=…) under the unit outlines. Replaced, not
 *  re-pointed, when the run changes: a source's tiles are part of its identity. */
function setUnitsSource(source, q) {
  const id = `${source}${q}`
  if (map.getSource('units')?.ecoId === id) return
  const paint = map.getLayer('units-fill') ? map.getPaintProperty('units-fill', 'fill-color') : '#cfd6de'
  for (const l of ['units-fill', 'units-line']) if (map.getLayer(l)) map.removeLayer(l)
  if (map.getSource('units')) map.removeSource('units')
  map.addSource('units', { type: 'vector', tiles: [tileUrl(source, q)], promoteId: { units: 'code' }, maxzoom: 16 })
  map.getSource('units').ecoId = id
  map.addLayer({ id: 'units-fill', type: 'fill', source: 'units', 'source-layer': 'units', paint: { 'fill-color': paint, 'fill-opacity': 0.85 } }, firstLayerAbove('units'))
  map.addLayer({ id: 'units-line', type: 'line', source: 'units', 'source-layer': 'units', paint: { 'line-color': '#234', 'line-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3.5, 0.9] } }, map.getLayer('admin-label-1') ? 'admin-label-1' : map.getLayer('sections-pt') ? 'sections-pt' : undefined)
  if (source.startsWith('units:')) setUnitLabels(map, source.slice(6), map.getLayer('sections-pt') ? 'sections-pt' : undefined, async (url) => (await getJson(url)).body).catch(report)
  if (state.selected) map.once('idle', () => map.setFeatureState({ source: 'units', sourceLayer: 'units', id: state.selected }, { selected: true }))
}

/** Menu of statistics: coverage share per layer version, ecological space, change, raster. */
function buildStatMenu() {
  const keep = $('stat').value
  const opts = []
  for (const [lname, versions] of byName()) {
    for (const v of [...versions].reverse()) opts.push([`cov|${lname}@${v.vintage}`, `${kindLabel(v.kind)} ${lname} ${v.vintage} · ${t('share')}`])
  }
  const union = state.coverage.rows.find((r) => r.measure === 'union')
  opts.push(['eco', union ? `${t('ecoSpace')} ${unionYears(union.vintage)}` : t('ecoSpace')])
  for (const [lname, c] of state.change) {
    opts.push([`chg|${lname}|net`, `${lname} ${c.from}→${c.to} · ${t('netShare')}`])
    opts.push([`chg|${lname}|lost`, `${lname} ${c.from}→${c.to} · ${t('lostShare')}`])
  }
  for (const [spec, z] of state.zonal) {
    if (z.kind === 'categorical') for (const c of z.classes) opts.push([`zon|${spec}|class_${c.value}_share`, `${spec} · ${c.name ?? c.value} · ${t('classShare')}`])
    else opts.push([`zon|${spec}|mean`, `${spec} · ${t('mean')}`])
  }
  if (state.gep) {
    const y = state.gep.year
    opts.push([`gep|gep_per_km2`, `${t('gepPerKm2')} ${y}`], [`gep|gep_yuan`, `${t('gepTotal')} ${y}`], [`gep|gep_regulating_yuan`, `${t('gepRegulating')} ${y}`])
    const items = new Map()
    for (const r of state.gep.rows) if (r.year === y && r.ecosystem === '*' && r.item !== '*' && r.value_yuan !== null && !r.part_of) items.set(r.item_id, r.item)
    for (const [id, name] of items) opts.push([`gep|gep:${id}_yuan`, `GEP · ${name}（${t('value')}）${y}`])
  }
  if (state.comp) opts.push(['comp|amount_yuan', `${t('comp')} · ${t('compAmount')}`], ['comp|double_share', `${t('comp')} · ${t('compDouble')}`], ['comp|double_counted_yuan', `${t('comp')} · ${t('compDoubleYuan')}`])
  $('stat').innerHTML = opts.map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join('')
  const redline = opts.find(([v]) => v.startsWith('cov|redline@'))
  $('stat').value = opts.some(([v]) => v === keep) ? keep : (redline ?? opts[0])[0]
}

/** The chosen statistic: which run's tiles, which value expression, and each unit's value
 *  ([code, value] pairs: the class breaks and the ranking). */
function statSpec() {
  const v = $('stat').value
  const [kind, a, b] = v.split('|')
  const out = (o, pairs) => ({ ...o, pairs, values: pairs.map((p) => p[1]) })
  if (kind === 'cov') return out({ runId: state.coverage.runId, expr: ['get', `${a}_share`], has: [`${a}_share`], share: true }, state.coverage.rows.filter((r) => r.measure === 'layer' && `${r.layer}@${r.vintage}` === a).map((r) => [r.unit_code, r.share]))
  if (kind === 'eco') return out({ runId: state.coverage.runId, expr: ['get', 'ecological_space_share'], has: ['ecological_space_share'], share: true }, state.coverage.rows.filter((r) => r.measure === 'union').map((r) => [r.unit_code, r.share]))
  if (kind === 'chg') {
    const c = state.change.get(a)
    const col = b === 'net' ? 'net_m2' : 'lost_m2'
    const areaOf = new Map(state.coverage.rows.map((r) => [r.unit_code, r.unit_area_m2]))
    return out({ runId: c.runId, expr: ['/', ['get', col], ['get', 'area_m2']], has: [col, 'area_m2'], share: true, diverging: b === 'net' }, c.rows.map((r) => [r.unit_code, r[col] / areaOf.get(r.unit_code)]))
  }
  if (kind === 'gep') {
    const g = state.gep
    const y = g.year
    const pairs = a === 'gep_per_km2' || a === 'gep_yuan' || a === 'gep_regulating_yuan'
      ? g.units.filter((u) => u.year === y).map((u) => [u.unit_code, a === 'gep_per_km2' ? u.gep_per_km2 : a === 'gep_yuan' ? u.gep_yuan : u.regulating_yuan])
      : g.rows.filter((r) => r.year === y && r.ecosystem === '*' && `gep:${r.item_id}_yuan` === a).map((r) => [r.unit_code, r.value_yuan])
    return out({ runId: g.runId, expr: ['get', a], has: [a], money: true }, pairs)
  }
  if (kind === 'comp') {
    const c = state.comp
    if (a === 'double_share') return out({ runId: c.runId, expr: ['/', ['get', 'double_counted_m2'], ['get', 'area_m2']], has: ['double_counted_m2', 'area_m2'], share: true, note: `${t('comp')} · ${t('compNote')}` }, c.units.map((u) => [u.unit_code, u.double_counted_m2 / u.unit_area_m2]))
    return out({ runId: c.runId, expr: ['get', a], has: [a], money: true, note: `${t('comp')} · ${t('compNote')}` }, c.units.map((u) => [u.unit_code, u[a]]))
  }
  const z = state.zonal.get(a)
  return out({ runId: z.runId, expr: ['get', b], has: [b], share: b !== 'mean' }, z.rows.filter((r) => (b === 'mean' ? true : `class_${r.class}_share` === b)).map((r) => [r.unit_code, b === 'mean' ? r.mean : r.share]))
}

const SEQ = ['#f7fcf5', '#c7e9c0', '#74c476', '#31a354', '#006d2c']
const DIV = ['#d73027', '#fc8d59', '#f7f7f7', '#91bfdb', '#4575b4']
async function paintChoropleth() {
  if (!$('stat').value) return
  const s = statSpec()
  setUnitsSource(`units:${state.set.name}`, `?run=${s.runId}`)
  const vals = s.values.filter((x) => Number.isFinite(x)).sort((p, q) => p - q)
  let breaks
  let zeroClass = false
  if (s.diverging) {
    const m = Math.max(1e-9, ...vals.map(Math.abs))
    breaks = [-m / 2, -m / 10, m / 10, m / 2]
  } else {
    ;({ breaks, zeroClass } = classBreaks(vals, $('breaks').value, 5))
  }
  const colours = s.diverging ? DIV : SEQ
  const pal = colours.slice(colours.length - breaks.length - 1)
  const step = ['step', ['to-number', s.expr, -1e30], pal[0]]
  breaks.forEach((b, i) => step.push(b, pal[i + 1]))
  map.setPaintProperty('units-fill', 'fill-color', ['case', ['all', ...s.has.map((p) => ['has', p])], step, '#cfd6de'])
  // money in 万元 (10⁴ yuan), shares in %
  const f = (x) => (s.money ? (x / 1e4).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 0 }) : s.share ? `${(x * 100).toFixed(x !== 0 && Math.abs(x) < 0.01 ? 2 : 1)}%` : x.toFixed(3))
  // a class of exact zeros says 0; the next starts above it; a last class of one value says it
  const top = vals.at(-1)
  const labels = pal.map((_, i) => (i === 0 ? (zeroClass ? f(0) : `< ${f(breaks[0])}`)
    : i === pal.length - 1 ? (breaks[i - 1] === top ? f(top) : `≥ ${f(breaks[i - 1])}`)
      : `${i === 1 && zeroClass ? '> 0' : f(breaks[i - 1])} – ${f(breaks[i])}`))
  $('legend').innerHTML = pal.map((c, i) => `<span data-break="${i === 0 ? '' : breaks[i - 1]}" style="background:${c};color:${i >= pal.length - 2 && !s.diverging ? '#fff' : '#222'}">${labels[i]}</span>`).join('')
  $('stat-note').textContent = `${s.note ?? (s.money ? `${t('gep')} · ${t('gepNote')}` : t('statNote'))} · ${t('run')} ${s.runId}`
  buildRanking(s, f)
  state.hover = { values: new Map(s.pairs), f, label: $('stat').selectedOptions[0]?.textContent ?? '' }
  buildTimeSlider()
  saveUrl()
}

/**
 * Class breaks of sorted values into at most k classes (a value v is in class i when
 * breaks[i-1] ≤ v < breaks[i]): quantiles, equal intervals or natural breaks (Jenks: the
 * partition with the least squared deviation within classes; over at most 1500 evenly spaced
 * order statistics on big sets). When the values are non-negative and some are 0, 0 is a
 * class of its own and the others are classed among the positive values (shares of a layer
 * absent from most units no longer give "< 0.0 %").
 */
function classBreaks(vals, method = 'quantile', k = 5) {
  if (!vals.length) return { breaks: [0], zeroClass: false }
  const zeroClass = vals[0] === 0 && vals.some((v) => v > 0)
  const xs = zeroClass ? vals.filter((v) => v > 0) : vals
  const m = zeroClass ? k - 1 : k
  let inner
  if (method === 'equal') {
    const lo = xs[0], hi = xs.at(-1)
    inner = Array.from({ length: m - 1 }, (_, i) => lo + ((i + 1) * (hi - lo)) / m)
  } else if (method === 'jenks') {
    inner = jenks(xs.length > 1500 ? Array.from({ length: 1500 }, (_, i) => xs[Math.round((i * (xs.length - 1)) / 1499)]) : xs, m)
  } else {
    inner = Array.from({ length: m - 1 }, (_, i) => xs[Math.min(xs.length - 1, Math.floor(((i + 1) / m) * xs.length))])
  }
  const breaks = [...(zeroClass ? [xs[0]] : []), ...inner].filter((x, i, a) => Number.isFinite(x) && (i === 0 || x > a[i - 1]))
  return { breaks: breaks.length ? breaks : [xs[0]], zeroClass }
}

/** Jenks natural breaks of sorted values into k classes: the lower bound of classes 2..k. */
function jenks(xs, k) {
  const n = xs.length
  k = Math.min(k, n)
  if (k < 2) return []
  const pre = [0], pre2 = [0]
  for (const x of xs) { pre.push(pre.at(-1) + x); pre2.push(pre2.at(-1) + x * x) }
  // squared deviation of xs[i..j] (inclusive)
  const ssd = (i, j) => { const c = j - i + 1, s1 = pre[j + 1] - pre[i]; return pre2[j + 1] - pre2[i] - (s1 * s1) / c }
  const cost = Array.from({ length: k }, () => new Float64Array(n).fill(Infinity))
  const from = Array.from({ length: k }, () => new Int32Array(n))
  for (let j = 0; j < n; j++) cost[0][j] = ssd(0, j)
  for (let c = 1; c < k; c++) {
    for (let j = c; j < n; j++) {
      for (let i = c; i <= j; i++) {
        const v = cost[c - 1][i - 1] + ssd(i, j)
        if (v < cost[c][j]) { cost[c][j] = v; from[c][j] = i }
      }
    }
  }
  const starts = []
  for (let c = k - 1, j = n - 1; c > 0; c--) { const i = from[c][j]; starts.unshift(xs[i]); j = i - 1 }
  return starts
}

/** The units ranked by the chosen statistic, largest first; a click selects and zooms. */
function buildRanking(s, f) {
  const names = unitNames()
  const ranked = s.pairs.filter(([, v]) => Number.isFinite(v)).sort((p, q) => q[1] - p[1] || String(p[0]).localeCompare(String(q[0])))
  $('rank').innerHTML = ranked.map(([code, v], i) => `<li data-code="${esc(code)}" data-value="${v}"><span class="r">${i + 1}</span> ${esc(names.get(code) ?? '')} <small>${esc(code)}</small><span class="v">${f(v)}</span></li>`).join('')
  for (const li of $('rank').querySelectorAll('li')) li.onclick = () => { select(li.dataset.code); zoomTo(li.dataset.code).catch(report) }
}

/** code → name of the current set's units (from its coverage rows). */
function unitNames() {
  return new Map((state.coverage?.rows ?? []).map((r) => [r.unit_code, r.unit_name]))
}

/** Fits the map to one unit (its outline from the OGC API item). */
async function zoomTo(code) {
  const r = await getJson(`/ogc/collections/${encodeURIComponent(`units:${state.set.name}`)}/items/${encodeURIComponent(code)}`)
  const box = bboxOf(r.body.geometry)
  map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: { top: 40, bottom: 40, right: 40, left: $('details').hidden ? 40 : 440 }, maxZoom: 13, duration: 600 })
}

/** Search by code or name: the set's units in a datalist; Enter or a choice selects and zooms. */
function buildSearch() {
  const names = unitNames()
  const units = [...names].map(([code, name]) => `<option value="${esc(code)} ${esc(name ?? '')}">`).join('')
  $('units-list').innerHTML = units
  $('search').value = ''
  // and the places of the basemap, after the units
  places().then((ps) => { $('units-list').innerHTML = units + ps.map((p) => `<option value="${esc(p.name)} ${esc(p.in ?? '')}">`).join('') }).catch(report)
}
function findUnit(text) {
  const q = text.trim().toLowerCase()
  if (!q) return null
  const names = unitNames()
  const first = q.split(/\s+/)[0]
  if (names.has(first)) return first
  for (const [code, name] of names) if (code.toLowerCase() === q || (name ?? '').toLowerCase() === q) return code
  for (const [code, name] of names) if (code.toLowerCase().startsWith(q) || (name ?? '').toLowerCase().includes(q)) return code
  return null
}

// ---- the view in the URL: #set=…&stat=…&unit=…&layers=…&view=lon,lat,zoom -----------------
function readUrl() {
  const h = new URLSearchParams(location.hash.slice(1))
  const view = (h.get('view') ?? '').split(',').map(Number)
  return {
    set: h.get('set'), stat: h.get('stat'), unit: h.get('unit'),
    layers: (h.get('layers') ?? '').split(',').filter(Boolean),
    view: view.length === 3 && view.every(Number.isFinite) ? view : null,
  }
}
let restoring = false
function saveUrl() {
  if (restoring || !state.set) return
  const h = new URLSearchParams()
  h.set('set', state.set.name)
  if ($('stat').value) h.set('stat', $('stat').value)
  if (state.selected && !$('details').hidden) h.set('unit', state.selected)
  const on = [...$('layers').querySelectorAll('.lyr')].filter((row) => row.querySelector('.toggle').checked).map((row) => `${row.dataset.layer}@${row.querySelector('.vintage').value}`)
  if (on.length) h.set('layers', on.join(','))
  const c = map.getCenter()
  h.set('view', `${c.lng.toFixed(5)},${c.lat.toFixed(5)},${map.getZoom().toFixed(2)}`)
  const hash = `#${h.toString().replace(/%40/g, '@').replace(/%2C/g, ',').replace(/%7C/g, '|')}`
  if (hash !== location.hash) history.replaceState(null, '', hash)
}
map.on('moveend', () => saveUrl())

// ---- layers, rasters, change -------------------------------------------------------------
function firstLayerAbove(group) {
  // draw order: basemap, units fill (choropleth), rasters, layer fills, change, unit outlines
  const style = map.getStyle().layers.map((l) => l.id)
  const above = {
    units: (id) => id.startsWith('ras-') || id.startsWith('lyr-') || id === 'change-fill' || id === 'units-line',
    rasters: (id) => id.startsWith('lyr-') || id === 'change-fill' || id === 'units-line',
    layers: (id) => id === 'change-fill' || id === 'units-line',
    change: (id) => id === 'units-line',
  }[group]
  // the basemap's boundaries and names, then monitoring sections, stay on top of everything
  return style.find((id) => above(id) || id === 'sections-pt' || id.startsWith('admin-') || id === 'units-label')
}

function buildLayerPanel() {
  const rows = []
  for (const [lname, versions] of byName()) {
    const latest = versions[versions.length - 1]
    const color = KINDS[latest.kind]?.color ?? '#666'
    rows.push(`<div class="lyr" data-layer="${esc(lname)}">
      <label class="inline"><input type="checkbox" class="toggle"> <i class="sw" style="background:${color}"></i> <span class="kind" data-kind="${esc(latest.kind)}" data-layer-name="${esc(lname)}">${esc(displayName(lname))}</span> <b>${esc(lname)}</b></label>
      <select class="vintage">${[...versions].reverse().map((v) => `<option>${esc(v.vintage)}</option>`).join('')}</select>
      <input type="range" class="opacity" min="0" max="1" step="0.05" value="0.55" title="opacity">
      <button type="button" class="attr-open" title="${t('attrTable')}">▦ ${t('attrTable')}</button>
    </div>`)
  }
  $('layers').innerHTML = rows.join('')
  for (const row of $('layers').querySelectorAll('.lyr')) {
    const lname = row.dataset.layer
    const color = KINDS[byName().get(lname).at(-1).kind]?.color ?? '#666'
    const redraw = () => {
      const id = `lyr-${lname}`
      const vintage = row.querySelector('.vintage').value
      const on = row.querySelector('.toggle').checked
      const opacity = Number(row.querySelector('.opacity').value)
      if (map.getLayer(id)) { map.removeLayer(id); map.removeLayer(`${id}-line`) }
      if (map.getSource(id)) map.removeSource(id)
      if (!on) return
      map.addSource(id, { type: 'vector', tiles: [tileUrl(`layer:${lname}@${vintage}`)], maxzoom: 16 })
      map.addLayer({ id, type: 'fill', source: id, 'source-layer': 'features', paint: { 'fill-color': color, 'fill-opacity': opacity } }, firstLayerAbove('layers'))
      map.addLayer({ id: `${id}-line`, type: 'line', source: id, 'source-layer': 'features', paint: { 'line-color': color, 'line-width': 0.8, 'line-opacity': Math.min(1, opacity + 0.3) } }, firstLayerAbove('layers'))
    }
    row.querySelector('.toggle').onchange = () => { redraw(); saveUrl() }
    row.querySelector('.vintage').onchange = () => { redraw(); saveUrl() }
    row.querySelector('.attr-open').onclick = () => {
      const vintage = row.querySelector('.vintage').value
      inspect.openTable({ id: `lyr-${lname}`, name: lname, vintage, kind: byName().get(lname).find((v) => v.vintage === vintage)?.kind }).catch(report)
    }
    row.querySelector('.opacity').oninput = () => {
      const id = `lyr-${lname}`
      const o = Number(row.querySelector('.opacity').value)
      if (map.getLayer(id)) { map.setPaintProperty(id, 'fill-opacity', o); map.setPaintProperty(`${id}-line`, 'line-opacity', Math.min(1, o + 0.3)) }
    }
  }
}

/** rasters offered as relief (hillshade): continuous ones named like an elevation model */
const DEM_NAME = /(^|[^a-z])(dem|dtm|dsm|srtm|elev|elevation|height|高程|地形)/i
function buildRasterPanel() {
  const names = new Map()
  for (const r of state.rasters) (names.get(r.name) ?? names.set(r.name, []).get(r.name)).push(r)
  $('rasters').innerHTML = [...names].map(([name, rs]) => `<div class="lyr raster" data-raster="${esc(name)}">
      <label class="inline"><input type="checkbox" class="toggle"> <i class="sw grid"></i> <span data-i18n="raster">${t('raster')}</span> <b>${esc(name)}</b></label>
      <select class="vintage">${[...rs].reverse().map((r) => `<option>${esc(r.vintage)}</option>`).join('')}</select>
      <input type="range" class="opacity" min="0" max="1" step="0.05" value="0.85" title="opacity">
      ${rs.some((r) => r.kind === 'continuous') && DEM_NAME.test(name) ? `<label class="inline"><input type="checkbox" class="hs"> <span>${t('hillshade')}</span></label>` : ''}
      <div class="raster-legend"></div>
    </div>`).join('')
  for (const row of $('rasters').querySelectorAll('.lyr')) {
    const name = row.dataset.raster
    const redraw = async () => {
      const spec = `${name}@${row.querySelector('.vintage').value}`
      const on = row.querySelector('.toggle').checked
      const id = `ras-${name}`
      if (map.getLayer(id)) map.removeLayer(id)
      if (map.getSource(id)) map.removeSource(id)
      row.querySelector('.raster-legend').innerHTML = ''
      if (!on) return
      const r = state.rasters.find((x) => `${x.name}@${x.vintage}` === spec)
      map.addSource(id, { type: 'raster', tiles: [`${location.origin}/tiles/raster/${encodeURIComponent(spec)}/{z}/{x}/{y}.png`], tileSize: 256, bounds: r.extent })
      map.addLayer({ id, type: 'raster', source: id, paint: { 'raster-opacity': Number(row.querySelector('.opacity').value), 'raster-resampling': 'nearest' } }, firstLayerAbove('rasters'))
      if (r.kind === 'categorical' && r.legend) row.querySelector('.raster-legend').innerHTML = r.legend.map((e) => `<span><i style="background:${esc(e.color ?? '#999')}"></i>${esc(e.name ?? e.value)}</span>`).join('')
      // its zonal statistics for the unit set: in the side panel and as choropleth options
      if (!state.zonal.has(spec)) {
        const z = await getJson(`/api/stats/zonal?units=${encodeURIComponent(state.set.name)}&raster=${encodeURIComponent(spec)}`)
        state.zonal.set(spec, { runId: z.runId, rows: z.body.rows, kind: r.kind, classes: r.kind === 'categorical' ? (r.legend ?? []).map((e) => ({ value: e.value, name: e.name })) : [] })
        buildStatMenu()
      }
      if (state.selected) select(state.selected)
    }
    row.querySelector('.toggle').onchange = () => redraw().catch(report)
    row.querySelector('.vintage').onchange = () => { redraw().catch(report); shade() }
    // relief: the raster as a DEM, shaded over the choropleth
    const shade = () => {
      const hs = row.querySelector('.hs')
      if (!hs) return
      for (const other of $('rasters').querySelectorAll('.hs')) if (other !== hs && hs.checked) other.checked = false
      const spec = `${name}@${row.querySelector('.vintage').value}`
      const r = state.rasters.find((x) => `${x.name}@${x.vintage}` === spec)
      if (hs.checked || map.getSource('dem')?.ecoSpec?.startsWith(`${name}@`)) setHillshade(map, hs.checked && r?.kind === 'continuous' ? spec : null, r?.extent, firstLayerAbove('units'))
      if (map.getSource('dem')) map.getSource('dem').ecoSpec = spec
    }
    if (row.querySelector('.hs')) row.querySelector('.hs').onchange = shade
    row.querySelector('.opacity').oninput = () => { const id = `ras-${name}`; if (map.getLayer(id)) map.setPaintProperty(id, 'raster-opacity', Number(row.querySelector('.opacity').value)) }
  }
}

function buildChangePanel() {
  const multi = [...byName()].filter(([, v]) => v.length > 1)
  $('change-layer').innerHTML = multi.map(([n]) => `<option>${esc(n)}</option>`).join('')
  const fill = () => {
    const versions = byName().get($('change-layer').value) ?? []
    const opts = versions.map((v) => `<option>${esc(v.vintage)}</option>`).join('')
    $('change-from').innerHTML = opts
    $('change-to').innerHTML = opts
    if (versions.length > 1) { $('change-from').value = versions.at(-2).vintage; $('change-to').value = versions.at(-1).vintage }
  }
  fill()
  if (multi.some(([n]) => n === 'redline')) { $('change-layer').value = 'redline'; fill() }
  const redraw = () => {
    if (map.getLayer('change-fill')) map.removeLayer('change-fill')
    if (map.getSource('change')) map.removeSource('change')
    const [l, a, b] = [$('change-layer').value, $('change-from').value, $('change-to').value]
    if (!$('change-show').checked || !l || a === b) return
    map.addSource('change', { type: 'vector', tiles: [tileUrl(`change:${l}@${a},${b}`)], maxzoom: 16 })
    map.addLayer({ id: 'change-fill', type: 'fill', source: 'change', 'source-layer': 'change', paint: { 'fill-color': ['match', ['get', 'change'], 'gained', '#0072b2', 'lost', '#cc79a7', '#999'], 'fill-opacity': 0.9, 'fill-outline-color': '#111' } }, firstLayerAbove('change'))
  }
  $('change-layer').onchange = () => { fill(); redraw() }
  $('change-from').onchange = redraw
  $('change-to').onchange = redraw
  $('change-show').onchange = redraw
}

// ---- the clicked unit ----------------------------------------------------------------------
// a click on a monitoring section is the section's, not the unit's under it
map.on('click', 'units-fill', (e) => {
  if (map.getLayer('sections-pt') && map.queryRenderedFeatures(e.point, { layers: ['sections-pt'] }).length) return
  if (inspect.layerFeatureAt(e.point)) return // identified instead (its popup links to the unit)
  select(e.features[0].properties.code)
})
// identify: a feature of a visible layer → its attributes, category, area, vintage
const visibleLayers = () => [...document.querySelectorAll('#layers .lyr')].filter((row) => row.querySelector('.toggle').checked).map((row) => {
  const name = row.dataset.layer
  const vintage = row.querySelector('.vintage').value
  return { id: `lyr-${name}`, name, vintage, kind: byName().get(name)?.find((v) => v.vintage === vintage)?.kind }
})
const inspect = initInspect({ map, $, esc, t, fmtArea, unitName, visibleLayers, kindLabel, report, save: (blob, name) => save(blob, name), onUnit: (code) => select(code) })
map.on('click', (e) => { inspect.identify(e).then((shown) => shown && hoverPopup.remove()).catch(report) })
// the details panel docks left or right of the map
if (localStorage.getItem('ecocensus.dock') === 'right') $('details').classList.add('dock-right')
$('details-dock').onclick = () => localStorage.setItem('ecocensus.dock', $('details').classList.toggle('dock-right') ? 'right' : 'left')
map.on('mouseenter', 'units-fill', () => (map.getCanvas().style.cursor = 'pointer'))
map.on('mouseleave', 'units-fill', () => { map.getCanvas().style.cursor = ''; hoverPopup.remove() })
// hover: the unit's name and its value of the chosen statistic
const hoverPopup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: 'hover', offset: 12 })
map.on('mousemove', 'units-fill', (e) => {
  const p = e.features[0]?.properties
  if (!p || document.querySelector('.maplibregl-popup.identify')) return hoverPopup.remove()
  const v = state.hover?.values.get(p.code)
  const value = v == null || !Number.isFinite(v) ? t('noData') : state.hover.f(v)
  hoverPopup.setLngLat(e.lngLat).setHTML(`<b>${esc(p.name ?? '')}</b> <small>${esc(p.code)}</small><br><span class="hint">${esc(state.hover?.label ?? '')}</span> <b data-hover-value>${esc(value)}</b>`).addTo(map)
})

function select(code) {
  if (state.selected && map.getSource('units')) map.setFeatureState({ source: 'units', sourceLayer: 'units', id: state.selected }, { selected: false })
  state.selected = code
  map.setFeatureState({ source: 'units', sourceLayer: 'units', id: code }, { selected: true })
  const cov = state.coverage.rows.filter((r) => r.unit_code === code)
  if (!cov.length) return
  const u = cov[0]
  const table = [] // the rows of "this table" for download: [section, item, vintage, m2, share]
  let html = `<h3 data-code="${esc(code)}">${esc(u.unit_name ?? '')} <small>${esc(code)}</small></h3>
    <div class="actions"><button type="button" id="dl-report">${t('report')}</button> <span id="report-msg" class="hint"></span></div>
    <p>${t('unitArea')} <b data-m2="${u.unit_area_m2}">${fmtArea(u.unit_area_m2)}</b> ${unitName()}</p>`
  const layerRows = cov.filter((r) => r.measure === 'layer')
  html += `<h4>${t('coverage')}</h4><table class="cov"><tr><th>${t('layer')}</th><th>${t('vintage')}</th><th class="n">${t('area')} ${unitName()}</th><th class="n">${t('share')}</th></tr>
    ${layerRows.map((r) => `<tr data-layer="${esc(r.layer)}" data-vintage="${esc(r.vintage)}"><td>${layerLabel(r.layer)}</td><td>${esc(r.vintage)}</td><td class="n" data-m2="${r.area_m2}">${fmtArea(r.area_m2)}</td><td class="n" data-share="${r.share}">${pctf(r.share)}</td></tr>`).join('')}`
  for (const r of layerRows) table.push([t('coverage'), r.layer, r.vintage, r.area_m2, r.share])
  for (const r of cov.filter((x) => x.measure === 'union' || x.measure === 'overlap')) {
    // the ecological space of one year: the union of the latest vintage of each ecological layer
    const label = r.measure === 'union' ? `${t('ecoSpace')} ${unionYears(r.vintage)}` : r.layer
    html += `<tr data-measure="${r.measure}"><td colspan="2">${esc(label)}</td><td class="n" data-m2="${r.area_m2}">${fmtArea(r.area_m2)}</td><td class="n">${pctf(r.share)}</td></tr>`
    table.push([r.measure === 'union' ? t('ecoSpace') : t('overlaps'), label, r.vintage, r.area_m2, r.share])
  }
  html += `</table>${chart(layerRows)}${seriesChart(layerRows)}`
  const chg = [...state.change].map(([lname, c]) => [lname, c, c.rows.find((r) => r.unit_code === code)]).filter(([, , r]) => r)
  if (chg.length) {
    html += `<h4>${t('change')} <small>${esc(chg[0][1].from)}→${esc(chg[0][1].to)}</small></h4><table class="chg"><tr><th>${t('layer')}</th><th class="n">${t('stable')}</th><th class="n">${t('gained')}</th><th class="n">${t('lost')}</th><th class="n">${t('net')}</th></tr>
      ${chg.map(([lname, c, r]) => `<tr data-change="${esc(lname)}"><td title="${esc(c.from)}→${esc(c.to)}">${esc(lname)}</td><td class="n">${fmtArea(r.stable_m2)}</td><td class="n" data-m2="${r.gained_m2}">${fmtArea(r.gained_m2)}</td><td class="n" data-m2="${r.lost_m2}">${fmtArea(r.lost_m2)}</td><td class="n" data-m2="${r.net_m2}">${fmtArea(r.net_m2)}</td></tr>`).join('')}</table>`
    for (const [lname, c, r] of chg) table.push([`${t('change')} ${t('net')}`, lname, `${c.from}→${c.to}`, r.net_m2, r.net_m2 / u.unit_area_m2])
  }
  for (const [spec, z] of state.zonal) {
    const rows = z.rows.filter((r) => r.unit_code === code)
    if (!rows.length) continue
    if (z.kind === 'categorical') {
      html += `<h4>${t('raster')} ${esc(spec)}</h4><table class="zonal"><tr><th>${t('class')}</th><th class="n">${t('area')} ${unitName()}</th><th class="n">${t('share')}</th></tr>
        ${rows.map((r) => `<tr data-class="${esc(r.class)}"><td>${esc(r.class_name ?? r.class)}</td><td class="n" data-m2="${r.area_m2}">${fmtArea(r.area_m2)}</td><td class="n">${pctf(r.share)}</td></tr>`).join('')}</table>`
      for (const r of rows) table.push([`${t('raster')} ${spec}`, r.class_name ?? r.class, '', r.area_m2, r.share])
    } else {
      const r = rows[0]
      html += `<h4>${t('raster')} ${esc(spec)}</h4><table class="zonal"><tr><td>${t('mean')}</td><td class="n">${r.mean?.toFixed(4) ?? '—'}</td></tr><tr><td>${t('minmax')}</td><td class="n">${r.min?.toFixed(3) ?? '—'} / ${r.max?.toFixed(3) ?? '—'}</td></tr><tr><td>${t('stddev')}</td><td class="n">${r.stddev?.toFixed(4) ?? '—'}</td></tr></table>`
    }
  }
  if (state.gep) {
    const y = state.gep.year
    const mine = state.gep.rows.filter((r) => r.unit_code === code && r.year === y && r.ecosystem === '*')
    const gepRow = mine.find((r) => r.category === '*')
    if (gepRow) {
      const total = gepRow.value_yuan
      const wan = (v) => (v == null ? '—' : (v / 1e4).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 1 }))
      // quantities as GEP reports print them: 亿 (10⁸) and 万 (10⁴) in Chinese, 10⁸ and 10⁴ in English
      const qty = (v, u) => {
        if (v == null) return ''
        const [d, p] = Math.abs(v) >= 1e8 ? [1e8, lang === 'zh' ? '亿' : '×10⁸ '] : Math.abs(v) >= 1e4 ? [1e4, lang === 'zh' ? '万' : '×10⁴ '] : [1, '']
        return `${(v / d).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 2 })} ${p}${u ?? ''}`
      }
      html += `<h4>${t('gep')} <small>${y} · ${t('gepNote')}</small></h4><table class="gep"><tr><th>${t('item')}</th><th class="n">${t('quantity')}</th><th class="n">${t('value')}</th><th class="n">${t('gepShare')}</th></tr>`
      for (const cat of ['material', 'regulating', 'cultural', 'stock']) {
        const items = mine.filter((r) => r.category === cat && r.item !== '*' && !r.part_of)
        if (!items.length) continue
        const sub = mine.find((r) => r.category === cat && r.item === '*')
        html += `<tr class="cat"><td>${t(cat)}</td><td></td><td class="n">${sub ? wan(sub.value_yuan) : ''}</td><td class="n">${sub && total ? pctf(sub.value_yuan / total) : ''}</td></tr>`
        html += items.map((r) => `<tr data-gep="${esc(r.item_id)}"><td>${esc(r.item)}</td><td class="n">${esc(qty(r.quantity, r.quantity_unit))}</td><td class="n">${wan(r.value_yuan)}</td><td class="n">${r.value_yuan != null && total && cat !== 'stock' ? pctf(r.value_yuan / total) : ''}</td></tr>`).join('')
        for (const r of items) table.push([t('gep'), r.item, String(y), r.value_yuan ?? 0, r.value_yuan != null && total ? r.value_yuan / total : 0])
      }
      html += `<tr class="cat" data-gep="gep"><td>GEP</td><td></td><td class="n">${wan(total)}</td><td class="n">100%</td></tr></table>`
    }
  }
  if (state.comp) {
    const c = state.comp
    const cu = c.units.find((x) => x.unit_code === code)
    if (cu) {
      const wan = (v) => (v / 1e4).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
      const rows = c.rows.filter((r) => r.unit_code === code)
      html += `<h4>${t('comp')} <small>${esc(t('rules')[c.rule] ?? c.rule)} · ${t('compNote')}</small></h4><table class="comp"><tr><th>${t('programme')}</th><th class="n">${t('claimed')} ${unitName()}</th><th class="n">${t('paid')} ${unitName()}</th><th class="n">${t('rate')}</th><th class="n">${t('compAmount')}</th></tr>`
      html += rows.map((r) => `<tr data-programme="${esc(r.programme)}"><td title="${esc(r.programme)}">${esc(r.programme_name)}${r.class && rows.filter((x) => x.programme === r.programme).length > 1 ? `（${esc(r.class)}）` : ''}</td><td class="n" data-m2="${r.claimed_m2}">${fmtArea(r.claimed_m2)}</td><td class="n" data-m2="${r.paid_m2}">${fmtArea(r.paid_m2)}</td><td class="n">${esc(r.rate)} ${esc(r.rate_unit)}</td><td class="n">${wan(r.amount_yuan)}</td></tr>`).join('')
      html += `<tr class="cat" data-comp="total"><td>${t('compTotal')}</td><td></td><td class="n" data-m2="${cu.paid_m2}">${fmtArea(cu.paid_m2)}</td><td></td><td class="n">${wan(cu.amount_yuan)}</td></tr>`
      html += `<tr data-comp="double"><td>${t('doubleCounted')}</td><td></td><td class="n" data-m2="${cu.double_counted_m2}">${fmtArea(cu.double_counted_m2)}</td><td></td><td class="n">${wan(cu.double_counted_yuan)}</td></tr>`
      html += `<tr data-comp="if-sum"><td>${t('ifSum')}</td><td></td><td></td><td></td><td class="n">${wan(cu.amount_if_sum_yuan)}</td></tr></table>`
      const pairs = c.pairs.filter((p) => p.unit_code === code)
      if (pairs.length) html += `<table class="comp-pairs"><tr><th>${t('paidBy')}</th><th>${t('alsoBy')}</th><th class="n">${t('area')} ${unitName()}</th><th class="n">${t('compDoubleYuan')}</th></tr>${pairs.map((p) => `<tr><td>${esc(p.paid_by_name)}</td><td>${esc(p.also_covered_by_name)}</td><td class="n" data-m2="${p.area_m2}">${fmtArea(p.area_m2)}</td><td class="n">${wan(p.yuan)}</td></tr>`).join('')}</table>`
      const lines = c.explanation.filter((e) => e.unit_code === code)
      html += `<details class="comp-why"><summary>${lang === 'zh' ? '计算说明' : 'Explanation'}</summary><ol>${lines.map((l) => `<li>${esc(lang === 'zh' ? l.zh : l.en)}</li>`).join('')}</ol></details>`
      for (const r of rows) table.push([t('comp'), `${r.programme_name} ${r.class}`, String(r.year), r.paid_m2, r.amount_yuan])
    }
  }
  const runs = [['coverage', state.coverage.runId], ...[...state.change].map(([l, c]) => [`change ${l}`, c.runId]), ...[...state.zonal].map(([s, z]) => [`zonal ${s}`, z.runId]), ...(state.gep ? [['gep', state.gep.runId]] : []), ...(state.comp ? [['compensation', state.comp.runId]] : [])]
  html += `<p class="runs">${t('run')}: ${runs.map(([what, id]) => `<a href="/api/runs/${id}" target="_blank" title="${esc(what)}">#${id}</a>`).join(' ')}</p>
 <p class="dl">${t('download')}: <a href="#" id="dl-csv">CSV</a> <a href="#" id="dl-xlsx-table">XLSX</a> · ${t('downloadRun')}: <a href="/api/runs/${state.coverage.runId}/result?format=csv">CSV</a> <a href="/api/runs/${state.coverage.runId}/result?format=xlsx" id="dl-xlsx">XLSX</a></p>`
  $('details-body').innerHTML = html
  $('details').hidden = false
  state.detailRows = table
  $('dl-csv').onclick = (e) => { e.preventDefault(); downloadCsv(code) }
  $('dl-xlsx-table').onclick = (e) => { e.preventDefault(); downloadXlsx(code).catch(report) }
  $('dl-report').onclick = () => downloadReport(code).catch((e) => { $('report-msg').textContent = e.message })
  for (const li of $('rank').querySelectorAll('li')) li.classList.toggle('sel', li.dataset.code === code)
  saveUrl()
}

/** The unit's printable report (PDF rendered by the server's Chromium), saved as a file. */
async function downloadReport(code) {
  $('report-msg').textContent = t('computing')
  const q = new URLSearchParams({ units: state.set.name, unit: code, lang, format: 'pdf' })
  const res = await fetch(`/api/report?${q}`, withKey())
  if (!res.ok) throw new Error(`${res.status}: ${(await res.json().catch(() => ({}))).error?.message ?? 'report'}`)
  // a link to save it: a browser may block a download that starts long after the click
  const name = `report-${state.set.name}-${code}.pdf`
  const url = URL.createObjectURL(await res.blob())
  $('report-msg').innerHTML = `<a href="${url}" download="${esc(name)}">${t('save')} ${esc(name)}</a>`
}

/** A layer's display name: its own (`ecocensus layers label`), else its kind's (永久基本农田). */
function displayName(name) {
  const v = byName().get(name)?.at(-1)
  return (lang === 'zh' ? v?.name_zh : v?.name_en) ?? (v ? kindLabel(v.kind) : '')
}
/** A layer as people name it, then its id. */
function layerLabel(name) {
  const d = displayName(name)
  return `${d ? `${esc(d)} ` : ''}<small class="id">${esc(name)}</small>`
}

/** Bars of each layer's share (latest vintage) as inline SVG. */
function chart(rows) {
  const latest = new Map()
  for (const r of rows) if (!latest.has(r.layer) || r.vintage > latest.get(r.layer).vintage) latest.set(r.layer, r)
  const items = [...latest.values()]
  const w = 290, bh = 14, gap = 4
  const h = items.length * (bh + gap)
  const kindOf = (name) => byName().get(name)?.at(-1)?.kind
  return `<svg class="chart" width="${w}" height="${h}" role="img" aria-label="${t('chart')}">${items.map((r, i) => {
    const y = i * (bh + gap)
    const bw = Math.max(1, Math.min(1, r.share) * (w - 130))
    return `<text x="0" y="${y + 11}" font-size="11">${esc(r.layer)}</text><rect x="90" y="${y}" width="${bw}" height="${bh}" fill="${KINDS[kindOf(r.layer)]?.color ?? '#888'}"/><text x="${94 + bw}" y="${y + 11}" font-size="11">${pctf(r.share)}</text>`
  }).join('')}</svg>`
}

/** Share of the unit per vintage, one line per layer with two vintages or more (SVG). */
function seriesChart(rows) {
  const series = new Map()
  for (const r of rows) (series.get(r.layer) ?? series.set(r.layer, []).get(r.layer)).push(r)
  const lines = [...series].filter(([, xs]) => xs.length > 1).map(([layer, xs]) => [layer, xs.sort((a, b) => yearOf(a.vintage) - yearOf(b.vintage))])
  if (!lines.length) return ''
  const years = lines.flatMap(([, xs]) => xs.map((r) => yearOf(r.vintage)))
  const y0 = Math.min(...years), y1 = Math.max(...years)
  const top = Math.max(0.05, ...lines.flatMap(([, xs]) => xs.map((r) => r.share)))
  const w = 370, h = 150, l = 48, r = 92, tpad = 8, b = 20
  const X = (y) => l + ((y - y0) / Math.max(1e-9, y1 - y0)) * (w - l - r)
  const Y = (v) => tpad + (1 - v / top) * (h - tpad - b)
  const kindOf = (name) => byName().get(name)?.at(-1)?.kind
  const ticks = [...new Set(lines.flatMap(([, xs]) => xs.map((r) => r.vintage)))].sort((a, b) => yearOf(a) - yearOf(b))
  let svg = `<h4>${t('series')}</h4><svg class="series" width="${w}" height="${h}" role="img" aria-label="${t('series')}">`
  svg += `<line x1="${l}" y1="${Y(0)}" x2="${w - r}" y2="${Y(0)}" stroke="#99a"/><text x="${l - 4}" y="${Y(top) + 4}" font-size="10" text-anchor="end">${pctf(top)}</text><text x="${l - 4}" y="${Y(0) + 4}" font-size="10" text-anchor="end">0</text>`
  for (const v of ticks) svg += `<text x="${X(yearOf(v))}" y="${h - 4}" font-size="10" text-anchor="middle">${esc(v)}</text>`
  for (const [layer, xs] of lines) {
    const c = KINDS[kindOf(layer)]?.color ?? '#888'
    svg += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${xs.map((p) => `${X(yearOf(p.vintage)).toFixed(1)},${Y(p.share).toFixed(1)}`).join(' ')}"/>`
    for (const p of xs) svg += `<circle class="pt" cx="${X(yearOf(p.vintage)).toFixed(1)}" cy="${Y(p.share).toFixed(1)}" r="3" fill="${c}" data-layer="${esc(layer)}" data-vintage="${esc(p.vintage)}" data-share="${p.share}"><title>${esc(layer)} ${esc(p.vintage)}: ${pctf(p.share)}</title></circle>`
    const last = xs.at(-1)
    svg += `<text x="${X(yearOf(last.vintage)) + 6}" y="${Y(last.share) + 4}" font-size="10" fill="${c}">${esc(layer)}</text>`
  }
  return `${svg}</svg>`
}

/** A vintage as a year (2023, or 2023-06-30 as a fraction of it) for the time axis. */
function yearOf(v) {
  const m = /^(\d{4})(?:-(\d{2})-(\d{2}))?$/.exec(v)
  if (!m) return NaN
  return Number(m[1]) + (m[2] ? (Date.UTC(+m[1], +m[2] - 1, +m[3]) - Date.UTC(+m[1], 0, 1)) / 864e5 / 365.25 : 0)
}

/** The time slider: the vintages of the statistic's layer; moving it shows the same layer at another vintage. */
function buildTimeSlider() {
  const [kind, spec] = ($('stat').value || '').split('|')
  const [lname, vintage] = (spec ?? '').split('@')
  const versions = kind === 'cov' ? byName().get(lname) ?? [] : []
  $('time-box').hidden = versions.length < 2
  if (versions.length < 2) return
  const i = versions.findIndex((v) => v.vintage === vintage)
  $('time').max = String(versions.length - 1)
  $('time').value = String(Math.max(0, i))
  $('time-label').textContent = `${lname} ${vintage}`
  $('time-ticks').innerHTML = versions.map((v) => `<span>${esc(v.vintage)}</span>`).join('')
  $('time').oninput = () => {
    const v = versions[Number($('time').value)]
    $('stat').value = `cov|${lname}@${v.vintage}`
    paintChoropleth().catch(report)
  }
}

const tableLines = () => [
  ['section', 'item', 'vintage', `area_${areaUnit}`, 'area_m2', 'share'],
  ...state.detailRows.map(([s, i, v, m2, sh]) => [s, i, v, m2 * UNITS[areaUnit].f, m2, sh]),
]
function save(blob, name) {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(a.href), 1000)
}

/** The side panel's table as a workbook (ExcelJS, loaded on first use from /vendor). */
async function downloadXlsx(code) {
  if (!window.ExcelJS) {
    await new Promise((resolve, reject) => {
      const s = document.createElement('script')
      s.src = '/vendor/exceljs/exceljs.min.js'
      s.onload = resolve
      s.onerror = () => reject(new Error('cannot load /vendor/exceljs/exceljs.min.js'))
      document.head.append(s)
    })
  }
  const wb = new window.ExcelJS.Workbook()
  const ws = wb.addWorksheet(code)
  for (const line of tableLines()) ws.addRow(line)
  ws.getRow(1).font = { bold: true }
  ws.columns.forEach((c, i) => { c.width = i < 2 ? 22 : 16 })
  ws.getColumn(4).numFmt = '#,##0.00'
  ws.getColumn(5).numFmt = '#,##0.00'
  ws.getColumn(6).numFmt = '0.00%'
  save(new Blob([await wb.xlsx.writeBuffer()], { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }), `${state.set.name}-${code}.xlsx`)
}

/** 'redline@2023∪forest@2023' → '2023' (or '2020, 2023' where the union names several years). */
function unionYears(vintage) {
  return [...new Set(String(vintage ?? '').split('∪').map((m) => m.split('@').pop()))].join(', ')
}

function downloadCsv(code) {
  const csv = csvText(tableLines())
  save(new Blob([csv], { type: 'text/csv;charset=utf-8' }), `${state.set.name}-${code}.csv`)
}

// ---- transfer payment: factors workbook, allocation with explanations --------------------------
async function initMoney() {
  const setName = () => state.set?.name ?? $('unitset').value
  // fetched (with the session's key) and saved, so that an error is shown here instead of
  // replacing the viewer with the error's JSON
  const factorsFile = async (format) => {
    const res = await fetch(`/api/factors?units=${encodeURIComponent(setName())}&format=${format}`, withKey())
    if (!res.ok) throw new Error(`${res.status}: ${(await res.json().catch(() => ({}))).error?.message ?? 'factors'}`)
    save(await res.blob(), `factors-${setName()}.${format}`)
  }
  $('factors-xlsx').onclick = (e) => { e.preventDefault(); factorsFile('xlsx').catch(report) }
  $('factors-csv').onclick = (e) => { e.preventDefault(); factorsFile('csv').catch(report) }
  const example = await getJson('/api/allocations/example').then((r) => r.body, () => null)
  if (example) $('alloc-config').value = JSON.stringify({ ...example, units: setName() }, null, 1)
  const config = () => {
    try {
      return JSON.parse($('alloc-config').value)
    } catch (err) {
      throw new Error(`JSON: ${err.message}`)
    }
  }
  const post = (format) => fetch(`/api/allocations?format=${format}`, withKey({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config()) }))
  $('alloc-run').onclick = async () => {
    const msg = $('alloc-msg')
    msg.className = 'hint'
    msg.textContent = t('computing')
    try {
      const res = await post('json')
      const body = await res.json()
      if (!res.ok) throw new Error(`${res.status}: ${body.error?.message}`)
      const a = body.allocation
      msg.textContent = a.warnings.join(' ')
      const total = a.units.reduce((s, u) => s + Math.round(u.amount * 100), 0) / 100
      const money = (x) => x.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
      $('alloc-result').innerHTML = `<table><tr><th>${t('unit')}</th><th class="n">${t('share')}</th><th class="n">${t('amount')}</th></tr>
        ${a.units.map((u) => `<tr class="unit" data-code="${esc(u.unit_code)}"><td>${esc(u.unit_name ?? '')} ${esc(u.unit_code)}</td><td class="n">${pctf(u.adjusted_share)}</td><td class="n" data-amount="${u.amount}">${money(u.amount)}</td></tr>
        <tr class="expl" hidden><td colspan="3"><ol>${u.explanation.map((l) => `<li>${esc(lang === 'zh' ? l.zh ?? l.text : l.text)}</li>`).join('')}</ol></td></tr>`).join('')}
        <tr><th>${t('total')}</th><th></th><th class="n" data-total="${total}">${money(total)}</th></tr></table>`
      for (const tr of $('alloc-result').querySelectorAll('tr.unit')) tr.onclick = () => { tr.nextElementSibling.hidden = !tr.nextElementSibling.hidden }
    } catch (err) {
      msg.className = 'err'
      msg.textContent = err.message
    }
  }
  $('alloc-xlsx').onclick = async () => {
    try {
      const res = await post('xlsx')
      if (!res.ok) throw new Error(`${res.status}: ${(await res.json()).error?.message}`)
      save(await res.blob(), `allocation-${setName()}.xlsx`)
    } catch (err) {
      $('alloc-msg').className = 'err'
      $('alloc-msg').textContent = err.message
    }
  }
}

// ---- upload ----------------------------------------------------------------------------------
/** Alerts (docs/alerts.md): the sample's rules to edit, run over the current set; the list
 *  selects and zooms; the lost (or gained) ground is drawn in magenta, unlike any layer. */
async function initAlerts() {
  const example = await getJson('/api/alerts/example').then((r) => r.body, () => null)
  if (example) $('alert-rules').value = JSON.stringify({ rules: example.rules }, null, 1)
  $('alert-run').onclick = async () => {
    const msg = $('alert-msg')
    msg.className = 'hint'
    msg.textContent = t('computing')
    try {
      let doc
      try { doc = JSON.parse($('alert-rules').value) } catch (err) { throw new Error(`JSON: ${err.message}`) }
      const res = await fetch('/api/alerts?format=json', withKey({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: state.set.name, rules: doc }) }))
      const body = await res.json()
      if (!res.ok) throw new Error(`${res.status}: ${body.error?.message}`)
      const patches = await getJson(`/api/alerts/${body.run.id}/patches`)
      if (map.getLayer('alert-fill')) { map.removeLayer('alert-fill'); map.removeLayer('alert-line') }
      if (map.getSource('alert-patches')) map.removeSource('alert-patches')
      map.addSource('alert-patches', { type: 'geojson', data: patches.body })
      map.addLayer({ id: 'alert-fill', type: 'fill', source: 'alert-patches', paint: { 'fill-color': '#e7298a', 'fill-opacity': ['case', ['boolean', ['feature-state', 'on'], false], 0.75, 0.45] } }, map.getLayer('sections-pt') ? 'sections-pt' : undefined)
      map.addLayer({ id: 'alert-line', type: 'line', source: 'alert-patches', paint: { 'line-color': '#67001f', 'line-width': 1.2 } }, map.getLayer('sections-pt') ? 'sections-pt' : undefined)
      state.alerts = { runId: body.run.id, rows: body.alerts, patches: patches.body }
      msg.textContent = body.alerts.length ? `${body.alerts.length} ${t('alertCount')} · ${body.checked} ${t('checks')} · ${t('run')} ${body.run.id}` : `${t('alertNone')} · ${body.checked} ${t('checks')}`
      const num = (a) => (a.measure.endsWith('_m2') ? `${fmtArea(a.value)} ${unitName()}` : a.measure.endsWith('_pct') ? `${a.value.toFixed(2)}%` : a.value.toFixed(3))
      $('alert-list').innerHTML = body.alerts.map((a, i) => `<li data-i="${i}" data-code="${esc(a.unit_code)}" data-rule="${esc(a.rule)}"><b>${esc(a.rule_name ?? a.rule)}</b><br>${esc(a.unit_name ?? '')} <small>${esc(a.unit_code)}</small> · ${esc(a.from_vintage)}→${esc(a.to_vintage)} · ${num(a)}${a.patches ? ` · ${a.patches} ▱` : ''}</li>`).join('')
      for (const li of $('alert-list').querySelectorAll('li')) {
        li.onclick = () => {
          for (const x of $('alert-list').querySelectorAll('li')) x.classList.toggle('sel', x === li)
          select(li.dataset.code)
          zoomTo(li.dataset.code).catch(report)
        }
      }
    } catch (err) {
      msg.className = 'err'
      msg.textContent = err.message
    }
  }
}

function initUpload() {
  if (!state.config.writes) return
  $('upload-section').hidden = false
  $('up-kind').innerHTML = Object.keys(KINDS).map((k) => `<option value="${k}">${kindLabel(k)}</option>`).join('')
  $('up-key').value = sessionStorage.getItem('ecocensus.key') ?? ''
  $('up-key').onchange = () => {
    sessionStorage.setItem('ecocensus.key', $('up-key').value)
    if (!state.coverage) showSet().catch(report)
  }
  $('upload').onsubmit = async (e) => {
    e.preventDefault()
    const file = $('up-file').files[0]
    const out = $('up-result')
    if (!file) return
    if (file.size > state.config.maxUploadBytes) { out.textContent = `${file.name}: ${file.size} bytes > ${state.config.maxUploadBytes}`; out.className = 'err'; return }
    sessionStorage.setItem('ecocensus.key', $('up-key').value)
    const q = new URLSearchParams({ filename: file.name, name: $('up-name').value, kind: $('up-kind').value, vintage: $('up-vintage').value })
    if ($('up-category').value) q.set('category_field', $('up-category').value)
    out.textContent = t('computing')
    out.className = 'hint'
    try {
      const r = await getJson(`/api/layers?${q}`, { method: 'POST', body: file, headers: { authorization: `Bearer ${$('up-key').value}` } })
      out.textContent = `${t('uploaded')}: ${r.body.layer ?? $('up-name').value} @${r.body.vintage ?? $('up-vintage').value} (${r.body.loaded ?? '?'} features)`
      out.className = 'ok'
      state.layers = (await getJson('/api/layers')).body
      buildLayerPanel()
      buildChangePanel()
      await showSet()
    } catch (err) {
      out.textContent = err.message
      out.className = 'err'
    }
  }
}

// ---- language and units ------------------------------------------------------------------------
function applyI18n() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en'
  $('lang').textContent = lang === 'zh' ? 'EN' : '中文'
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n)
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder)
  for (const el of document.querySelectorAll('.kind[data-kind]')) el.textContent = el.dataset.layerName ? displayName(el.dataset.layerName) : kindLabel(el.dataset.kind)
  for (const o of $('area-unit').options) o.textContent = UNITS[o.value][lang]
}

function refreshText() {
  applyI18n()
  if (state.coverage) { buildStatMenu(); paintChoropleth().catch(report) }
  if (state.selected) select(state.selected)
}

function report(err) {
  console.error(err)
  const p = document.createElement('p')
  p.className = 'err'
  p.textContent = err.message
  $('details-body').prepend(p)
  $('details').hidden = false
}

map.on('load', () => init().catch(report))
