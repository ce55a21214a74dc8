// Raster tiles: /tiles/raster/{name}/{z}/{x}/{y}.png in Web Mercator, rendered from the
// source window (nearest neighbour; the coarsest overview that is still at least as fine
// as the tile's pixels), coloured by the legend (categorical) or a ramp over a rescale
// range (continuous), nodata transparent, 256 or 512 px; PNG by sharp; cached on disk
// under the raster's checksum and the style, so a replaced raster never serves old tiles.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import proj4 from 'proj4'
import type { Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { pixelSource, type RasterRecord } from '../raster/raster-store.ts'
import { CGCS2000 } from '../crs/reproject.ts'

const HALF = 20037508.342789244
/** grid step (output pixels) at which positions are projected exactly; linear between */
const STEP = 16
/** largest source window read for one tile */
const MAX_WINDOW = 1 << 26

export const RAMPS: Record<string, [number, number, number][]> = {
  viridis: [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
  ndvi: [[165, 0, 38], [244, 109, 67], [254, 224, 139], [217, 239, 139], [102, 189, 99], [0, 104, 55]],
  greens: [[247, 252, 245], [199, 233, 192], [116, 196, 118], [35, 139, 69], [0, 68, 27]],
  greys: [[0, 0, 0], [255, 255, 255]],
}

export interface TileStyle {
  band: number
  size: 256 | 512
  range?: [number, number]
  ramp: string
  /** terrarium: each pixel's value as elevation, R·256 + G + B/256 − 32768 (MapLibre raster-dem) */
  encoding?: 'terrarium'
}

export interface RenderedTile {
  png: Buffer
  cached: boolean
  /** source pixels read, level used */
  level: number
}

/** The style of a tile request with defaults from the raster. */
export function tileStyle(r: RasterRecord, q: { band?: string; size?: string; range?: string; ramp?: string; encoding?: string }): TileStyle {
  const band = q.band === undefined ? 1 : Number(q.band)
  if (!Number.isInteger(band) || band < 1 || band > r.bands) throw new BadInput(`band ${q.band}: raster '${r.name}' has ${r.bands} band(s)`)
  const size = q.size === undefined ? 256 : Number(q.size)
  if (size !== 256 && size !== 512) throw new BadInput(`size ${q.size}: 256 or 512`)
  const ramp = q.ramp ?? (r.derived ? (r.derived.op === 'ndvi' ? 'ndvi' : 'greens') : 'viridis')
  if (!RAMPS[ramp]) throw new BadInput(`ramp '${ramp}': one of ${Object.keys(RAMPS).join(', ')}`)
  let range: [number, number] | undefined
  if (q.range !== undefined) {
    const [lo, hi] = q.range.split(',').map(Number)
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi! > lo!)) throw new BadInput(`range '${q.range}': lo,hi with lo < hi`)
    range = [lo!, hi!]
  } else if (r.kind === 'continuous') {
    const s = r.band_stats[band - 1]
    range = r.derived?.op === 'ndvi' ? [-1, 1] : r.derived?.op === 'fvc' ? [0, 1] : [s?.min ?? 0, s?.max ?? 1]
    if (!(range[1] > range[0])) range = [range[0], range[0] + 1]
  }
  if (q.encoding !== undefined && q.encoding !== 'terrarium') throw new BadInput(`encoding '${q.encoding}': terrarium`)
  if (q.encoding === 'terrarium') {
    if (r.kind !== 'continuous') throw new BadInput(`encoding terrarium: raster '${r.name}' is ${r.kind}; elevation needs a continuous raster (a DEM)`)
    return { band, size, ramp, encoding: 'terrarium' }
  }
  return { band, size, range, ramp }
}

