// Builds the hostile-input corpus in test/fixtures/hostile/ (deterministic; commit the output).
//   node --import tsx scripts/hostile/build-hostile.ts
// Each file is what a careless export or an attacker might send; test/hostile.test.ts uploads
// every one and expects a specific 4xx, a live server and an unchanged database.
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { writeZip } from '../../test/helpers/zip.ts'
import { GEOKEYS, writeGeoTiff } from '../raster/write-geotiff.ts'

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const OUT = path.join(ROOT, 'test/fixtures/hostile')
const SRC = path.join(ROOT, 'data/sample/layers/redline_2023')
fs.mkdirSync(OUT, { recursive: true })
const shp = fs.readFileSync(`${SRC}.shp`)
const shx = fs.readFileSync(`${SRC}.shx`)
const dbf = fs.readFileSync(`${SRC}.dbf`)
const prj = fs.readFileSync(`${SRC}.prj`)
const cpg = fs.existsSync(`${SRC}.cpg`) ? fs.readFileSync(`${SRC}.cpg`) : Buffer.from('GBK')
const shapefile = (name: string, parts: { shp?: Buffer; shx?: Buffer; dbf?: Buffer }) =>
  writeZip(path.join(OUT, name), { 'layer.shp': parts.shp ?? shp, 'layer.shx': parts.shx ?? shx, 'layer.dbf': parts.dbf ?? dbf, 'layer.prj': prj, 'layer.cpg': cpg }, true)

