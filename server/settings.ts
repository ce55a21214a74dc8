import fs from 'node:fs'
import path from 'node:path'
import { parseConfigFile } from './config-file.ts'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

/** The project's directory (web/, data/): the nearest one above this module with a package.json,
 * whether the module runs from server/ or from a compiled build under dist/. */
export const ROOT = projectRoot(path.dirname(fileURLToPath(import.meta.url)))

function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir
    if (dir === path.dirname(dir)) throw new Error(`no package.json above ${from}`)
  }
}

// Defaults of the settings below that the engines also fall back to (they import them from
// here, never the other way round).
/** vertices one feature may have (ECOCENSUS_MAX_FEATURE_VERTICES) */
export const DEFAULT_MAX_FEATURE_VERTICES = 500_000
/** raster scan threads (ECOCENSUS_SCAN_THREADS): the cores, at most 4 */
export const DEFAULT_SCAN_THREADS = Math.max(1, Math.min(4, os.availableParallelism()))
/** parse threads (ECOCENSUS_PARSE_THREADS): the cores, at most 3; 0 = parse in the calling thread */
export const DEFAULT_PARSE_THREADS = Math.max(1, Math.min(3, os.availableParallelism()))
/** shared_buffers of the embedded database, MiB (ECOCENSUS_EMBEDDED_BUFFERS_MB) */
export const DEFAULT_EMBEDDED_BUFFERS_MB = 16
/** measure workers (ECOCENSUS_MEASURE_THREADS): one core fewer than there are, at most 3 */
export const DEFAULT_MEASURE_THREADS = Math.max(0, Math.min(3, os.availableParallelism() - 1))

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
  /** vertices one feature may have; more is refused at ingest (400 too_complex) */
  maxFeatureVertices: number
  statementTimeoutMs: number
  /** longest a run started over HTTP may take; stopped (failed) after it; 0 = no limit */
  runTimeoutMs: number
  /** per client and minute: uploads, and computations started through POST */
  uploadsPerMinute: number
  runsPerMinute: number
  /** longest time to receive a whole request (uploads included); 408 after it */
  requestTimeoutMs: number
  /** on SIGTERM, how long requests in flight may take to finish */
  shutdownGraceMs: number
  /** worker threads a big zonal scan may use (1 = none besides the main thread) */
  scanThreads: number
  /** worker threads that parse features read for the cell engine (0 = parse in the main thread) */
  parseThreads: number
  /** worker threads that measure layers of cell coverage on PostgreSQL (0 = all in the main thread) */
  measureThreads: number
  /** shared_buffers of the embedded database, MiB (PGlite keeps them resident from the start) */
  embeddedBuffersMb: number
  loadSample: boolean
  /** true (ECOCENSUS_DISTRIBUTE=queue): runs hand their tiles and unit groups to `ecocensus worker` processes through the job queue (PostgreSQL only; docs/scale.md) */
  distribute: boolean
  /** a distributed task taken longer ago than this, s, is presumed lost with its worker and handed out again */
  taskExpireSeconds: number
  /** attempts a distributed task gets after its first before it fails its run */
  taskRetries: number
  /** s without a heartbeat after which a distributed task's worker is presumed lost and the task handed to another */
  taskHeartbeatSeconds: number
  /** s between the queue's maintenance passes (when expired tasks are noticed) */
  queueMaintenanceSeconds: number
  /** features per tile of the cell engine (a tile is a distributed run's task); unset: the engine's default */
  tileFeatures?: number
  /** units per task of a distributed zonal scan */
  taskUnits: number
  /** connections a process's pool may open to a PostgreSQL server (workers × this must fit the server's max_connections) */
  dbConnections: number
}

/** The variables a config file may set (the same names as the environment). */
export const SETTING_VARS = ['DATABASE_URL', 'ECOCENSUS_DATA_DIR', 'ECOCENSUS_RASTER_DIR', 'ECOCENSUS_TILE_CACHE_DIR', 'ECOCENSUS_BASEMAP_URL', 'ECOCENSUS_BASEMAP_ATTRIBUTION',
  'ECOCENSUS_VECTOR_TILE_CACHE_MB', 'ECOCENSUS_PORT', 'PORT', 'ECOCENSUS_HOST', 'ECOCENSUS_API_KEY', 'ECOCENSUS_READS', 'ECOCENSUS_MAX_UPLOAD_BYTES', 'ECOCENSUS_MAX_FILE_BYTES', 'ECOCENSUS_MAX_FEATURE_VERTICES',
  'ECOCENSUS_STATEMENT_TIMEOUT_MS', 'ECOCENSUS_RUN_TIMEOUT_MS', 'ECOCENSUS_SHUTDOWN_GRACE_MS', 'ECOCENSUS_SAMPLE', 'ECOCENSUS_UPLOADS_PER_MINUTE', 'ECOCENSUS_RUNS_PER_MINUTE', 'ECOCENSUS_REQUEST_TIMEOUT_MS', 'ECOCENSUS_SCAN_THREADS', 'ECOCENSUS_PARSE_THREADS', 'ECOCENSUS_MEASURE_THREADS', 'ECOCENSUS_EMBEDDED_BUFFERS_MB',
  'ECOCENSUS_DISTRIBUTE', 'ECOCENSUS_TASK_EXPIRE_S', 'ECOCENSUS_TASK_RETRIES', 'ECOCENSUS_TASK_HEARTBEAT_S', 'ECOCENSUS_QUEUE_MAINTENANCE_S', 'ECOCENSUS_TILE_FEATURES', 'ECOCENSUS_TASK_UNITS', 'ECOCENSUS_DB_CONNECTIONS']