export async function rasterTile(db: Queryable, rasterDir: string, cacheDir: string, r: RasterRecord, z: number, x: number, y: number, style: TileStyle): Promise<RenderedTile> {
  if (!Number.isInteger(z) || z < 0 || z > 24) throw new BadInput(`zoom ${z}: 0..24`)
  const n = 2 ** z
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= n || y >= n) throw new BadInput(`tile ${z}/${x}/${y} does not exist`)
  const styleKey = crypto.createHash('sha256').update(JSON.stringify({ ...style, legend: r.legend })).digest('hex').slice(0, 12)
  const file = path.join(cacheDir, r.checksum.replace('sha256:', ''), styleKey, String(z), String(x), `${y}.png`)
  if (fs.existsSync(file)) return { png: fs.readFileSync(file), cached: true, level: -1 }
  const { png, level } = await render(db, rasterDir, r, z, x, y, style)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.part`
  fs.writeFileSync(tmp, png)
  fs.renameSync(tmp, file)
  return { png, cached: false, level }
}

async function render(db: Queryable, rasterDir: string, r: RasterRecord, z: number, tx: number, ty: number, style: TileStyle): Promise<{ png: Buffer; level: number }> {
  const size = style.size
  const rgba = Buffer.alloc(size * size * 4)
  // terrarium: outside the raster is 0 m (R 128), transparent
  if (style.encoding === 'terrarium') for (let o = 0; o < rgba.length; o += 4) rgba[o] = 128
  const toRaster = /\+proj=(longlat|latlong)\b/.test(r.crs_proj4) && /GRS80|WGS84/.test(r.crs_proj4) ? undefined : proj4(CGCS2000, r.crs_proj4)
  const t = r.transform
  const det = t[1] * t[5] - t[2] * t[4]
  const tileM = (2 * HALF) / 2 ** z
  // source pixel position of output pixel centres on a coarse grid, exact; bilinear between
  const g = size / STEP + 1
  const gc = new Float64Array(g * g)
  const gr = new Float64Array(g * g)
  let [cmin, cmax, rmin, rmax] = [Infinity, -Infinity, Infinity, -Infinity]
  for (let j = 0; j < g; j++) {
    for (let i = 0; i < g; i++) {
      const mx = -HALF + (tx + (i * STEP) / size) * tileM
      const my = HALF - (ty + (j * STEP) / size) * tileM
      const lon = (mx / HALF) * 180
      const lat = (Math.atan(Math.exp((my / HALF) * Math.PI)) * 360) / Math.PI - 90
      let X = lon
      let Y = lat
      if (toRaster) {
        const p = toRaster.forward([lon, lat]) as [number, number]
        X = p[0]
        Y = p[1]
      }
      const dx = X - t[0]
      const dy = Y - t[3]
      const c = (t[5] * dx - t[2] * dy) / det
      const rr = (-t[4] * dx + t[1] * dy) / det
      gc[j * g + i] = c
      gr[j * g + i] = rr
      if (Number.isFinite(c) && Number.isFinite(rr)) {
        cmin = Math.min(cmin, c); cmax = Math.max(cmax, c); rmin = Math.min(rmin, rr); rmax = Math.max(rmax, rr)
      }
    }
  }
  const empty = async () => ({ png: await encodePng(rgba, size), level: -1 })
  if (!(cmax > 0 && rmax > 0 && cmin < r.width && rmin < r.height)) return empty()
  // the coarsest level whose pixels are no larger than the tile's
  const src = await pixelSource(db, rasterDir, r, style.band)
  const perOut = Math.max((cmax - cmin) / size, (rmax - rmin) / size)
  let level = 0
  let f = 1
  for (let i = 1; ; i++) {
    const l = src.level?.(i)
    if (!l) break
    const fi = r.width / l.width
    if (fi > perOut) break
    level = i
    f = fi
  }
  const lv = src.level?.(level) ?? { width: r.width, height: r.height, read: src.read }
  const x0 = Math.max(0, Math.floor(cmin / f))
  const x1 = Math.min(lv.width, Math.ceil(cmax / f) + 1)
  const y0 = Math.max(0, Math.floor(rmin / f))
  const y1 = Math.min(lv.height, Math.ceil(rmax / f) + 1)
  if ((x1 - x0) * (y1 - y0) > MAX_WINDOW) throw new BadInput(`raster '${r.name}' has no overview coarse enough for zoom ${z} (window ${(x1 - x0)}×${(y1 - y0)} pixels); zoom in, or ingest a COG with overviews (gdaladdo)`)
  const values = await lv.read(x0, y0, x1, y1)
  const ww = x1 - x0
  const colour = painter(r, style, src.nodata)
  for (let py = 0; py < size; py++) {
    const fy = (py + 0.5) / STEP
    const j = Math.min(g - 2, Math.floor(fy))
    const wy = fy - j
    for (let px = 0; px < size; px++) {
      const fx = (px + 0.5) / STEP
      const i = Math.min(g - 2, Math.floor(fx))
      const wx = fx - i
      const k = j * g + i
      const c = (gc[k]! * (1 - wx) + gc[k + 1]! * wx) * (1 - wy) + (gc[k + g]! * (1 - wx) + gc[k + g + 1]! * wx) * wy
      const rr = (gr[k]! * (1 - wx) + gr[k + 1]! * wx) * (1 - wy) + (gr[k + g]! * (1 - wx) + gr[k + g + 1]! * wx) * wy
      if (!(c >= 0 && rr >= 0 && c < r.width && rr < r.height)) continue
      const sc = Math.floor(c / f) - x0
      const sr = Math.floor(rr / f) - y0
      if (sc < 0 || sr < 0 || sc >= ww || sr >= y1 - y0) continue
      colour(values[sr * ww + sc]!, rgba, (py * size + px) * 4)
    }
  }
  return { png: await encodePng(rgba, size), level }
}

/** value → RGBA into out[o..o+3]; nodata stays transparent. */
function painter(r: RasterRecord, style: TileStyle, nodata: number | null): (v: number, out: Buffer, o: number) => void {
  const nd = nodata === null ? NaN : r.sample_type === 'float32' ? Math.fround(nodata) : nodata
  if (style.encoding === 'terrarium') {
    // elevation to 1/256 m; nodata stays transparent (MapLibre reads it as 0 m: -32768 + 32768)
    return (v, out, o) => {
      if (v !== v || v === nd) { out[o] = 128; out[o + 1] = 0; out[o + 2] = 0; out[o + 3] = 0; return }
      const e = Math.max(0, Math.min(65535.99, v + 32768))
      out[o] = Math.floor(e / 256); out[o + 1] = Math.floor(e) % 256; out[o + 2] = Math.floor((e - Math.floor(e)) * 256); out[o + 3] = 255
    }
  }
  if (r.kind === 'categorical') {
    const colours = new Map<number, [number, number, number]>()
    for (const e of r.legend ?? []) if (e.color) colours.set(e.value, [parseInt(e.color.slice(1, 3), 16), parseInt(e.color.slice(3, 5), 16), parseInt(e.color.slice(5, 7), 16)])
    return (v, out, o) => {
      if (v !== v || v === nd) return
      let c = colours.get(v)
      if (!c) {
        // a class without a colour: a stable colour from its value
        const h = Math.imul(v | 0, 2654435761) >>> 0
        c = [64 + (h & 127), 64 + ((h >> 8) & 127), 64 + ((h >> 16) & 127)]
        colours.set(v, c)
      }
      out[o] = c[0]; out[o + 1] = c[1]; out[o + 2] = c[2]; out[o + 3] = 255
    }
  }
  const ramp = RAMPS[style.ramp]!
  const [lo, hi] = style.range!
  const span = hi - lo
  return (v, out, o) => {
    if (v !== v || v === nd) return
    const u = Math.max(0, Math.min(1, (v - lo) / span)) * (ramp.length - 1)
    const i = Math.min(ramp.length - 2, Math.floor(u))
    const w = u - i
    const a = ramp[i]!
    const b = ramp[i + 1]!
    out[o] = a[0] + (b[0] - a[0]) * w
    out[o + 1] = a[1] + (b[1] - a[1]) * w
    out[o + 2] = a[2] + (b[2] - a[2]) * w
    out[o + 3] = 255
  }
}

/** RGBA pixels as PNG; sharp loaded at the first tile, not at start-up (~0.1 s of every CLI call). */
async function encodePng(rgba: Uint8Array | Uint8ClampedArray | Buffer, size: number): Promise<Buffer> {
  const { default: sharp } = await import('sharp')
  return sharp(rgba, { raw: { width: size, height: size, channels: 4 } }).png().toBuffer()
}
