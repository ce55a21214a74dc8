// Raster records in the database and their pixels: a file in the raster store, read
// window by window, or a derived raster (NDVI from two bands, FVC from NDVI) computed
// from its source's windows on read. Open files are kept per process.
import path from 'node:path'
import type { GeoTIFFImage } from 'geotiff'
import type { Queryable } from '../db/db.ts'
import { BadInput, NotFound } from '../errors.ts'
import { compareVintage } from '../catalog/layer-select.ts'
import { openTiff, readWindow, type GeoTransform, type OpenTiff, type SampleType } from './geotiff-file.ts'
import type { LegendEntry } from './legend.ts'
import { CURRENT } from '../catalog/versions.ts'
import { warped, type GridDef, type Resampling } from './warp.ts'

export type RasterKind = 'categorical' | 'continuous'

export type Derivation =
  | { op: 'ndvi'; source: number; red: number; nir: number }
  | { op: 'fvc'; source: number; soil: number; veg: number }

export interface BandStats {
  band: number
  valid: number
  min: number | null
  max: number | null
  mean: number | null
  /** categorical: pixel count per value */
  values?: Record<string, number>
}

export interface RasterRecord {
  id: number
  name: string
  vintage: string
  kind: RasterKind
  file: string
  source_file: string
  checksum: string
  crs: string
  crs_proj4: string
  width: number
  height: number
  bands: number
  sample_type: SampleType
  compression: string
  tiled: boolean
  block_width: number
  block_height: number
  overviews: { width: number; height: number }[]
  transform: GeoTransform
  nodata: number | null
  legend: LegendEntry[] | null
  band_stats: BandStats[]
  derived: Derivation | null
  extent: [number, number, number, number]
  report: Record<string, unknown>
  created_at: string
}

const COLUMNS = `id, name, vintage, kind, file, source_file, checksum, crs, crs_proj4, width, height, bands, sample_type,
  compression, tiled, block_width, block_height, overviews, transform, nodata, legend, band_stats, derived, extent, report,
  created_at::text AS created_at`

export async function listRasters(db: Queryable): Promise<RasterRecord[]> {
  return db.query<RasterRecord>(`SELECT ${COLUMNS} FROM raster_layer WHERE ${CURRENT} ORDER BY name, vintage`)
}

export async function rasterById(db: Queryable, id: number): Promise<RasterRecord> {
  const rows = await db.query<RasterRecord>(`SELECT ${COLUMNS} FROM raster_layer WHERE id = $1`, [id])
  if (!rows.length) throw new NotFound(`no raster with id ${id}`)
  return rows[0]!
}

/** 'NAME' (latest vintage) or 'NAME@VINTAGE'. */
export async function findRaster(db: Queryable, spec: string, what = 'raster'): Promise<RasterRecord> {
  const [name, vintage] = spec.split('@') as [string, string | undefined]
  const rows = await db.query<RasterRecord>(`SELECT ${COLUMNS} FROM raster_layer WHERE name = $1 AND ${CURRENT}`, [name])
  if (!rows.length) {
    const known = (await db.query<{ name: string }>(`SELECT DISTINCT name FROM raster_layer WHERE ${CURRENT} ORDER BY name`)).map((r) => r.name)
    throw new NotFound(`no ${what} '${name}' (known: ${known.join(', ') || 'none'})`)
  }
  if (vintage !== undefined) {
    const r = rows.find((x) => x.vintage === vintage)
    if (!r) throw new NotFound(`${what} '${name}' has no vintage ${vintage} (vintages: ${rows.map((x) => x.vintage).join(', ')})`)
    return r
  }
  return rows.reduce((a, b) => (compareVintage(b.vintage, a.vintage) > 0 ? b : a))
}

