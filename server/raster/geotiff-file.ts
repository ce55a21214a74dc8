// Reading a GeoTIFF (or COG) with geotiff.js: what it is (size, bands, sample type,
// compression, tiling, overviews), where it is (the affine geotransform, PixelIsPoint
// handled as GDAL does), its GeoKeys and GDAL nodata, and windows of one band.
// Nothing here reads the whole image: readWindow decodes only the blocks a window meets.
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { fromFile, getDecoder, type GeoTIFF, type GeoTIFFImage } from 'geotiff'
import { BadInput, Unsupported } from '../errors.ts'

/** GDAL order: X = t[0] + col·t[1] + row·t[2]; Y = t[3] + col·t[4] + row·t[5] (pixel corners) */
export type GeoTransform = [number, number, number, number, number, number]

export type SampleType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64'

export const COMPRESSIONS: Record<number, string> = {
  1: 'none', 5: 'lzw', 7: 'jpeg', 8: 'deflate', 32773: 'packbits', 32946: 'deflate', 34887: 'lerc', 50000: 'zstd', 50001: 'webp',
}
// What geotiff.js decodes without optional native/wasm decoders of its own.
const READABLE = new Set(['none', 'lzw', 'deflate', 'packbits', 'jpeg'])

/** largest side (pixels) and block (pixels) accepted: 2²⁰ and 2²⁶ (a 65536-wide strip of 1024 rows) */
const MAX_SIDE = 1 << 20
const MAX_BLOCK = 1 << 26

export interface TiffInfo {
  width: number
  height: number
  bands: number
  sampleType: SampleType
  compression: string
  /** blocks: tiles, or strips (blockWidth = width) */
  tiled: boolean
  blockWidth: number
  blockHeight: number
  /** reduced-resolution images after the first (COG overviews) */
  overviews: { width: number; height: number }[]
  transform: GeoTransform
  geoKeys: Record<string, unknown>
  nodata: number | null
  /** the image's own palette (TIFF ColorMap), value → [r,g,b] */
  colorMap?: Map<number, [number, number, number]>
}

export interface OpenTiff {
  info: TiffInfo
  tiff: GeoTIFF
  image: GeoTIFFImage
  close(): void
}

export async function openTiff(file: string): Promise<OpenTiff> {
  if (!fs.existsSync(file)) throw new BadInput(`${file}: no such file`)
  let tiff: GeoTIFF
  let image: GeoTIFFImage
  try {
    tiff = await fromFile(file)
    image = await tiff.getImage(0)
  } catch (err) {
    throw new BadInput(`${file}: not a readable TIFF (${(err as Error).message})`)
  }
  const close = () => {
    void (tiff as unknown as { close?: () => unknown }).close?.()
  }
  try {
    await checkBlocks(file, tiff)
    const info = await describe(file, tiff, image)
    return { info, tiff, image, close }
  } catch (err) {
    close()
    throw err
  }
}

/** Every strip or tile of every image must lie inside the file: offsets and byte counts that
 *  point past its end are refused before anything is read (geotiff.js would read zeros). */
async function checkBlocks(file: string, tiff: GeoTIFF): Promise<void> {
  const size = fs.statSync(file).size
  const count = await tiff.getImageCount()
  for (let i = 0; i < count; i++) {
    const img = await tiff.getImage(i)
    const fd = img.getFileDirectory()
    const tiled = img.isTiled
    const offsets = (await fd.loadValue(tiled ? 'TileOffsets' : 'StripOffsets').catch(() => undefined)) as ArrayLike<number> | undefined
    const counts = (await fd.loadValue(tiled ? 'TileByteCounts' : 'StripByteCounts').catch(() => undefined)) as ArrayLike<number> | undefined
    if (!offsets || !counts) throw new BadInput(`${path.basename(file)}: image ${i} has no ${tiled ? 'tile' : 'strip'} offsets or byte counts`)
    if (offsets.length !== counts.length) throw new BadInput(`${path.basename(file)}: image ${i} lists ${offsets.length} ${tiled ? 'tile' : 'strip'} offsets but ${counts.length} byte counts`)
    for (let k = 0; k < offsets.length; k++) {
      const end = Number(offsets[k]) + Number(counts[k])
      if (!(end <= size)) throw new BadInput(`${path.basename(file)}: ${tiled ? 'tile' : 'strip'} ${k} of image ${i} lies at bytes ${offsets[k]}–${end}, past the end of the ${size}-byte file: its offsets lie or the file is truncated`)
    }
  }
}

