import { writeGeoTiff, GEOKEYS } from '../scripts/raster/write-geotiff.ts'
import { openTiff, readWindow } from '../server/raster/geotiff-file.ts'
const f = (b: number, r: number, c: number) => (r * 7 + c * 3 + b * 11) % 250
for (const [name, spec] of Object.entries({
  strip_none: { type: 'uint8', compression: 'none' },
  tile_deflate: { type: 'uint16', compression: 'deflate', tile: 16 },
  strip_packbits_px: { type: 'int16', compression: 'packbits', planar: 'pixel', bands: 3 },
  tile_f32: { type: 'float32', compression: 'deflate', tile: 32, bands: 2, nodata: -9999 },
  rot: { type: 'uint8', transform: [500000, 10, 2, 3000000, 2, -10] },
} as Record<string, any>)) {
  const file = `/tmp/w_${name}.tif`
  writeGeoTiff(file, { width: 50, height: 37, transform: [500000, 10, 0, 3000000, 0, -10], geoKeys: GEOKEYS.epsg(4547), ...spec }, f)
  const t = await openTiff(file)
  let bad = 0
  for (let b = 0; b < t.info.bands; b++) { const v = await readWindow(t.image, b, 3, 5, 50, 37); for (let r = 5; r < 37; r++) for (let c = 3; c < 50; c++) if (v[(r - 5) * 47 + c - 3] !== f(b, r, c)) bad++ }
  console.log(name, t.info.compression, t.info.tiled, t.info.sampleType, t.info.bands, t.info.nodata, t.info.transform.join(','), 'bad', bad)
}
