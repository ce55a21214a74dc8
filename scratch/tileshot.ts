import path from 'node:path'
import sharp from 'sharp'
import { openDb } from '../server/db/open.ts'
import { deriveRaster, ingestRaster } from '../server/raster/ingest-raster.ts'
import { findRaster } from '../server/raster/raster-store.ts'
import { rasterTile, tileStyle } from '../tiles/raster-tile.ts'
const db = await openDb({ dataDir: 'memory://' })
const store = '/tmp/shot-store', cache = '/tmp/shot-cache'
const F = 'test/fixtures/raster'
await ingestRaster(db, { file: path.join(F, 'L7_ETMs.tif'), name: 'l7', vintage: '2000', kind: 'continuous', rasterDir: store, replace: true })
await deriveRaster(db, { op: 'ndvi', from: 'l7', red: 3, nir: 4, name: 'ndvi', rasterDir: store, replace: true })
await ingestRaster(db, { file: path.join(F, 'lc.tif'), name: 'lc', vintage: '2001', kind: 'categorical', rasterDir: store, replace: true })
const tileOf = (lon: number, lat: number, z: number) => { const n = 2 ** z; return [Math.round(((lon + 180) / 360) * n), Math.round(((1 - Math.log(Math.tan((lat * Math.PI) / 180) + 1 / Math.cos((lat * Math.PI) / 180)) / Math.PI) / 2) * n)] }
async function mosaic(name: string, lon: number, lat: number, z: number, q: Record<string, string>) {
  const r = await findRaster(db, name)
  const [x, y] = tileOf(lon, lat, z)
  const parts = []
  for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
    const t = await rasterTile(db, store, cache, r, z, x! + dx - 1, y! + dy - 1, tileStyle(r, q))
    parts.push({ input: t.png, left: dx * 256, top: dy * 256 })
  }
  return sharp({ create: { width: 512, height: 512, channels: 4, background: { r: 235, g: 235, b: 235, alpha: 1 } } }).composite(parts).png().toBuffer()
}
const a = await mosaic('ndvi', -34.87, -7.995, 12, { ramp: 'ndvi', range: '-0.5,0.6' })
const b = await mosaic('lc', -66.45, 18.2, 9, {})
await sharp({ create: { width: 1040, height: 512, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 1 } } })
  .composite([{ input: a, left: 0, top: 0 }, { input: b, left: 528, top: 0 }]).png().toFile('docs/raster-tile.png')
await db.close()
