// Minimal viewer: unit sets from the API as a choropleth of one layer's coverage share;
// click a unit to see every layer's coverage for it. No basemap (works offline).
const $ = (id) => document.getElementById(id)
const BREAKS = [0.1, 0.2, 0.3, 0.5]
const COLOURS = ['#edf8e9', '#bae4b3', '#74c476', '#31a354', '#006d2c']
const ha = (m2) => (m2 / 1e4).toLocaleString('zh-CN', { maximumFractionDigits: 1 })

async function getJson(url) {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status} ${(await res.json().catch(() => ({}))).error?.message ?? ''}`)
  return res.json()
}

const map = new maplibregl.Map({
  container: 'map',
  style: { version: 8, sources: {}, layers: [{ id: 'bg', type: 'background', paint: { 'background-color': '#dfe6ee' } }] },
  center: [118.2, 29.9],
  zoom: 7,
})
window.ecomap = map // for the browser tests and the console
map.addControl(new maplibregl.NavigationControl(), 'top-right')
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }))

let coverageRows = []
let unitSets = []

async function init() {
  const [sets, layers] = await Promise.all([getJson('/api/unit-sets'), getJson('/api/layers')])
  unitSets = sets
  $('unitset').innerHTML = sets.map((s) => `<option value="${s.name}">${s.name} (${s.unit_count})</option>`).join('')
  const latest = new Map()
  for (const l of layers) latest.set(l.name, l)
  $('layer').innerHTML = [...latest.values()].map((l) => `<option value="${l.name}">${l.name} @${l.vintage}</option>`).join('')
  if (latest.has('redline')) $('layer').value = 'redline'
  $('legend').innerHTML = COLOURS.map((c, i) => `<span style="background:${c};color:${i < 2 ? '#333' : '#fff'}">${i === 0 ? '<' + BREAKS[0] * 100 : i === COLOURS.length - 1 ? '≥' + BREAKS[i - 1] * 100 : BREAKS[i - 1] * 100 + '–' + BREAKS[i] * 100}%</span>`).join('')
  await initRasters()
  $('unitset').onchange = () => showSet().catch(report)
  $('layer').onchange = () => paint()
  await showSet()
}

async function showSet() {
  const name = $('unitset').value
  if (!name) return
  const [units, cov] = await Promise.all([getJson(`/api/unit-sets/${encodeURIComponent(name)}/units`), getJson(`/api/stats/coverage?units=${encodeURIComponent(name)}`)])
  coverageRows = cov.rows
  if (map.getSource('units')) map.getSource('units').setData(units)
  else {
    map.addSource('units', { type: 'geojson', data: units, promoteId: 'code' })
    map.addLayer({ id: 'units-fill', type: 'fill', source: 'units', paint: { 'fill-color': '#ccc', 'fill-opacity': 0.85 } })
    map.addLayer({ id: 'units-line', type: 'line', source: 'units', paint: { 'line-color': '#345', 'line-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 0.8] } })
    map.on('click', 'units-fill', (e) => select(e.features[0].properties.code))
    map.on('mouseenter', 'units-fill', () => (map.getCanvas().style.cursor = 'pointer'))
    map.on('mouseleave', 'units-fill', () => (map.getCanvas().style.cursor = ''))
  }
  const set = unitSets.find((s) => s.name === name)
  if (set?.bbox) map.fitBounds([[set.bbox[0], set.bbox[1]], [set.bbox[2], set.bbox[3]]], { padding: 20, duration: 0 })
  paint()
  if ($('raster').value) await showRaster()
  document.body.dataset.ready = '1'
}

function paint() {
  const layer = $('layer').value
  const expr = ['match', ['get', 'code']]
  for (const r of coverageRows) if (r.layer === layer) {
    const k = BREAKS.findIndex((b) => r.share < b)
    expr.push(r.unit_code, COLOURS[k === -1 ? COLOURS.length - 1 : k])
  }
  expr.push('#ccc')
  if (map.getLayer('units-fill')) map.setPaintProperty('units-fill', 'fill-color', expr.length > 3 ? expr : '#ccc')
}

// Monitoring rasters as tiles from /tiles/raster (legend colours or a ramp), under the unit
// outlines; clicking a unit then also lists the raster's zonal statistics for it.
let rasters = []
let zonalRows = []
async function initRasters() {
  rasters = await getJson('/api/rasters')
  $('raster').innerHTML = '<option value="">—</option>' + rasters.map((r) => `<option value="${r.name}@${r.vintage}">${r.name} @${r.vintage} (${r.kind === 'categorical' ? '分类' : '连续'})</option>`).join('')
  $('raster').onchange = () => showRaster().catch(report)
}

async function showRaster() {
  const spec = $('raster').value
  if (map.getLayer('raster')) map.removeLayer('raster')
  if (map.getSource('raster')) map.removeSource('raster')
  zonalRows = []
  $('raster-legend').innerHTML = ''
  if (!spec) {
    if (map.getLayer('units-fill')) map.setPaintProperty('units-fill', 'fill-opacity', 0.85)
    if (selected) select(selected)
    return
  }
  const r = rasters.find((x) => `${x.name}@${x.vintage}` === spec)
  map.addSource('raster', { type: 'raster', tiles: [`${location.origin}/tiles/raster/${encodeURIComponent(spec)}/{z}/{x}/{y}.png`], tileSize: 256, bounds: r.extent })
  map.addLayer({ id: 'raster', type: 'raster', source: 'raster', paint: { 'raster-opacity': 0.85, 'raster-resampling': 'nearest' } }, map.getLayer('units-line') ? 'units-line' : undefined)
  if (map.getLayer('units-fill')) map.setPaintProperty('units-fill', 'fill-opacity', 0)
  if (r.kind === 'categorical' && r.legend) $('raster-legend').innerHTML = r.legend.map((e) => `<span><i style="background:${e.color ?? '#999'}"></i>${e.name}</span>`).join('')
  const z = await getJson(`/api/stats/zonal?units=${encodeURIComponent($('unitset').value)}&raster=${encodeURIComponent(spec)}`)
  zonalRows = z.rows
  if (selected) select(selected)
}

let selected
function select(code) {
  if (selected) map.setFeatureState({ source: 'units', id: selected }, { selected: false })
  selected = code
  map.setFeatureState({ source: 'units', id: code }, { selected: true })
  const rows = coverageRows.filter((r) => r.unit_code === code)
  if (!rows.length) return
  $('details').innerHTML = `<h3 data-code="${code}">${rows[0].unit_name ?? ''} ${code}</h3>
    <p>单元面积 ${ha(rows[0].unit_area_m2)} ha</p>
    <table><tr><th>图层 layer</th><th>年份</th><th class="n">面积 ha</th><th class="n">占比</th></tr>
    ${rows.map((r) => `<tr data-layer="${r.layer}"><td>${r.layer}</td><td>${r.vintage}</td><td class="n" data-m2="${r.area_m2}">${ha(r.area_m2)}</td><td class="n">${(r.share * 100).toFixed(2)}%</td></tr>`).join('')}
    </table>${zonalTable(code)}`
}

function zonalTable(code) {
  const rows = zonalRows.filter((r) => r.unit_code === code)
  if (!rows.length) return ''
  if ('class' in rows[0]) {
    return `<h4>${rows[0].raster} @${rows[0].vintage}</h4><table class="zonal"><tr><th>类 class</th><th class="n">面积 ha</th><th class="n">占比</th></tr>
    ${rows.map((r) => `<tr data-class="${r.class}"><td>${r.class_name ?? r.class}</td><td class="n" data-m2="${r.area_m2}">${ha(r.area_m2)}</td><td class="n">${(r.share * 100).toFixed(2)}%</td></tr>`).join('')}</table>`
  }
  const r = rows[0]
  return `<h4>${r.raster} @${r.vintage}</h4><table class="zonal"><tr><td>均值 mean</td><td class="n">${r.mean?.toFixed(4) ?? '—'}</td></tr><tr><td>最小/最大</td><td class="n">${r.min?.toFixed(3) ?? '—'} / ${r.max?.toFixed(3) ?? '—'}</td></tr><tr><td>标准差 stddev</td><td class="n">${r.stddev?.toFixed(4) ?? '—'}</td></tr></table>`
}

function report(err) {
  $('details').innerHTML = `<p style="color:#b00">${err.message}</p>`
  console.error(err)
}

map.on('load', () => init().catch(report))
