// Ingesting a GeoTIFF: read its description, CRS, nodata and legend; decode every block
// once (band statistics, and proof that the file is readable to the end); copy it into
// the raster store under its checksum; record it. The record is written in one
// transaction; a failure leaves neither a row nor a new file behind.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import proj4 from 'proj4'
import type { Db, Queryable } from '../db/db.ts'
import { throwIfAborted } from '../db/db.ts'
import { BadInput, Conflict } from '../errors.ts'
import { datasetChecksum } from '../ingest/checksum.ts'
import { checkName, checkVintage } from '../ingest/names.ts'
import { resolveCrs } from '../crs/resolve.ts'
import type { CrsDef } from '../crs/registry.ts'
import { openTiff, readWindow, type GeoTransform, type OpenTiff } from './geotiff-file.ts'
import { crsFromGeoKeys } from './raster-crs.ts'
import { legendFromAuxXml, legendFromPalette, readLegendFile, type LegendEntry } from './legend.ts'
import { findRaster, pixelSource, rasterById, type BandStats, type Derivation, type RasterKind, type RasterRecord } from './raster-store.ts'
import { CGCS2000 } from '../crs/reproject.ts'
import { claimVersion, CURRENT } from '../catalog/versions.ts'

export const RASTER_KINDS = ['categorical', 'continuous'] as const
/** a categorical raster with more distinct values than this is not categorical */
const MAX_CLASSES = 4096
const DENSE = 65536
/** pixels decoded per read while scanning */
const SCAN_PIXELS = 1 << 22

export interface IngestRasterOptions {
  file: string
  name: string
  vintage: string
  kind: string
  crs?: string
  legend?: string
  replace?: boolean
  /** who adds it (audit) */
  actor?: string
  rasterDir: string
  signal?: AbortSignal
  progress?: (done: number, total: number) => void
}

export interface RasterIngestReport {
  rasterId: number
  name: string
  vintage: string
  kind: RasterKind
  file: string
  crs: string
  crsNote?: string
  width: number
  height: number
  bands: number
  sampleType: string
  compression: string
  nodata: number | null
  classes?: number
  legendFrom?: string
  checksum: string
}