/** ECOCENSUS_CONFIG=FILE (JSON or YAML, {VAR: value}); the environment wins over the file. */
function withConfigFile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const file = env.ECOCENSUS_CONFIG
  if (!file) return env
  if (!fs.existsSync(file)) throw new Error(`ECOCENSUS_CONFIG=${file}: no such file`)
  let doc: unknown
  try {
    doc = parseConfigFile(file)
  } catch (err) {
    throw new Error(`ECOCENSUS_CONFIG=${file}: ${(err as Error).message}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`ECOCENSUS_CONFIG=${file}: an object of settings {VAR: value}`)
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(doc)) {
    if (!SETTING_VARS.includes(k)) throw new Error(`ECOCENSUS_CONFIG=${file}: unknown setting '${k}' (known: ${SETTING_VARS.join(', ')})`)
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`ECOCENSUS_CONFIG=${file}: ${k} must be text, a number or true/false`)
    out[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v)
  }
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}

export function loadSettings(envIn: NodeJS.ProcessEnv = process.env): Settings {
  const env = withConfigFile(envIn)
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
    maxFeatureVertices: int('ECOCENSUS_MAX_FEATURE_VERTICES', DEFAULT_MAX_FEATURE_VERTICES),
    statementTimeoutMs: int('ECOCENSUS_STATEMENT_TIMEOUT_MS', 600_000),
    runTimeoutMs: int('ECOCENSUS_RUN_TIMEOUT_MS', 3_600_000),
    shutdownGraceMs: int('ECOCENSUS_SHUTDOWN_GRACE_MS', 10_000),
    uploadsPerMinute: int('ECOCENSUS_UPLOADS_PER_MINUTE', 60),
    runsPerMinute: int('ECOCENSUS_RUNS_PER_MINUTE', 120),
    requestTimeoutMs: int('ECOCENSUS_REQUEST_TIMEOUT_MS', 300_000),
    scanThreads: int('ECOCENSUS_SCAN_THREADS', DEFAULT_SCAN_THREADS),
    parseThreads: int('ECOCENSUS_PARSE_THREADS', DEFAULT_PARSE_THREADS),
    measureThreads: int('ECOCENSUS_MEASURE_THREADS', DEFAULT_MEASURE_THREADS),
    embeddedBuffersMb: Math.max(1, Math.round(int('ECOCENSUS_EMBEDDED_BUFFERS_MB', DEFAULT_EMBEDDED_BUFFERS_MB))),
    loadSample: env.ECOCENSUS_SAMPLE !== '0',
    distribute: distributeMode(env.ECOCENSUS_DISTRIBUTE),
    taskExpireSeconds: Math.max(1, int('ECOCENSUS_TASK_EXPIRE_S', 900)),
    taskRetries: Math.round(int('ECOCENSUS_TASK_RETRIES', 3)),
    taskHeartbeatSeconds: Math.max(1, int('ECOCENSUS_TASK_HEARTBEAT_S', 30)),
    queueMaintenanceSeconds: Math.max(1, Math.round(int('ECOCENSUS_QUEUE_MAINTENANCE_S', 10))),
    tileFeatures: env.ECOCENSUS_TILE_FEATURES ? Math.max(1, Math.round(int('ECOCENSUS_TILE_FEATURES', 0))) : undefined,
    taskUnits: Math.max(1, Math.round(int('ECOCENSUS_TASK_UNITS', 2000))),
    dbConnections: Math.max(1, Math.round(int('ECOCENSUS_DB_CONNECTIONS', 8))),
  }
}

function distributeMode(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'off') return false
  if (v === 'queue') return true
  throw new Error(`ECOCENSUS_DISTRIBUTE=${v}: off or queue`)
}

function readsMode(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'public') return false
  if (v === 'keyed') return true
  throw new Error(`ECOCENSUS_READS=${v}: public or keyed`)
}