async function describe(file: string, tiff: GeoTIFF, image: GeoTIFFImage): Promise<TiffInfo> {
  const fd = image.getFileDirectory()
  const code = Number(fd.getValue('Compression') ?? 1)
  const compression = COMPRESSIONS[code] ?? `code ${code}`
  if (!READABLE.has(compression)) throw new Unsupported(`${file}: ${compression} compression is not supported; use none, LZW, DEFLATE or PackBits (gdal_translate -co COMPRESS=DEFLATE)`)
  const [w, h, bw, bh] = [image.getWidth(), image.getHeight(), image.getTileWidth(), image.getTileHeight()]
  // refused before anything is allocated: sizes no real monitoring raster has
  if (!(w >= 1 && h >= 1 && w <= MAX_SIDE && h <= MAX_SIDE)) throw new BadInput(`${file}: ${w}×${h} pixels is not a plausible raster (each side 1..${MAX_SIDE})`)
  if (!(bw >= 1 && bh >= 1) || bw * bh > MAX_BLOCK) throw new BadInput(`${file}: blocks of ${bw}×${bh} pixels are not plausible (at most ${MAX_BLOCK} pixels a block); rewrite it tiled (gdal_translate -co TILED=YES)`)
  const bands = image.getSamplesPerPixel()
  if (!(bands >= 1 && bands <= 1000)) throw new BadInput(`${file}: ${bands} samples per pixel is not plausible`)
  const sampleType = sampleTypeOf(file, image, bands)
  const geoKeys = (image.getGeoKeys() ?? {}) as Record<string, unknown>
  const transform = transformOf(file, image, geoKeys)
  const count = await tiff.getImageCount()
  const overviews: { width: number; height: number }[] = []
  for (let i = 1; i < count; i++) {
    const o = await tiff.getImage(i)
    // masks (NewSubfileType bit 2) are not overviews
    const sub = Number(o.getFileDirectory().getValue('NewSubfileType') ?? 0)
    if (sub & 4) continue
    overviews.push({ width: o.getWidth(), height: o.getHeight() })
  }
  let colorMap: Map<number, [number, number, number]> | undefined
  const photometric = Number(fd.getValue('PhotometricInterpretation') ?? 1)
  if (photometric === 3) {
    const cm = (await fd.loadValue('ColorMap')) as ArrayLike<number> | undefined
    if (cm && cm.length % 3 === 0) {
      const n = cm.length / 3
      colorMap = new Map()
      for (let v = 0; v < n; v++) colorMap.set(v, [cm[v]! >> 8, cm[n + v]! >> 8, cm[2 * n + v]! >> 8])
    }
  }
  return {
    width: image.getWidth(),
    height: image.getHeight(),
    bands,
    sampleType,
    compression,
    tiled: image.isTiled,
    blockWidth: image.getTileWidth(),
    blockHeight: image.getTileHeight(),
    overviews,
    transform,
    geoKeys,
    nodata: image.getGDALNoData(),
    colorMap,
  }
}

function sampleTypeOf(file: string, image: GeoTIFFImage, bands: number): SampleType {
  const format = image.getSampleFormat(0)
  const bits = image.getBitsPerSample(0)
  for (let b = 1; b < bands; b++) {
    if (image.getSampleFormat(b) !== format || image.getBitsPerSample(b) !== bits) throw new Unsupported(`${file}: bands of different sample types are not supported`)
  }
  const t = format === 3 ? `float${bits}` : `${format === 2 ? 'int' : 'uint'}${bits}`
  if (!['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'].includes(t)) {
    throw new Unsupported(`${file}: ${bits}-bit ${format === 3 ? 'float' : 'integer'} samples are not supported (8/16/32-bit integer, 32/64-bit float)`)
  }
  return t as SampleType
}

/** The geotransform from ModelTransformation or ModelPixelScale + ModelTiepoint. */
function transformOf(file: string, image: GeoTIFFImage, keys: Record<string, unknown>): GeoTransform {
  const fd = image.getFileDirectory()
  const m = fd.getValue('ModelTransformation') as ArrayLike<number> | undefined
  const scale = fd.getValue('ModelPixelScale') as ArrayLike<number> | undefined
  const tie = fd.getValue('ModelTiepoint') as ArrayLike<number> | undefined
  let t: GeoTransform
  if (m && m.length >= 16) {
    t = [m[3]!, m[0]!, m[1]!, m[7]!, m[4]!, m[5]!]
  } else if (scale && tie && tie.length >= 6) {
    if (tie.length > 6) throw new Unsupported(`${file}: georeferenced by ${tie.length / 6} tie points (GCPs); warp it to a grid first (gdalwarp)`)
    const [i, j, , x, y] = [tie[0]!, tie[1]!, tie[2]!, tie[3]!, tie[4]!]
    t = [x - i * scale[0]!, scale[0]!, 0, y + j * scale[1]!, 0, -scale[1]!]
  } else {
    throw new BadInput(`${file}: the TIFF has no georeferencing (no ModelTransformation, ModelPixelScale or ModelTiepoint tag)`)
  }
  // PixelIsPoint: the tie point is a pixel centre; GDAL shifts by half a pixel.
  if (keys.GTRasterTypeGeoKey === 2) {
    t = [t[0] - 0.5 * t[1] - 0.5 * t[2], t[1], t[2], t[3] - 0.5 * t[4] - 0.5 * t[5], t[4], t[5]]
  }
  const det = t[1] * t[5] - t[2] * t[4]
  if (!t.every(Number.isFinite) || det === 0) throw new BadInput(`${file}: the geotransform [${t.join(', ')}] is degenerate`)
  return t
}