export async function ingestRaster(db: Db, o: IngestRasterOptions): Promise<RasterIngestReport> {
  const name = checkName(o.name, 'raster name')
  const vintage = checkVintage(o.vintage)
  if (!(RASTER_KINDS as readonly string[]).includes(o.kind)) throw new BadInput(`--kind '${o.kind}' is not one of ${RASTER_KINDS.join(', ')}`)
  const kind = o.kind as RasterKind
  const existing = await db.query(`SELECT id FROM raster_layer WHERE name = $1 AND vintage = $2 AND ${CURRENT}`, [name, vintage])
  if (existing.length && !o.replace) throw new Conflict(`raster '${name}' vintage ${vintage} already exists; pass --replace to add a new version of it (the old one is kept in its history), or give another --vintage`)
  if (existing.length) await refuseIfDerivedFrom(db, (existing[0] as { id: number }).id, `${name}@${vintage}`)
  const legendFile = o.legend ? readLegendFile(o.legend) : undefined
  const t = await openTiff(o.file)
  try {
    const info = t.info
    const where = path.basename(o.file)
    if (kind === 'categorical' && /^float/.test(info.sampleType)) throw new BadInput(`${where}: ${info.sampleType} samples cannot be categorical; ingest it with --kind continuous`)
    const { crs, note } = o.crs ? { crs: await resolveCrs(o.crs, db, '--crs'), note: undefined } : await crsFromGeoKeys(info.geoKeys, db, where)
    const extent = lonLatExtent(crs, info.transform, info.width, info.height, where)
    const stats = await scan(t, kind, where, o)
    let legend: LegendEntry[] | undefined = legendFile
    let legendFrom = legendFile ? o.legend : undefined
    if (!legend && kind === 'categorical') {
      const aux = `${o.file}.aux.xml`
      if (fs.existsSync(aux)) {
        legend = legendFromAuxXml(fs.readFileSync(aux, 'utf8'), aux)
        if (legend) legendFrom = path.basename(aux)
      }
      if (!legend && info.colorMap) {
        legend = legendFromPalette(info.colorMap, Object.keys(stats[0]!.values ?? {}).map(Number))
        legendFrom = 'TIFF palette'
      }
    }
    const checksum = await datasetChecksum(o.file)
    const stored = `${checksum.replace('sha256:', '')}.tif`
    const created = storeFile(o.file, o.rasterDir, stored)
    try {
      const id = await db.transaction(async (tx) => {
        await claimVersion(tx, 'raster_layer', name, vintage, { replace: o.replace, actor: o.actor })
        const [row] = await tx.query<{ id: number }>(
          `INSERT INTO raster_layer (name, vintage, kind, file, source_file, checksum, crs, crs_proj4, width, height, bands, sample_type,
             compression, tiled, block_width, block_height, overviews, transform, nodata, legend, band_stats, extent, report, created_by)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24) RETURNING id`,
          [name, vintage, kind, stored, path.basename(o.file), checksum, crs.id, crs.proj4, info.width, info.height, info.bands, info.sampleType,
            info.compression, info.tiled, info.blockWidth, info.blockHeight, JSON.stringify(info.overviews), JSON.stringify(info.transform),
            info.nodata, legend ? JSON.stringify(legend) : null, JSON.stringify(stats), JSON.stringify(extent),
            JSON.stringify({ crsNote: note, legendFrom, geoKeys: info.geoKeys }), o.actor ?? null],
        )
        return row!.id
      })
      return {
        rasterId: id, name, vintage, kind, file: o.file, crs: crs.id, crsNote: note, width: info.width, height: info.height, bands: info.bands,
        sampleType: info.sampleType, compression: info.compression, nodata: info.nodata, checksum, legendFrom,
        classes: kind === 'categorical' ? Object.keys(stats[0]!.values ?? {}).length : undefined,
      }
    } catch (err) {
      if (created) await dropIfUnused(db, o.rasterDir, stored)
      throw err
    }
  } finally {
    t.close()
  }
}

/** Copies the file into the store unless the same bytes are there; true when it copied. */
function storeFile(file: string, dir: string, stored: string): boolean {
  fs.mkdirSync(dir, { recursive: true })
  const dest = path.join(dir, stored)
  if (fs.existsSync(dest)) return false
  const tmp = `${dest}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.part`
  fs.copyFileSync(file, tmp)
  fs.renameSync(tmp, dest)
  return true
}

async function dropIfUnused(db: Queryable, dir: string, stored: string): Promise<void> {
  const used = await db.query('SELECT 1 FROM raster_layer WHERE file = $1 LIMIT 1', [stored]).catch(() => [1])
  if (!used.length) fs.rmSync(path.join(dir, stored), { force: true })
}

