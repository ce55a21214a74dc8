import sharp from 'sharp'
import { openDb } from '../server/db/open.ts'
import { loadSampleIfEmpty } from '../server/sample.ts'
import { zonal, zonalChange } from '../server/raster/zonal.ts'
import { findRaster } from '../server/raster/raster-store.ts'
import { rasterTile, tileStyle } from '../tiles/raster-tile.ts'
const db = await openDb({ dataDir: 'memory://' })
const store = '/tmp/samp-store'
await loadSampleIfEmpty(db, 1 << 30, console.log, store)
const z = await zonal(db, 'huangshan_counties', 'landcover@2023', { rasterDir: store })
const byUnit = new Map<string, number>()
for (const r of z.rows as any[]) byUnit.set(r.unit_name, (byUnit.get(r.unit_name) ?? 0) + r.share)
console.log([...byUnit].map(([k, v]) => `${k} ${v.toFixed(5)}`).join('; '))
console.log((z.rows as any[]).filter((r) => r.unit_code === '341002').map((r) => `${r.class_name} ${(r.area_m2 / 1e4).toFixed(1)} ha ${(r.share * 100).toFixed(1)}%`).join(', '))
const t = await zonalChange(db, 'huangshan_counties', 'landcover@2020', 'landcover@2023', { rasterDir: store })
console.log((t.rows as any[]).filter((r) => r.unit_code === '341002' && r.changed).map((r) => `${r.from_name}→${r.to_name} ${(r.area_m2 / 1e4).toFixed(1)} ha`).join(', '))
const rec = await findRaster(db, 'landcover@2023')
const parts = []
for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) parts.push({ input: (await rasterTile(db, store, '/tmp/samp-cache', rec, 8, 211 + dx, 105 + dy, tileStyle(rec, {}))).png, left: dx * 256, top: dy * 256 })
await sharp({ create: { width: 512, height: 512, channels: 4, background: { r: 235, g: 235, b: 235, alpha: 1 } } }).composite(parts).png().toFile('/tmp/samp.png')
await db.close()
