// Identify and the attribute table. A click on a feature of a visible layer shows its
// attributes, category, ellipsoidal area and vintage (from the OGC API item of that feature);
// a layer's features (in the current view, or all) in a table with a filter and sortable
// columns; a click on a row fits the map to it; the rows shown export as GeoJSON or CSV.
import { bboxOf } from './bbox.js'
import { csvText } from './csv.js'

const MERGED = 2 ** 40 // ids of the squares that stand for tiny features at low zoom (tiles/tile-layer.sql)
const PAGE = 1000
const MAX_ROWS = 5000

export function initInspect(ctx) {
  const { map, $, esc, t, fmtArea, unitName, visibleLayers, kindLabel, report, save, onUnit } = ctx
  const popup = new maplibregl.Popup({ className: 'identify', maxWidth: '340px' })
  const item = (name, vintage, fid) => fetch(`/ogc/collections/${encodeURIComponent(`layer:${name}@${vintage}`)}/items/${fid}`).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status}: feature ${fid}`))))

  /** the layer feature under a point, if any: { layer, feature } */
  function layerFeatureAt(point) {
    const ids = visibleLayers().map((l) => l.id).filter((id) => map.getLayer(id))
    if (!ids.length) return null
    const f = map.queryRenderedFeatures(point, { layers: ids })[0]
    if (!f) return null
    return { layer: visibleLayers().find((l) => l.id === f.layer.id), feature: f }
  }

  async function identify(e) {
    const hit = layerFeatureAt(e.point)
    if (!hit) return false
    const { layer, feature } = hit
    const unit = map.getLayer('units-fill') ? map.queryRenderedFeatures(e.point, { layers: ['units-fill'] })[0]?.properties : null
    const head = `<h4 data-identify="${esc(layer.name)}">${esc(kindLabel(layer.kind))} <b>${esc(layer.name)}</b> <small>${esc(layer.vintage)}</small></h4>`
    const unitLink = unit ? `<p class="unit-link"><a href="#" data-unit="${esc(unit.code)}">${t('unit')}: ${esc(unit.name ?? unit.code)} →</a></p>` : ''
    const id = Number(feature.id)
    if (id >= MERGED) {
      const p = feature.properties
      popup.setLngLat(e.lngLat).setHTML(`${head}<p>${t('mergedNote').replace('{n}', p.merged)}</p><p>${t('area')} <b>${fmtArea(p.area_m2)}</b> ${unitName()} · ${esc(p.category ?? '')}</p>${unitLink}`).addTo(map)
    } else {
      popup.setLngLat(e.lngLat).setHTML(`${head}<p class="hint">${t('computing')}</p>`).addTo(map)
      const f = await item(layer.name, layer.vintage, id)
      const { area_m2: area, category, ...attrs } = f.properties
      popup.setHTML(`${head}<table class="attrs" data-fid="${id}">
        <tr><th>${t('area')}</th><td class="n" data-m2="${area}"><b>${fmtArea(area)}</b> ${unitName()}</td></tr>
        ${category != null ? `<tr><th>${t('class')}</th><td data-category="${esc(category)}">${esc(category)}</td></tr>` : ''}
        ${Object.entries(attrs).map(([k, v]) => `<tr><th>${esc(k)}</th><td data-attr="${esc(k)}">${esc(v)}</td></tr>`).join('')}
        <tr><th>id</th><td>${id}</td></tr></table>${unitLink}`)
    }
    const a = popup.getElement()?.querySelector('a[data-unit]')
    if (a) a.onclick = (ev) => { ev.preventDefault(); popup.remove(); onUnit(a.dataset.unit) }
    return true
  }

  // ---- the attribute table ---------------------------------------------------------------
  const box = $('attr')
  let current = null // { layer, rows: [{ id, category, area_m2, attrs, geometry }], keys, sort: [key, dir], total }

  async function openTable(layer) {
    current = { layer, rows: [], keys: [], sort: ['area_m2', -1], total: 0 }
    box.hidden = false
    $('attr-title').innerHTML = `${esc(kindLabel(layer.kind))} <b>${esc(layer.name)}</b> ${esc(layer.vintage)}`
    await loadRows()
  }
  async function loadRows() {
    const { layer } = current
    const b = map.getBounds()
    const inView = $('attr-view').checked
    let url = `/ogc/collections/${encodeURIComponent(`layer:${layer.name}@${layer.vintage}`)}/items?limit=${PAGE}${inView ? `&bbox=${[b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => x.toFixed(6)).join(',')}` : ''}`
    const rows = []
    let total = 0
    $('attr-count').textContent = t('computing')
    while (url && rows.length < MAX_ROWS) {
      const r = await fetch(url)
      if (!r.ok) throw new Error(`${r.status}: ${(await r.json().catch(() => ({}))).error?.message ?? url}`)
      const page = await r.json()
      total = page.numberMatched ?? total
      for (const f of page.features) {
        const { area_m2: area, category, ...attrs } = f.properties
        rows.push({ id: f.id, category: category ?? null, area_m2: area, attrs, geometry: f.geometry })
      }
      url = page.links?.find((l) => l.rel === 'next')?.href ?? null
    }
    const keys = new Set()
    for (const r of rows.slice(0, 500)) for (const k of Object.keys(r.attrs)) keys.add(k)
    Object.assign(current, { rows, keys: [...keys], total })
    render()
  }
  const value = (r, k) => (k === 'id' ? r.id : k === 'category' ? r.category : k === 'area_m2' ? r.area_m2 : r.attrs[k])
  function shownRows() {
    const q = $('attr-filter').value.trim().toLowerCase()
    const rows = q ? current.rows.filter((r) => [r.id, r.category, ...Object.values(r.attrs)].some((v) => String(v ?? '').toLowerCase().includes(q))) : [...current.rows]
    const [k, dir] = current.sort
    rows.sort((a, b) => {
      const x = value(a, k), y = value(b, k)
      if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'zh-CN', { numeric: true })) * dir
    })
    return rows
  }
  function render() {
    const rows = shownRows()
    const cols = ['id', 'category', 'area_m2', ...current.keys]
    const label = (k) => (k === 'area_m2' ? `${t('area')} ${unitName()}` : k === 'category' ? t('class') : k)
    const arrow = (k) => (current.sort[0] === k ? (current.sort[1] > 0 ? ' ▲' : ' ▼') : '')
    $('attr-count').textContent = `${rows.length} / ${current.rows.length}${current.total > current.rows.length ? ` (${t('of')} ${current.total})` : ''}`
    $('attr-table').innerHTML = `<thead><tr>${cols.map((k) => `<th data-key="${esc(k)}" class="${k === 'area_m2' || k === 'id' ? 'n' : ''}">${esc(label(k))}${arrow(k)}</th>`).join('')}</tr></thead>
      <tbody>${rows.slice(0, 1000).map((r) => `<tr data-fid="${r.id}" data-m2="${r.area_m2}">${cols.map((k) => (k === 'area_m2' ? `<td class="n">${fmtArea(r.area_m2)}</td>` : `<td class="${k === 'id' ? 'n' : ''}">${esc(value(r, k))}</td>`)).join('')}</tr>`).join('')}</tbody>`
    for (const th of $('attr-table').querySelectorAll('th')) th.onclick = () => { const k = th.dataset.key; current.sort = [k, current.sort[0] === k ? -current.sort[1] : k === 'area_m2' ? -1 : 1]; render() }
    for (const tr of $('attr-table').querySelectorAll('tbody tr')) tr.onclick = () => focus(rows.find((r) => String(r.id) === tr.dataset.fid), tr)
  }
  function focus(r, tr) {
    if (!r) return
    current.keepRows = true // the fit below moves the map: keep these rows
    for (const x of $('attr-table').querySelectorAll('tr.sel')) x.classList.remove('sel')
    tr.classList.add('sel')
    const b = bboxOf(r.geometry)
    const data = { type: 'Feature', properties: {}, geometry: r.geometry }
    if (map.getSource('attr-sel')) map.getSource('attr-sel').setData(data)
    else {
      map.addSource('attr-sel', { type: 'geojson', data })
      map.addLayer({ id: 'attr-sel-line', type: 'line', source: 'attr-sel', paint: { 'line-color': '#00e5ff', 'line-width': 3 } })
    }
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 80, maxZoom: 14, duration: 500 })
  }
  function exportRows(format) {
    const rows = shownRows()
    const { layer } = current
    const name = `${layer.name}-${layer.vintage}-${rows.length}`
    if (format === 'geojson') {
      const fc = { type: 'FeatureCollection', features: rows.map((r) => ({ type: 'Feature', id: r.id, properties: { ...r.attrs, category: r.category, area_m2: r.area_m2, area_ha: Math.round(r.area_m2 / 100) / 100 }, geometry: r.geometry })) }
      return save(new Blob([JSON.stringify(fc)], { type: 'application/geo+json' }), `${name}.geojson`)
    }
    const cols = ['id', 'category', ...current.keys, 'area_m2', 'area_ha', 'area_mu']
    const lines = [cols, ...rows.map((r) => cols.map((k) => (k === 'area_ha' ? (r.area_m2 / 1e4).toFixed(2) : k === 'area_mu' ? ((r.area_m2 * 15) / 1e4).toFixed(2) : value(r, k))))]
    save(new Blob([csvText(lines)], { type: 'text/csv;charset=utf-8' }), `${name}.csv`)
  }
  $('attr-filter').oninput = () => current && render()
  $('attr-view').onchange = () => current && loadRows().catch(report)
  $('attr-close').onclick = () => { box.hidden = true; current = null; if (map.getLayer('attr-sel-line')) { map.removeLayer('attr-sel-line'); map.removeSource('attr-sel') } }
  $('attr-geojson').onclick = () => current && exportRows('geojson')
  $('attr-csv').onclick = () => current && exportRows('csv')
  map.on('moveend', () => {
    if (!current || !$('attr-view').checked) return
    if (current.keepRows) return void (current.keepRows = false)
    loadRows().catch(report)
  })

  return { identify, openTable, layerFeatureAt }
}