/** Decodes every band once, block row by block row: statistics per band, values per class. */
async function scan(t: OpenTiff, kind: RasterKind, where: string, o: IngestRasterOptions): Promise<BandStats[]> {
  const { width, height, bands, blockHeight, nodata, sampleType } = t.info
  const nd = nodata === null ? NaN : sampleType === 'float32' ? Math.fround(nodata) : nodata
  const rowsPerRead = Math.max(blockHeight, Math.floor(SCAN_PIXELS / width / blockHeight) * blockHeight)
  const out: BandStats[] = []
  const total = bands * height
  for (let b = 0; b < bands; b++) {
    let valid = 0
    let min = Infinity
    let max = -Infinity
    let sum = 0
    const counts = kind === 'categorical' ? new Map<number, number>() : undefined
    // small non-negative classes (8/16-bit) counted in an array, the rest in the map
    const dense = new Float64Array(kind === 'categorical' ? DENSE : 0)
    for (let y = 0; y < height; y += rowsPerRead) {
      throwIfAborted(o.signal)
      const y1 = Math.min(height, y + rowsPerRead)
      let v: ArrayLike<number>
      try {
        v = await readWindow(t.image, b, 0, y, width, y1, o.signal)
      } catch (err) {
        throw new BadInput(`${where}: band ${b + 1} cannot be decoded at rows ${y}–${y1 - 1} (${(err as Error).message}); the file is damaged or truncated`)
      }
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!
        if (x !== x || x === nd) continue
        valid++
        if (x < min) min = x
        if (x > max) max = x
        sum += x
        if (counts) {
          if (x >= 0 && x < DENSE) dense[x]++
          else counts.set(x, (counts.get(x) ?? 0) + 1)
        }
      }
      if (counts && counts.size > MAX_CLASSES) throw new BadInput(`${where}: band ${b + 1} has more than ${MAX_CLASSES} distinct values; ingest it with --kind continuous`)
      o.progress?.(b * height + y1, total)
    }
    if (counts) dense.forEach((n, k) => { if (n) counts.set(k, n) })
    if (counts && counts.size > MAX_CLASSES) throw new BadInput(`${where}: band ${b + 1} has more than ${MAX_CLASSES} distinct values; ingest it with --kind continuous`)
    out.push({
      band: b + 1, valid, min: valid ? min : null, max: valid ? max : null, mean: valid ? sum / valid : null,
      values: counts ? Object.fromEntries([...counts].sort((a, c) => a[0] - c[0]).map(([k, n]) => [String(k), n])) : undefined,
    })
  }
  return out
}

/** The raster's outline (40 points a side) in CGCS2000 lon/lat, as a box. */
export function lonLatExtent(crs: CrsDef, t: GeoTransform, width: number, height: number, where: string): [number, number, number, number] {
  const conv = crs.epsg === 4490 || crs.epsg === 4326 ? undefined : proj4(crs.proj4, CGCS2000)
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity]
  const N = 40
  for (let i = 0; i <= N; i++) {
    for (const [c, r] of [[(i / N) * width, 0], [(i / N) * width, height], [0, (i / N) * height], [width, (i / N) * height]] as const) {
      const x = t[0] + c * t[1] + r * t[2]
      const y = t[3] + c * t[4] + r * t[5]
      const [lon, lat] = conv ? (conv.forward([x, y]) as [number, number]) : [x, y]
      if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lon) > 360 || Math.abs(lat) > 90.000001) {
        throw new BadInput(`${where}: the raster corner (${x}, ${y}) does not map to longitude/latitude in ${crs.id}; check the CRS or pass --crs`)
      }
      w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat)
    }
  }
  return [w, s, e, n]
}

export interface DeriveOptions {
  op: 'ndvi' | 'fvc'
  from: string
  name: string
  vintage?: string
  red?: number
  nir?: number
  soil?: number
  veg?: number
  replace?: boolean
  /** who adds it (audit) */
  actor?: string
  rasterDir: string
}

/**
 * A derived raster: NDVI from the red and near-infrared bands of a multispectral raster,
 * or FVC from an NDVI raster (pixel dichotomy: (NDVI − NDVIsoil) / (NDVIveg − NDVIsoil),
 * clamped to [0, 1]). Stored as a recipe over its source; pixels are computed on read.
 */