/** Where a stored raster's pixels come from: one band, windows of it as numbers. */
export interface PixelSource {
  width: number
  height: number
  transform: GeoTransform
  /** value that means "no data" (NaN for derived rasters) */
  nodata: number | null
  /** rows per block: windows aligned to it decode each block once */
  blockHeight: number
  read(x0: number, y0: number, x1: number, y1: number, signal?: AbortSignal): Promise<ArrayLike<number>>
  /** a reduced-resolution level (0 = full) for tile rendering; undefined when there is none */
  level?(i: number): { width: number; height: number; read: PixelSource['read'] } | undefined
}

const open = new Map<string, Promise<OpenTiff>>()

async function tiffOf(full: string): Promise<OpenTiff> {
  let p = open.get(full)
  if (!p) {
    p = openTiff(full)
    open.set(full, p)
    p.catch(() => open.delete(full))
  }
  return p
}

/** Closes every open raster file (tests, shutdown). */
export async function closeRasterFiles(): Promise<void> {
  const all = [...open.values()]
  open.clear()
  for (const p of all) (await p.catch(() => undefined))?.close()
}

/**
 * Where one band's pixels come from, as plain data: a file of the raster store, or a
 * derivation of other sources. It crosses to scan worker threads (scan-pool.ts), which open
 * it themselves.
 */
export type SourceSpec =
  | { op: 'file'; path: string; band: number; nodata: number | null; width: number; height: number; transform: GeoTransform; blockHeight: number; overviews: { width: number; height: number }[] }
  | { op: 'ndvi'; red: SourceSpec; nir: SourceSpec; sourceNodata: number | null }
  | { op: 'fvc'; ndvi: SourceSpec; soil: number; veg: number }
  /** a source resampled onto another grid (raster/warp.ts) */
  | { op: 'warp'; source: SourceSpec; from: { crsProj4: string; transform: GeoTransform }; to: GridDef; method: Resampling }
  /** pixels held in memory (float32 with NaN for no data, or uint32 counts), shared with scan threads */
  | { op: 'array'; data: SharedArrayBuffer; type?: 'float32' | 'uint32'; width: number; height: number; transform: GeoTransform }

/** The source of band `band` (1-based) of a raster; derived rasters have one band. */
export async function sourceSpec(db: Queryable, dir: string, r: RasterRecord, band = 1): Promise<SourceSpec> {
  if (!Number.isInteger(band) || band < 1 || band > r.bands) throw new BadInput(`raster '${r.name}' has ${r.bands} band${r.bands > 1 ? 's' : ''}; band ${band} does not exist`)
  const d = r.derived
  if (!d) {
    return { op: 'file', path: path.join(dir, r.file), band, nodata: r.nodata, width: r.width, height: r.height, transform: r.transform, blockHeight: r.block_height, overviews: r.overviews }
  }
  const src = await rasterById(db, d.source)
  if (d.op === 'ndvi') return { op: 'ndvi', red: await sourceSpec(db, dir, src, d.red), nir: await sourceSpec(db, dir, src, d.nir), sourceNodata: src.nodata }
  return { op: 'fvc', ndvi: await sourceSpec(db, dir, src, 1), soil: d.soil, veg: d.veg }
}

function fileOf(s: Exclude<SourceSpec, { op: 'warp' | 'array' }>): Extract<SourceSpec, { op: 'file' }> {
  return s.op === 'file' ? s : fileOf(s.op === 'ndvi' ? s.red as typeof s : s.ndvi as typeof s)
}