// 1. the .shp cut at 60 %
shapefile('truncated-shp.zip', { shp: shp.subarray(0, Math.floor(shp.length * 0.6)) })
// 2. record headers that lie: the 3rd record claims to be 100 MB long
{
  const b = Buffer.from(shp)
  let o = 100
  for (let k = 0; k < 2; k++) o += 8 + b.readInt32BE(o + 4) * 2
  b.writeInt32BE(50_000_000, o + 4)
  shapefile('record-length-lies.zip', { shp: b })
}
// 3. seeded bit flips over the whole .shp (header included)
{
  const b = Buffer.from(shp)
  let seed = 424242
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  for (let k = 0; k < 40; k++) {
    const i = Math.floor(rnd() * 100) // header: file code, length, shape type, bbox
    b[i] = b[i]! ^ (1 << Math.floor(rnd() * 8))
  }
  shapefile('bitflipped-header.zip', { shp: b })
}
// 4. a .dbf whose header claims ten times the records it has
{
  const b = Buffer.from(dbf)
  b.writeUInt32LE(b.readUInt32LE(4) * 10, 4)
  shapefile('dbf-count-lies.zip', { dbf: b })
}
// 5. a zip bomb: 1 GiB of spaces inside a GeoJSON, deflated to about 1 MiB
{
  const chunk = Buffer.alloc(1 << 20, 0x20)
  const parts = [Buffer.from('{"type":"FeatureCollection","features":[')]
  for (let i = 0; i < 1024; i++) parts.push(chunk)
  parts.push(Buffer.from(']}'))
  const body = Buffer.concat(parts)
  writeZip(path.join(OUT, 'zip-bomb.zip'), { 'bomb.geojson': body }, true)
}
// 6. GeoJSON with NaN / Infinity (not JSON) and with 1e308 coordinates (JSON, not Earth)
const ring = (pts: (number | string)[][]) => `[[${pts.map((p) => `[${p.join(',')}]`).join(',')}]]`
fs.writeFileSync(path.join(OUT, 'nan-coordinates.geojson'), `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":${ring([[118, 30], ['NaN', 30], [118.1, 'Infinity'], [118, 30]])}}}]}`)
fs.writeFileSync(path.join(OUT, 'huge-coordinates.geojson'), `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":${ring([[118, 30], [1e308, 30], [118.1, -1e308], [118, 30]])}}}]}`)
// 7. GeometryCollections nested 20 000 deep
{
  const depth = 20_000
  const open = '{"type":"GeometryCollection","geometries":['
  fs.writeFileSync(path.join(OUT, 'nested-collections.geojson'), `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":${open.repeat(depth)}${']}'.repeat(depth)}}]}`)
}
// 8. a GeoTIFF whose strip offsets point past the end of the file
{
  const file = path.join(OUT, 'lying-strip-offsets.tif')
  writeGeoTiff(file, { width: 64, height: 64, type: 'uint8', transform: [118, 0.001, 0, 30.1, 0, -0.001], geoKeys: GEOKEYS.epsg(4490, true) }, () => 1)
  const b = fs.readFileSync(file)
  // find tag 273 (StripOffsets) in the first IFD and move its value(s) far away
  const le = b.toString('latin1', 0, 2) === 'II'
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o))
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o))
  const ifd = u32(4)
  for (let i = 0, n = u16(ifd); i < n; i++) {
    const e = ifd + 2 + i * 12
    if (u16(e) !== 273) continue
    const count = u32(e + 4)
    const type = u16(e + 2)
    const size = type === 3 ? 2 : 4
    const at = count * size <= 4 ? e + 8 : u32(e + 8)
    for (let k = 0; k < count; k++) {
      if (size === 4) (le ? b.writeUInt32LE(0x7ff00000 + k, at + 4 * k) : b.writeUInt32BE(0x7ff00000 + k, at + 4 * k))
      else (le ? b.writeUInt16LE(0xfff0, at + 2 * k) : b.writeUInt16BE(0xfff0, at + 2 * k))
    }
  }
  fs.writeFileSync(file, b)
}
// 10. a GeoTIFF that claims 2 000 000 × 2 000 000 pixels (4·10¹² bytes) in a 4 KiB file
{
  const file = path.join(OUT, 'absurd-dimensions.tif')
  writeGeoTiff(file, { width: 64, height: 64, type: 'uint8', transform: [118, 0.001, 0, 30.1, 0, -0.001], geoKeys: GEOKEYS.epsg(4490, true) }, () => 1)
  const b = fs.readFileSync(file)
  const ifd = b.readUInt32LE(4)
  for (let i = 0, n = b.readUInt16LE(ifd); i < n; i++) {
    const e = ifd + 2 + i * 12
    if ((b.readUInt16LE(e) === 256 || b.readUInt16LE(e) === 257) && b.readUInt16LE(e + 2) === 4) b.writeUInt32LE(2_000_000, e + 8)
  }
  fs.writeFileSync(file, b)
}
// 11. a decompression bomb: one DEFLATE strip of 20 000 × 20 000 zero bytes (400 MB) in ~400 KB
writeGeoTiff(path.join(OUT, 'deflate-bomb.tif'), { width: 20_000, height: 20_000, rowsPerStrip: 20_000, compression: 'deflate', type: 'uint8', transform: [118, 0.0001, 0, 30.1, 0, -0.0001], geoKeys: GEOKEYS.epsg(4490, true) }, () => 0)
// 9. one polygon whose ring has 10⁶ + 1 vertices (a comb: a zig-zag top edge over a straight
// bottom; valid and simple, 0.5° wide), as a zipped GeoJSON
{
  const n = 1_000_000
  const parts: string[] = []
  for (let i = 0; i < n; i++) parts.push(`[${(118 + (i / n) * 0.5).toFixed(7)},${i % 2 ? '30.001' : '30'}]`)
  parts.push('[118.5,29.99]', '[118,29.99]', parts[0]!)
  const body = `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"comb"},"geometry":{"type":"Polygon","coordinates":[[${parts.join(',')}]]}}]}`
  writeZip(path.join(OUT, 'million-vertex-ring.zip'), { 'comb.geojson': Buffer.from(body) }, true)
}
for (const f of fs.readdirSync(OUT).sort()) console.log(`${f}\t${fs.statSync(path.join(OUT, f)).size} bytes`)
void zlib
