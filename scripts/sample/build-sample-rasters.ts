// SYNTHETIC land-cover rasters over 黄山市 for the demo: two vintages (2020, 2023) on one
// 100 m grid in CGCS2000 3° Gauss-Krüger zone 39 (EPSG:4527, as the sample layers), classes
// coded after 三调 first-level classes, DEFLATE-compressed GeoTIFFs with a legend CSV.
// Seeded value noise: forest dominant as in the real county, farmland and settlements in
// the valleys; 2023 converts some farmland to settlements and some grassland to forest.
//   npx tsx scripts/sample/build-sample-rasters.ts
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import proj4 from 'proj4'
import { writeGeoTiff, GEOKEYS } from '../raster/write-geotiff.ts'

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'data', 'sample', 'rasters')
const GK39 = '+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs'
const PX = 100
const SEED = 20231123

export const LEGEND = [
  { value: 1, name: '耕地', colour: '#f2d16b' },
  { value: 2, name: '园地', colour: '#c7e07a' },
  { value: 3, name: '林地', colour: '#2e7d32' },
  { value: 4, name: '草地', colour: '#9ccc65' },
  { value: 11, name: '水域', colour: '#1e88e5' },
  { value: 20, name: '城镇村及工矿用地', colour: '#e53935' },
  { value: 12, name: '其他土地', colour: '#bdbdbd' },
]

function hash(x: number, y: number, s: number): number {
  let h = Math.imul(x, 374761393) ^ Math.imul(y, 668265263) ^ Math.imul(s, 2147483647)
  h = Math.imul(h ^ (h >>> 13), 1274126177)
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296
}

/** smooth value noise in 0..1 with features of `scale` pixels */
function noise(r: number, c: number, scale: number, s: number): number {
  const y = r / scale
  const x = c / scale
  const x0 = Math.floor(x)
  const y0 = Math.floor(y)
  const fx = x - x0
  const fy = y - y0
  const sx = fx * fx * (3 - 2 * fx)
  const sy = fy * fy * (3 - 2 * fy)
  const a = hash(x0, y0, s) * (1 - sx) + hash(x0 + 1, y0, s) * sx
  const b = hash(x0, y0 + 1, s) * (1 - sx) + hash(x0 + 1, y0 + 1, s) * sx
  return a * (1 - sy) + b * sy
}

/** the relief noise the classes follow, 0..1 (build-sample-gep.ts makes the DEM from it) */
export const relief = (r: number, c: number) => 0.6 * noise(r, c, 90, SEED) + 0.3 * noise(r, c, 25, SEED + 1) + 0.1 * noise(r, c, 6, SEED + 2)

function classAt(r: number, c: number, vintage: 2020 | 2023): number {
  const relief = 0.6 * noise(r, c, 90, SEED) + 0.3 * noise(r, c, 25, SEED + 1) + 0.1 * noise(r, c, 6, SEED + 2)
  const wet = noise(r, c, 40, SEED + 3)
  const change = noise(r, c, 8, SEED + 4)
  if (wet > 0.83 && relief < 0.45) return 11
  if (relief < 0.3) {
    if (noise(r, c, 12, SEED + 5) > 0.72 || (vintage === 2023 && change > 0.82)) return 20
    return noise(r, c, 10, SEED + 6) > 0.8 ? 2 : 1
  }
  if (relief < 0.36) return vintage === 2023 && change > 0.6 ? 3 : 4
  if (relief > 0.8 && noise(r, c, 5, SEED + 7) > 0.85) return 12
  return 3
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  fs.mkdirSync(OUT, { recursive: true })
  const to = proj4('+proj=longlat +ellps=GRS80 +no_defs', GK39)
  const [x0, y1] = to.forward([117.0, 30.62]) as [number, number]
  const [x1, y0] = to.forward([118.95, 29.38]) as [number, number]
  const ox = Math.floor(x0 / 1000) * 1000
  const oy = Math.ceil(y1 / 1000) * 1000
  const width = Math.ceil((x1 - ox) / PX)
  const height = Math.ceil((oy - y0) / PX)
  for (const vintage of [2020, 2023] as const) {
    const file = path.join(OUT, `landcover_${vintage}.tif`)
    writeGeoTiff(file, { width, height, type: 'uint8', tile: 256, compression: 'deflate', transform: [ox, PX, 0, oy, 0, -PX], geoKeys: GEOKEYS.epsg(4527), nodata: 0 },
      (_b, r, c) => classAt(r, c, vintage))
    console.log(`${file}: ${width}×${height} px of ${PX} m, ${fs.statSync(file).size} bytes`)
  }
  fs.writeFileSync(path.join(OUT, 'landcover_legend.csv'), 'value,name,colour\n' + LEGEND.map((e) => `${e.value},${e.name},${e.colour}`).join('\n') + '\n')
}