/**
 * One band's values in the window [x0, x1) × [y0, y1), row-major. geotiff.js decodes the
 * blocks (decompression, predictor); the window is assembled here with row copies
 * (TypedArray.set) instead of geotiff.js's per-pixel DataView reads, which cost ~35 ns a
 * pixel. Big-endian files and JPEG go through geotiff.js's readRasters.
 */
export async function readWindow(
  image: GeoTIFFImage, band: number, x0: number, y0: number, x1: number, y1: number, signal?: AbortSignal,
): Promise<ArrayLike<number>> {
  const fast = await fastReader(image)
  if (!fast) {
    const r = await image.readRasters({ window: [x0, y0, x1, y1], samples: [band], interleave: false, signal } as never)
    return (r as unknown as ArrayLike<number>[])[0]!
  }
  const { decoder, Type, spp, planar } = fast
  const w = x1 - x0
  const out = new Type((y1 - y0) * w)
  const tw = image.getTileWidth()
  const th = image.getTileHeight()
  const blocks: Promise<void>[] = []
  for (let ty = Math.floor(y0 / th); ty * th < y1; ty++) {
    for (let tx = Math.floor(x0 / tw); tx * tw < x1; tx++) {
      blocks.push(image.getTileOrStrip(tx, ty, planar === 2 ? band : 0, decoder as never, signal).then((tile) => {
        const data = new Type(tile.data as ArrayBuffer)
        const stride = tw * (planar === 2 ? 1 : spp)
        const ra = Math.max(y0, ty * th)
        const rb = Math.min(y1, (ty + 1) * th)
        // a block shorter than the rows we need: its offset or byte count lies, or the file is
        // cut short; never fill the gap with zeros
        if (data.length < (rb - ty * th) * stride) {
          throw new BadInput(`block ${tx},${ty} of the TIFF holds ${data.length} samples where ${(rb - ty * th) * stride} are needed: its strip/tile offsets or byte counts point past the end of the file, or the file is truncated`)
        }
        const ca = Math.max(x0, tx * tw)
        const cb = Math.min(x1, (tx + 1) * tw)
        for (let r = ra; r < rb; r++) {
          const src = (r - ty * th) * stride
          const dst = (r - y0) * w + (ca - x0)
          if (planar === 2 || spp === 1) out.set(data.subarray(src + (ca - tx * tw), src + (cb - tx * tw)), dst)
          else for (let c = ca, k = src + (ca - tx * tw) * spp + band; c < cb; c++, k += spp) out[dst + c - ca] = data[k]!
        }
      }))
    }
  }
  await Promise.all(blocks)
  return out
}

type Typed = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
interface FastReader {
  decoder: unknown
  Type: { new (n: number | ArrayBuffer): Typed }
  spp: number
  planar: number
}
const fastReaders = new WeakMap<GeoTIFFImage, Promise<FastReader | undefined>>()
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const TYPED: Record<string, FastReader['Type']> = {
  uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array,
}

function fastReader(image: GeoTIFFImage): Promise<FastReader | undefined> {
  let p = fastReaders.get(image)
  if (!p) {
    p = (async () => {
      const fd = image.getFileDirectory()
      const code = Number(fd.getValue('Compression') ?? 1)
      if (!LITTLE || !image.littleEndian || ![1, 5, 8, 32946, 32773].includes(code)) return undefined
      const format = image.getSampleFormat(0)
      const bits = image.getBitsPerSample(0)
      const Type = TYPED[format === 3 ? `float${bits}` : `${format === 2 ? 'int' : 'uint'}${bits}`]
      if (!Type) return undefined
      const params = {
        tileWidth: image.getTileWidth(),
        tileHeight: image.getTileHeight(),
        planarConfiguration: image.planarConfiguration,
        bitsPerSample: await fd.loadValue('BitsPerSample'),
        predictor: (await fd.loadValue('Predictor')) || 1,
      }
      const decoder = await getDecoder(code, params as never)
      const spp = image.getSamplesPerPixel()
      if (code === 8 || code === 32946) {
        // DEFLATE through Node's zlib instead of geotiff.js's pako (JavaScript): ~2× faster on
        // land-cover rasters; geotiff.js still applies the predictor. A block inflates to at
        // most its own size, whatever its compressed stream claims.
        const most = params.tileWidth * params.tileHeight * (bits / 8) * (image.planarConfiguration === 2 ? 1 : spp)
        ;(decoder as { decodeBlock(b: ArrayBuffer): ArrayBuffer }).decodeBlock = (b: ArrayBuffer) => {
          let out: Buffer
          try {
            out = zlib.inflateSync(new Uint8Array(b), { maxOutputLength: Math.max(1, most) })
          } catch (err) {
            throw new BadInput(`a DEFLATE block of the TIFF does not inflate to at most ${most} bytes: ${(err as Error).message}`)
          }
          return out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out.buffer as ArrayBuffer : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer
        }
      }
      return { decoder, Type, spp, planar: image.planarConfiguration }
    })()
    fastReaders.set(image, p)
  }
  return p
}