export async function deriveRaster(db: Db, o: DeriveOptions): Promise<RasterRecord> {
  const name = checkName(o.name, 'raster name')
  const src = await findRaster(db, o.from, 'source raster')
  const vintage = checkVintage(o.vintage ?? src.vintage)
  let d: Derivation
  if (o.op === 'ndvi') {
    const red = o.red ?? NaN
    const nir = o.nir ?? NaN
    for (const [k, v] of [['--red', red], ['--nir', nir]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > src.bands) throw new BadInput(`${k} ${Number.isNaN(v) ? '(missing)' : v}: give a band number 1..${src.bands} of '${src.name}'`)
    }
    if (red === nir) throw new BadInput('--red and --nir name the same band')
    d = { op: 'ndvi', source: src.id, red, nir }
  } else if (o.op === 'fvc') {
    const soil = o.soil ?? 0.05
    const veg = o.veg ?? 0.86
    if (!Number.isFinite(soil) || !Number.isFinite(veg) || !(veg > soil) || soil < -1 || veg > 1) throw new BadInput(`--soil ${soil} and --veg ${veg}: need -1 ≤ soil < veg ≤ 1 (NDVI of bare soil and of full vegetation)`)
    if (src.bands !== 1 || src.kind !== 'continuous') throw new BadInput(`FVC needs a one-band continuous NDVI raster; '${src.name}' has ${src.bands} bands (${src.kind})`)
    d = { op: 'fvc', source: src.id, soil, veg }
  } else {
    throw new BadInput(`unknown derivation '${String(o.op)}' (ndvi or fvc)`)
  }
  const checksum = 'sha256:' + crypto.createHash('sha256').update(JSON.stringify({ ...d, source: src.checksum })).digest('hex')
  // one pass over the derived pixels for its statistics (and to prove the source reads)
  const pixels = await pixelSource(db, o.rasterDir, { ...src, derived: d, bands: 1 } as RasterRecord, 1)
  let valid = 0
  let min = Infinity
  let max = -Infinity
  let sum = 0
  const rows = Math.max(src.block_height, Math.floor(SCAN_PIXELS / src.width / src.block_height) * src.block_height)
  for (let y = 0; y < src.height; y += rows) {
    const v = await pixels.read(0, y, src.width, Math.min(src.height, y + rows))
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!
      if (x !== x) continue
      valid++
      if (x < min) min = x
      if (x > max) max = x
      sum += x
    }
  }
  const stats: BandStats[] = [{ band: 1, valid, min: valid ? min : null, max: valid ? max : null, mean: valid ? sum / valid : null }]
  const id = await db.transaction(async (tx) => {
    const existing = await tx.query(`SELECT id FROM raster_layer WHERE name = $1 AND vintage = $2 AND ${CURRENT}`, [name, vintage])
    if (existing.length && o.replace) await refuseIfDerivedFrom(tx, (existing[0] as { id: number }).id, `${name}@${vintage}`)
    await claimVersion(tx, 'raster_layer', name, vintage, { replace: o.replace, actor: o.actor })
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO raster_layer (name, vintage, kind, file, source_file, checksum, crs, crs_proj4, width, height, bands, sample_type,
         compression, tiled, block_width, block_height, overviews, transform, nodata, legend, band_stats, derived, extent, report, created_by)
       VALUES ($1,$2,'continuous',$3,$4,$5,$6,$7,$8,$9,1,'float32',$10,$11,$12,$13,$14,$15,NULL,NULL,$16,$17,$18,$19,$20) RETURNING id`,
      [name, vintage, src.file, `${o.op}(${src.name}@${src.vintage})`, checksum, src.crs, src.crs_proj4, src.width, src.height,
        src.compression, src.tiled, src.block_width, src.block_height, JSON.stringify(src.overviews), JSON.stringify(src.transform),
        JSON.stringify(stats), JSON.stringify(d), JSON.stringify(src.extent), JSON.stringify({ derivedFrom: { id: src.id, name: src.name, vintage: src.vintage, checksum: src.checksum } }), o.actor ?? null],
    )
    return row!.id
  })
  return rasterById(db, id)
}

/** Derived rasters name their source by id: it may not be replaced under them. */
async function refuseIfDerivedFrom(db: Queryable, id: number, label: string): Promise<void> {
  const users = await db.query<{ name: string; vintage: string }>(`SELECT name, vintage FROM raster_layer WHERE (derived->>'source')::int = $1 AND ${CURRENT}`, [id])
  if (users.length) throw new Conflict(`raster ${label} is the source of ${users.map((u) => `${u.name}@${u.vintage}`).join(', ')}; replace or remove those first`)
}
