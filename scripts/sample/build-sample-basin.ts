// SYNTHETIC watershed sample (docs/watershed.md): one 街口-like monitoring section on the outer
// boundary of 歙县 (341021) where the 新安江 leaves 黄山市 for 浙江 (downstream code 330127,
// 淳安县, not in the sample's unit set), a year (2024) of made-up monthly samples of the GB 3838
// items the agreements read, with flows, and an agreement using all four templates. The point
// is the nearest point of 歙县's boundary to (118.75°E, 29.80°N) that no other county of the
// sample touches; the values are plausible for a Class II river with one bad month. Made up.
//   npx tsx scripts/sample/build-sample-basin.ts
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { nearestPointOnLine, point, polygonToLine, pointToLineDistance } from '@turf/turf'
import type { Feature, LineString, MultiLineString, MultiPolygon, Polygon } from 'geojson'

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'data', 'sample')
const counties = JSON.parse(fs.readFileSync(path.join(OUT, 'huangshan-counties.geojson'), 'utf8')).features as Feature<Polygon | MultiPolygon, { code: string; name: string }>[]
const shexian = counties.find((c) => c.properties.code === '341021')!
const lines = polygonToLine(shexian as Feature<Polygon>) as Feature<LineString | MultiLineString>
const near = nearestPointOnLine(lines as Feature<LineString>, point([118.75, 29.8]))
const [lon, lat] = near.geometry.coordinates.map((v) => Math.round(v * 1e7) / 1e7) as [number, number]
for (const c of counties) {
  if (c === shexian) continue
  const d = pointToLineDistance(point([lon, lat]), polygonToLine(c as Feature<Polygon>) as Feature<LineString>, { units: 'meters' })
  if (d < 1000) throw new Error(`the section lies ${d.toFixed(0)} m from ${c.properties.name}: move the target point`)
}
fs.writeFileSync(path.join(OUT, 'sections.geojson'), JSON.stringify({
  type: 'FeatureCollection', name: 'sections', crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::4490' } },
  features: [{ type: 'Feature', properties: { code: 'JK01', name: '街口（示例）', river: '新安江', upstream: '341021', downstream: '330127', target_class: 'Ⅱ', water_body: 'river' }, geometry: { type: 'Point', coordinates: [lon, lat] } }],
}, null, 1) + '\n')

// monthly samples of 2024 on the 10th at 10:00 China time; July's storm washes ammonia in
const rows = ['section_code,datetime,indicator,value,unit,flow_m3s']
for (let m = 1; m <= 12; m++) {
  const s = Math.sin(((m - 4) / 12) * 2 * Math.PI) // wet season high
  const flow = Math.round((180 + 140 * s) * 10) / 10
  const at = `2024-${String(m).padStart(2, '0')}-10 10:00`
  const v: Record<string, [number, string]> = {
    ph: [7.4 + 0.1 * s, ''], do: [8.6 - 0.9 * s, 'mg/L'], codmn: [1.9 + 0.3 * s, 'mg/L'], cod: [9 + 2 * s, 'mg/L'], bod5: [1.4 + 0.3 * s, 'mg/L'],
    nh3n: [m === 7 ? 0.62 : 0.14 + 0.05 * s, 'mg/L'], tp: [28 + 8 * s, 'µg/L'], tn: [1.15 + 0.2 * s, 'mg/L'],
  }
  for (const [k, [val, unit]] of Object.entries(v)) rows.push(`JK01,${at},${k},${Math.round(val * 1000) / 1000},${unit},${flow}`)
}
fs.writeFileSync(path.join(OUT, 'series-2024.csv'), rows.join('\n') + '\n')
console.log(`section JK01 at ${lon}, ${lat}; ${rows.length - 1} samples`)
