// SYNTHETIC inputs of the sample GEP account over 黄山市 (data/sample/gep.yaml): climate and
// NPP fields on a 1 km grid and a DEM on a 200 m grid, both in EPSG:4527 like the land cover
// (100 m), so that the account resamples them onto the land cover's grid (bilinear, average)
// as it would real products (CMFD/ERA5 precipitation, MOD16 ET, MOD17 NPP, SRTM). The DEM
// follows the land cover's relief noise (valleys farmed, ridges forested, peaks near 1 800 m
// as 黄山's); the fields are smooth gradients of plausible size for southern Anhui. Made up.
//   npx tsx scripts/sample/build-sample-gep.ts
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import proj4 from 'proj4'
import { writeGeoTiff, GEOKEYS } from '../raster/write-geotiff.ts'
import { relief } from './build-sample-rasters.ts'

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'data', 'sample', 'rasters')
const GK39 = '+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs'

const to = proj4('+proj=longlat +ellps=GRS80 +no_defs', GK39)
const [x0, y1] = to.forward([117.0, 30.62]) as [number, number]
const [x1, y0] = to.forward([118.95, 29.38]) as [number, number]
const ox = Math.floor(x0 / 1000) * 1000
const oy = Math.ceil(y1 / 1000) * 1000

function write(name: string, px: number, type: 'float32' | 'int16', f: (x: number, y: number) => number) {
  // one pixel more on every side than the land cover, so bilinear reads reach its edges
  const width = Math.ceil((x1 - ox) / px) + 2
  const height = Math.ceil((oy - y0) / px) + 2
  const file = path.join(OUT, `${name}.tif`)
  writeGeoTiff(file, { width, height, type, tile: 256, compression: 'deflate', transform: [ox - px, px, 0, oy + px, 0, -px], geoKeys: GEOKEYS.epsg(4527), nodata: -9999 },
    (_b, r, c) => f(ox - px + (c + 0.5) * px, oy + px - (r + 0.5) * px))
  console.log(`${file}: ${width}×${height} px of ${px} m, ${fs.statSync(file).size} bytes`)
}

// position in 0..1 across the box: u west→east, v south→north
const u = (x: number) => (x - ox) / (x1 - ox)
const v = (y: number) => (y - y0) / (oy - y0)
for (const year of [2020, 2023]) {
  const wet = year === 2020 ? 1.08 : 1 // 2020 was a wet year in the region (梅雨)
  write(`precip_${year}`, 1000, 'float32', (x, y) => wet * (1650 + 350 * v(y) * (1 - v(y)) * 4 - 150 * u(x) + 120 * Math.sin(u(x) * 7)))
  write(`et_${year}`, 1000, 'float32', (x, y) => 720 + 60 * v(y) + 40 * Math.cos(u(x) * 5))
  write(`npp_${year}`, 1000, 'float32', (x, y) => 560 + 90 * Math.sin(u(x) * 4 + v(y) * 3) + (year === 2023 ? 8 : 0))
}
write('rfactor', 1000, 'float32', (x, y) => 5200 + 900 * (1 - v(y)) + 300 * u(x))
write('kfactor', 1000, 'float32', (x) => 0.028 + 0.006 * Math.sin(u(x) * 6))
// DEM (m) from the land cover's relief, at 200 m
write('dem', 200, 'int16', (x, y) => Math.round(80 + 1750 * Math.pow(relief(Math.round((oy - y) / 100), Math.round((x - ox) / 100)), 1.6)))
