import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** All configuration, from ECOCENSUS_* environment variables (and DATABASE_URL). */
export interface Settings {
  databaseUrl?: string
  dataDir: string
  /** raster store: ingested GeoTIFFs, named by checksum */
  rasterDir: string
  /** rendered raster tiles, by raster checksum */
  tileCacheDir: string
  /** optional XYZ raster basemap for the viewer ({z}/{x}/{y} template), and its attribution */
  basemapUrl?: string
  basemapAttribution?: string
  /** in-memory vector tile cache, bytes */
  vectorTileCacheBytes: number
  port: number
  host: string
  /** key for write routes; when unset, HTTP writes are refused */
  apiKey?: string
  /** true: GET routes need a reader key (ECOCENSUS_READS=keyed); default public */
  readsKeyed: boolean
  /** largest HTTP upload, bytes */
  maxUploadBytes: number
  /** largest file the CLI reads whole (GeoJSON, GeoPackage) or unpacks (zip), bytes */
  maxFileBytes: number
  statementTimeoutMs: number
  loadSample: boolean
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const int = (name: string, dflt: number) => {
    const v = env[name]
    if (v === undefined || v === '') return dflt
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative number`)
    return n
  }
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.ECOCENSUS_DATA_DIR || path.join(ROOT, 'data', 'db'),
    rasterDir: env.ECOCENSUS_RASTER_DIR || path.join(ROOT, 'data', 'rasters'),
    tileCacheDir: env.ECOCENSUS_TILE_CACHE_DIR || path.join(ROOT, 'data', 'rasters', 'tiles'),
    basemapUrl: env.ECOCENSUS_BASEMAP_URL || undefined,
    basemapAttribution: env.ECOCENSUS_BASEMAP_ATTRIBUTION || undefined,
    vectorTileCacheBytes: int('ECOCENSUS_VECTOR_TILE_CACHE_MB', 128) * 1024 * 1024,
    port: int('ECOCENSUS_PORT', int('PORT', 3000)),
    host: env.ECOCENSUS_HOST || '127.0.0.1',
    apiKey: env.ECOCENSUS_API_KEY || undefined,
    readsKeyed: readsMode(env.ECOCENSUS_READS),
    maxUploadBytes: int('ECOCENSUS_MAX_UPLOAD_BYTES', 512 * 1024 * 1024),
    maxFileBytes: int('ECOCENSUS_MAX_FILE_BYTES', 4 * 1024 * 1024 * 1024),
    statementTimeoutMs: int('ECOCENSUS_STATEMENT_TIMEOUT_MS', 600_000),
    loadSample: env.ECOCENSUS_SAMPLE !== '0',
  }
}

function readsMode(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'public') return false
  if (v === 'keyed') return true
  throw new Error(`ECOCENSUS_READS=${v}: public or keyed`)
}
