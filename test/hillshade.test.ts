// Relief for the viewer: a DEM of the store served as Terrarium tiles (?encoding=terrarium),
// which MapLibre's raster-dem source shades. Every decoded pixel of a z11 tile over the sample
// DEM (EPSG:4527, Int16, 200 m) is the elevation GDAL reads at that place: the tile pixel's
// centre is taken to the DEM's CRS by gdaltransform (PROJ through GDAL, not our proj4) and
// read by gdallocationinfo. Nodata and outside are 0 m and transparent; a categorical
// raster is refused.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import sharp from 'sharp'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { ingestRaster } from '../server/raster/ingest-raster.ts'
import { findRaster } from '../server/raster/raster-store.ts'
import { rasterTile, tileStyle } from '../server/tiles/raster-tile.ts'
import { ROOT } from '../server/settings.ts'
import { gdalTool, haveGdal } from './helpers/gdal.ts'

const DEM = path.join(ROOT, 'data', 'sample', 'rasters', 'dem.tif')

describe.skipIf(!haveGdal('the hillshade tiles test'))('terrarium tiles of a DEM', () => {
  let db: Db
  let dir: string
  beforeAll(async () => {
    db = await openDb({ dataDir: 'memory://' })
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-hs-'))
    await ingestRaster(db, { file: DEM, name: 'dem', vintage: '2023', kind: 'continuous', rasterDir: dir })
    await ingestRaster(db, { file: path.join(ROOT, 'data', 'sample', 'rasters', 'landcover_2023.tif'), name: 'lc', vintage: '2023', kind: 'categorical', rasterDir: dir })
  }, 120_000)
  afterAll(async () => {
    await db?.close()
  })

  it('each pixel decodes to the elevation GDAL reads at its centre; outside is 0 m, transparent', async () => {
    const rec = await findRaster(db, 'dem@2023')
    const style = tileStyle(rec, { encoding: 'terrarium' })
    // the tile over 祁门 (117.7°E 29.85°N)
    const z = 11
    const n = 2 ** z
    const tx = Math.floor(((117.7 + 180) / 360) * n)
    const ty = Math.floor(((1 - Math.log(Math.tan((29.85 * Math.PI) / 180) + 1 / Math.cos((29.85 * Math.PI) / 180)) / Math.PI) / 2) * n)
    const tile = await rasterTile(db, dir, path.join(dir, 'tiles'), rec, z, tx, ty, style)
    const { data } = await sharp(tile.png).raw().toBuffer({ resolveWithObject: true })
    // pixel centres (every 9th) → lon/lat → EPSG:4527 by GDAL
    const at: number[][] = []
    for (let py = 4; py < 256; py += 9) {
      for (let px = 4; px < 256; px += 9) {
        const lon = ((tx + (px + 0.5) / 256) / n) * 360 - 180
        const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * (ty + (py + 0.5) / 256)) / n))) * 180) / Math.PI
        at.push([px, py, 0, lon, lat])
      }
    }
    const out = await gdalInput('gdaltransform', ['-s_srs', 'EPSG:4490', '-t_srs', 'EPSG:4527'], at.map((a) => `${a[3]} ${a[4]}`).join('\n'))
    const xy = out.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number))
    // the DEM's geotransform as GDAL reports it
    const info = JSON.parse(await gdalTool('gdalinfo', ['-json', DEM])) as { geoTransform: number[]; size: [number, number] }
    const [x0, dx, , y0, , dy] = info.geoTransform as [number, number, number, number, number, number]
    const cells: { px: number; py: number; c: number; r: number }[] = []
    let outside = 0
    at.forEach((a, i) => {
      const c = (xy[i]![0]! - x0) / dx
      const r = (xy[i]![1]! - y0) / dy
      // positions within 0.02 pixel of a DEM pixel edge could fall either side: skipped
      if (Math.abs(c - Math.round(c)) < 0.02 || Math.abs(r - Math.round(r)) < 0.02) return
      if (c < 0 || r < 0 || c >= info.size[0] || r >= info.size[1]) { outside++; return expectZero(data, (a[1]! * 256 + a[0]!) * 4) }
      cells.push({ px: a[0]!, py: a[1]!, c: Math.floor(c), r: Math.floor(r) })
    })
    const values = (await gdalInput('gdallocationinfo', ['-valonly', DEM], cells.map((p) => `${p.c} ${p.r}`).join('\n'))).trim().split('\n').map(Number)
    let checked = 0
    cells.forEach((p, i) => {
      const o = (p.py * 256 + p.px) * 4
      if (values[i] === -9999) return expectZero(data, o)
      const e = data[o]! * 256 + data[o + 1]! + data[o + 2]! / 256 - 32768
      expect(e).toBe(values[i])
      expect(data[o + 3]).toBe(255)
      checked++
    })
    expect(checked).toBeGreaterThan(500)
    expect(new Set(values).size).toBeGreaterThan(100)
    void outside
  })

  it('a tile beyond the DEM is 0 m everywhere; a categorical raster is refused; an unknown encoding is refused', async () => {
    const rec = await findRaster(db, 'dem@2023')
    const tile = await rasterTile(db, dir, path.join(dir, 'tiles'), rec, 11, 0, 0, tileStyle(rec, { encoding: 'terrarium' }))
    const { data } = await sharp(tile.png).raw().toBuffer({ resolveWithObject: true })
    for (let o = 0; o < data.length; o += 4 * 97) expectZero(data, o)
    const lc = await findRaster(db, 'lc@2023')
    expect(() => tileStyle(lc, { encoding: 'terrarium' })).toThrow(/categorical; elevation needs a continuous raster/)
    expect(() => tileStyle(rec, { encoding: 'mapbox' })).toThrow(/encoding 'mapbox': terrarium/)
  })
})

function expectZero(data: Buffer, o: number) {
  expect([data[o], data[o + 1], data[o + 2], data[o + 3]]).toEqual([128, 0, 0, 0])
}

/** a GDAL tool fed lines on stdin (gdaltransform, gdallocationinfo) */
async function gdalInput(tool: string, args: string[], input: string): Promise<string> {
  const { spawn } = await import('node:child_process')
  return new Promise((resolve, reject) => {
    const p = spawn(tool, args)
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${tool}: ${err}`))))
    p.stdin.end(`${input}\n`)
  })
}