/** Pixels of a source, read window by window. */
export async function openSource(spec: SourceSpec): Promise<PixelSource> {
  if (spec.op === 'warp') {
    const r = warped(await openSource(spec.source), spec.from, spec.to, spec.method)
    return { ...r, transform: spec.to.transform, blockHeight: 256 }
  }
  if (spec.op === 'array') {
    const a = spec.type === 'uint32' ? new Uint32Array(spec.data) : new Float32Array(spec.data)
    const w = spec.width
    return {
      width: w, height: spec.height, transform: spec.transform, blockHeight: 256, nodata: null,
      read: async (x0, y0, x1, y1) => {
        const out = spec.type === 'uint32' ? new Uint32Array((x1 - x0) * (y1 - y0)) : new Float32Array((x1 - x0) * (y1 - y0))
        for (let r = y0; r < y1; r++) out.set(a.subarray(r * w + x0, r * w + x1), (r - y0) * (x1 - x0))
        return out
      },
    }
  }
  const f = fileOf(spec)
  const base = { width: f.width, height: f.height, transform: f.transform, blockHeight: f.blockHeight }
  if (spec.op === 'file') {
    const t = await tiffOf(spec.path)
    const band = spec.band
    const levels: GeoTIFFImage[] = [t.image]
    const levelOf = async (i: number) => {
      while (levels.length <= i) levels.push(await t.tiff.getImage(levels.length))
      return levels[i]!
    }
    return {
      ...base,
      nodata: spec.nodata,
      read: (x0, y0, x1, y1, signal) => readWindow(t.image, band - 1, x0, y0, x1, y1, signal),
      level: (i) => {
        if (i === 0) return { width: spec.width, height: spec.height, read: (x0, y0, x1, y1, s) => readWindow(t.image, band - 1, x0, y0, x1, y1, s) }
        const o = spec.overviews[i - 1]
        if (!o) return undefined
        return { ...o, read: async (x0, y0, x1, y1, s) => readWindow(await levelOf(i), band - 1, x0, y0, x1, y1, s) }
      },
    }
  }
  if (spec.op === 'ndvi') {
    const red = await openSource(spec.red)
    const nir = await openSource(spec.nir)
    const combine = (rv: ArrayLike<number>, nv: ArrayLike<number>) => ndvi(rv, nv, spec.sourceNodata)
    return {
      ...base,
      nodata: null,
      read: async (x0, y0, x1, y1, s) => combine(await red.read(x0, y0, x1, y1, s), await nir.read(x0, y0, x1, y1, s)),
      level: (i) => {
        const lr = red.level?.(i)
        const ln = nir.level?.(i)
        if (!lr || !ln) return undefined
        return { width: lr.width, height: lr.height, read: async (x0, y0, x1, y1, s) => combine(await lr.read(x0, y0, x1, y1, s), await ln.read(x0, y0, x1, y1, s)) }
      },
    }
  }
  const nd = await openSource(spec.ndvi)
  const f2 = (v: ArrayLike<number>) => fvc(v, nd.nodata, spec.soil, spec.veg)
  return {
    ...base,
    nodata: null,
    read: async (x0, y0, x1, y1, s) => f2(await nd.read(x0, y0, x1, y1, s)),
    level: (i) => {
      const l = nd.level?.(i)
      return l && { width: l.width, height: l.height, read: async (x0, y0, x1, y1, s) => f2(await l.read(x0, y0, x1, y1, s)) }
    },
  }
}

/** Pixels of band `band` (1-based) of a raster; derived rasters have one band. */
export async function pixelSource(db: Queryable, dir: string, r: RasterRecord, band = 1): Promise<PixelSource> {
  return openSource(await sourceSpec(db, dir, r, band))
}

/** NDVI = (NIR − Red) / (NIR + Red); NaN where either band is nodata or both are 0. */
export function ndvi(red: ArrayLike<number>, nir: ArrayLike<number>, nodata: number | null): Float32Array {
  const out = new Float32Array(red.length)
  const nd = nodata ?? NaN
  for (let i = 0; i < out.length; i++) {
    const r = red[i]!
    const n = nir[i]!
    const s = n + r
    out[i] = r === nd || n === nd || r !== r || n !== n || s === 0 ? NaN : (n - r) / s
  }
  return out
}

/** Fractional vegetation cover by the pixel dichotomy model, clamped to [0, 1]. */
export function fvc(ndviValues: ArrayLike<number>, nodata: number | null, soil: number, veg: number): Float32Array {
  const out = new Float32Array(ndviValues.length)
  const nd = nodata ?? NaN
  const span = veg - soil
  for (let i = 0; i < out.length; i++) {
    const v = ndviValues[i]!
    out[i] = v !== v || v === nd ? NaN : Math.min(1, Math.max(0, (v - soil) / span))
  }
  return out
}
