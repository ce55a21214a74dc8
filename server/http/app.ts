import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import os from 'node:os'
import path from 'node:path'
import express, { type NextFunction, type Request, type Response } from 'express'
import type { Db } from '../db/db.ts'
import { AppError, BadInput, Conflict, TooLarge, httpStatus } from '../errors.ts'
import type { Settings } from '../settings.ts'
import { ROOT } from '../settings.ts'
import { listLayers, listUnitSets, unitsGeoJson } from '../catalog.ts'
import { ingestLayer } from '../ingest/ingest-layer.ts'
import { importUnits } from '../units/import-units.ts'
import { buildGrid } from '../units/build-grid.ts'
import { unitSetId } from '../units/unit-set.ts'
import { FORMATS, render } from '../stats/export.ts'
import { cancelLocal, runToEnd, startRun } from '../runs/execute.ts'
import { exportableOf, parseRunRequest, planRun } from '../runs/run-request.ts'
import { getRun, listRuns, requestCancel, type RunRecord } from '../runs/run-store.ts'
import { needs, needsWhenKeyed, requireRole } from './auth.ts'
import { rateLimit } from './rate-limit.ts'
import { keysConfigured } from '../auth/keys.ts'
import { bool, oneOf, param } from './params.ts'
import { openApi } from './openapi.ts'
import { deriveRaster, ingestRaster } from '../raster/ingest-raster.ts'
import { findRaster, listRasters } from '../raster/raster-store.ts'
import type { LegendEntry } from '../raster/legend.ts'
import { rasterTile, tileStyle } from '../../tiles/raster-tile.ts'
import { resolveSource, tileJson } from '../../tiles/vector-source.ts'
import { MAX_ZOOM } from '../../tiles/vector-tile.ts'
import { isVectorTileRequest, vectorTileHandler } from '../../tiles/vector-tile-http.ts'
import { TileCache } from '../../tiles/tile-cache.ts'
import { checkDefinitions, computeFactors, factorExport } from '../factors/factors.ts'
import { allocationExport, financeWorkbook, readConfigFile, runAllocation } from '../factors/allocation.ts'
import { checkMapping, computeEsv, esvExport, loadCoefficients } from '../factors/esv.ts'
import { SAMPLE_DIR } from '../sample.ts'

const NAME = /^[\p{L}\p{N}_.-]{1,64}$/u
// a plain file name (no path); the extension picks the reader, which refuses unknown ones (415)
const FILENAME = /^[\p{L}\p{N}_-][\p{L}\p{N}_. -]{0,127}$/u

export interface AppDeps {
  db: Db
  settings: Settings
  log?: (msg: string) => void
  /** one structured entry per finished request (serve writes them as JSON lines with pino) */
  access?: (entry: AccessEntry) => void
}

export interface AccessEntry { id: string; method: string; path: string; status: number; ms: number; bytes: number }

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/** The HTTP server: vector tile requests are answered before Express (see
 *  tiles/vector-tile-http.ts), everything else by the app. */
export function createServer(deps: AppDeps, app = createApp(deps)): http.Server {
  const tiles = app.locals.vectorTiles as ReturnType<typeof vectorTileHandler>
  const server = http.createServer((req, res) => {
    // a request id (the caller's X-Request-Id if it is sane, else a new one), echoed and logged
    const given = req.headers['x-request-id']
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID()
    res.setHeader('X-Request-Id', id)
    if (deps.access) {
      const t0 = performance.now()
      res.once('finish', () => deps.access!({ id, method: req.method ?? '', path: (req.url ?? '').split('?')[0]!.slice(0, 300), status: res.statusCode, ms: Math.round((performance.now() - t0) * 10) / 10, bytes: Number(res.getHeader('content-length') ?? 0) }))
    }
    if (isVectorTileRequest(req.method, req.url) && !deps.settings.readsKeyed) void tiles(req, res)
    else app(req, res)
  })
  // idle keep-alive sockets live longer than clients' own idle timeouts (undici: 4 s), so
  // the client closes first; a server closing one just as a client reuses it resets the request
  server.keepAliveTimeout = 30_000
  server.headersTimeout = 35_000
  // a whole request (an upload included) must arrive within this time: 408 after it
  server.requestTimeout = deps.settings.requestTimeoutMs
  return server
}

export function createApp({ db, settings, log = () => {} }: AppDeps) {
  const app = express()
  app.disable('x-powered-by')
  app.set('query parser', 'simple')
  const uploadLimit = rateLimit('uploads', settings.uploadsPerMinute)
  const runLimit = rateLimit('computations', settings.runsPerMinute)

  // reads keyed by configuration: every GET under /api and /tiles needs a reader key
  if (settings.readsKeyed) {
    app.use(['/api', '/tiles'], (req, _res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next()
      requireRole(db, req, 'reader', settings.apiKey).then(() => next(), next)
    })
  }
  // readiness: the database answers and the server is not shutting down (serve sets
  // app.locals.shuttingDown); /healthz is liveness
  app.get('/readyz', async (_req, res) => {
    if (app.locals.shuttingDown) return void res.status(503).json({ status: 'shutting down' })
    const ok = await Promise.race([db.query('SELECT 1 AS ok').then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))])
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database not answering' })
  })
  app.get('/healthz', async (_req, res) => {
    const [v] = await db.query<{ v: string }>('SELECT postgis_lib_version() AS v')
    res.json({ status: 'ok', backend: db.backend, postgis: v!.v })
  })
  app.get('/api/openapi.json', (_req, res) => res.json(openApi))
  // what the viewer needs to know: an optional basemap, and whether uploads can work
  app.get('/api/config', async (_req, res) => res.json({
    basemap: settings.basemapUrl ? { tiles: [settings.basemapUrl], attribution: settings.basemapAttribution ?? '' } : null,
    writes: await keysConfigured(db, settings.apiKey),
    readsKeyed: settings.readsKeyed,
    maxUploadBytes: settings.maxUploadBytes,
  }))

  app.get('/api/layers', async (_req, res) => res.json(await listLayers(db)))
  app.get('/api/unit-sets', async (_req, res) => res.json(await listUnitSets(db)))
  app.get('/api/unit-sets/:name/units', async (req, res) => {
    const name = String(req.params.name)
    if (!NAME.test(name)) throw new BadInput(`unit set name '${name}' is not valid`)
    res.type('application/geo+json').send(JSON.stringify(await unitsGeoJson(db, await unitSetId(db, name))))
  })

  // Statistics. Every computation is a run (server/runs); GET /api/stats/* waits for it
  // and answers with the result, POST /api/runs answers at once with the run to poll.
  const sendResult = async (req: Request, res: Response, run: RunRecord) => {
    const format = oneOf(req, 'format', FORMATS, 'json')
    const table = param(req, 'table', { pattern: /^[a-z_]{1,32}$/ })
    const out = await render(db, format, await exportableOf(db, run), table)
    res.set('X-Run-Id', String(run.id)).type(out.contentType)
    if (format === 'csv' || format === 'xlsx') res.attachment(`${run.kind}-run${run.id}${table ? `-${table}` : ''}.${out.ext}`)
    res.send(out.body)
  }
  const queryGetter = (req: Request) => (name: string) => param(req, name, { max: 2000 })
  for (const [route, kind] of [['coverage', 'coverage'], ['change', 'change'], ['zonal', 'zonal'], ['raster-change', 'zonal_change']] as const) {
    app.get(`/api/stats/${route}`, async (req, res) => {
      const request = parseRunRequest(kind, queryGetter(req))
      oneOf(req, 'format', FORMATS, 'json') // refuse a bad format before computing
      const run = await runToEnd(db, await planRun(db, request, settings.rasterDir), { signal: abortOnClose(res).signal, reuse: !bool(req, 'fresh') })
      await sendResult(req, res, run)
    })
  }
  // Transfer-payment work: factors, allocations, ESV (computations, like statistics: no key).
  const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
  const sendBook = (res: Response, name: string, body: Buffer) => res.type(XLSX).attachment(name).send(body)
  app.get('/api/factors', async (req, res) => {
    const units = param(req, 'units', { required: true, pattern: NAME })!
    const format = oneOf(req, 'format', FORMATS, 'json')
    const table = oneOf(req, 'table', ['factors', 'units', 'provenance'] as const, 'factors')
    const f = await computeFactors(db, units)
    if (format === 'xlsx') return void sendBook(res, `factors-${units}.xlsx`, await financeWorkbook(f))
    const out = await render(db, format, factorExport(f, await unitSetId(db, units)), table)
    if (format === 'csv') res.attachment(`factors-${units}.csv`)
    res.set('X-Run-Id', String(f.run.id)).type(out.contentType).send(out.body)
  })
  app.post('/api/factors', express.json({ limit: '256kb' }), async (req, res) => {
    const b = (req.body ?? {}) as { units?: unknown; definitions?: unknown }
    if (typeof b.units !== 'string' || !NAME.test(b.units)) throw new BadInput(`'units' (a unit set name) is required`)
    const f = await computeFactors(db, b.units, checkDefinitions(b.definitions))
    const format = oneOf(req, 'format', FORMATS, 'json')
    if (format === 'xlsx') return void sendBook(res, `factors-${b.units}.xlsx`, await financeWorkbook(f))
    const out = await render(db, format, factorExport(f, await unitSetId(db, b.units)), oneOf(req, 'table', ['factors', 'units', 'provenance'] as const, 'factors'))
    res.type(out.contentType).send(out.body)
  })
  // the sample's allocation config, as a starting point for the viewer and API users
  app.get('/api/allocations/example', (_req, res) => res.json(readConfigFile(path.join(SAMPLE_DIR, 'allocation.yaml'))))
  app.post('/api/allocations', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const a = await runAllocation(db, req.body)
    const format = oneOf(req, 'format', FORMATS, 'json')
    const table = oneOf(req, 'table', ['allocation', 'explanation', 'parameters', 'units', 'factors', 'provenance'] as const, 'allocation')
    if (format === 'xlsx') return void sendBook(res, `allocation-${a.config.units}.xlsx`, await financeWorkbook(a.factors, a))
    const out = await render(db, format, allocationExport(a, await unitSetId(db, a.config.units)), table)
    if (format === 'csv') res.attachment(`allocation-${a.config.units}-${table}.csv`)
    res.type(out.contentType).send(out.body)
  })
  app.post('/api/esv', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>
    if (typeof b.units !== 'string' || !NAME.test(b.units)) throw new BadInput(`'units' (a unit set name) is required`)
    for (const k of ['raster', 'layer'] as const) if (b[k] !== undefined && (typeof b[k] !== 'string' || !/^[\p{L}\p{N}_.-]{1,64}(@[0-9A-Za-z_.-]{1,32})?$/u.test(b[k] as string))) throw new BadInput(`'${k}' must be NAME or NAME@VINTAGE`)
    const ev = b.equivalent_value
    if (ev !== undefined && (typeof ev !== 'number' || !(ev > 0))) throw new BadInput(`'equivalent_value' must be a positive number (yuan per hectare)`)
    const coefficients = loadCoefficients()
    const e = await computeEsv(db, b.units, { raster: b.raster as string | undefined, layer: b.layer as string | undefined, mapping: checkMapping(b.mapping, coefficients), coefficients, equivalentValue: ev as number | undefined, rasterDir: settings.rasterDir })
    const format = oneOf(req, 'format', FORMATS, 'json')
    const out = await render(db, format, esvExport(e, await unitSetId(db, b.units)), oneOf(req, 'table', ['esv_units', 'esv', 'esv_by_type', 'esv_totals'] as const, 'esv_units'))
    res.type(out.contentType).send(out.body)
  })

  app.post('/api/runs', needsWhenKeyed(db, 'analyst', settings.apiKey), runLimit, express.json({ limit: '16kb' }), async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>
    const get = (name: string) => {
      const v = b[name]
      if (v === undefined || v === null) return undefined
      if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return String(v)
      throw new BadInput(`'${name}' must be text, a number or true/false`)
    }
    const request = parseRunRequest(get('kind'), get)
    const started = await startRun(db, await planRun(db, request, settings.rasterDir), { reuse: b.fresh !== true })
    started.done.then(
      (r) => log(`run ${r.id} (${r.kind}) ${r.reused ? 'reused' : `done in ${((r.elapsed_ms ?? 0) / 1000).toFixed(1)} s`}`),
      (e) => log(`run ${started.id} ended: ${(e as Error).message}`),
    )
    res.status(started.reused ? 200 : 202).location(`/api/runs/${started.id}`).json({ ...(await getRun(db, started.id)), reused: started.reused })
  })
  app.get('/api/runs', async (_req, res) => res.json(await listRuns(db)))
  const runId = (req: Request) => {
    const id = String(req.params.id)
    if (!/^[0-9]{1,15}$/.test(id)) throw new BadInput(`run id '${id.slice(0, 20)}' is not a number`)
    return Number(id)
  }
  app.get('/api/runs/:id', async (req, res) => res.json(await getRun(db, runId(req))))
  app.get('/api/runs/:id/result', async (req, res) => sendResult(req, res, await getRun(db, runId(req))))
  const cancel = async (req: Request, res: Response) => {
    const run = await getRun(db, runId(req))
    if (run.status !== 'running') throw new Conflict(`run ${run.id} is ${run.status}; only running runs can be cancelled`)
    cancelLocal(run.id)
    await requestCancel(db, run.id)
    res.status(202).json(await getRun(db, run.id))
  }
  app.post('/api/runs/:id/cancel', needsWhenKeyed(db, 'analyst', settings.apiKey), cancel)
  app.delete('/api/runs/:id', needsWhenKeyed(db, 'analyst', settings.apiKey), cancel)

  // Uploads: the raw file is the body; its name (for the format) comes as ?filename=.
  const upload = express.raw({ type: () => true, limit: settings.maxUploadBytes })
  app.post('/api/layers', needs(db, 'admin', settings.apiKey), uploadLimit, upload, async (req, res) => {
    const q = {
      filename: param(req, 'filename', { required: true, pattern: FILENAME })!,
      name: param(req, 'name', { required: true })!,
      kind: param(req, 'kind', { required: true })!,
      vintage: param(req, 'vintage', { required: true })!,
    }
    const report = await withUpload(req, q.filename, (file) =>
      ingestLayer(db, {
        file, displayName: q.filename, layer: q.name, kind: q.kind, vintage: q.vintage,
        crs: param(req, 'crs'), encoding: param(req, 'encoding'), categoryField: param(req, 'category_field'),
        replace: bool(req, 'replace'), invalid: oneOf(req, 'invalid', ['repair', 'fail'] as const, 'repair'),
        maxBytes: settings.maxUploadBytes,
      }),
    )
    log(`ingested layer ${report.layer}@${report.vintage}: ${report.loaded} features`)
    res.status(201).json(report)
  })
  app.post('/api/unit-sets', needs(db, 'admin', settings.apiKey), uploadLimit, upload, async (req, res) => {
    const filename = param(req, 'filename', { required: true, pattern: FILENAME })!
    const report = await withUpload(req, filename, (file) =>
      importUnits(db, {
        file, displayName: filename, set: param(req, 'set', { required: true })!,
        codeField: param(req, 'code_field'), nameField: param(req, 'name_field'), parentField: param(req, 'parent_field'),
        crs: param(req, 'crs'), encoding: param(req, 'encoding'), replace: bool(req, 'replace'), maxBytes: settings.maxUploadBytes,
      }),
    )
    res.status(201).json(report)
  })
  app.post('/api/unit-sets/grid', express.json({ limit: '16kb' }), async (req, res) => {
    await requireRole(db, req, 'admin', settings.apiKey)
    const b = (req.body ?? {}) as Record<string, unknown>
    const bbox = b.bbox === undefined ? undefined : b.bbox
    if (bbox !== undefined && (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number'))) {
      throw new BadInput('bbox must be [minlon, minlat, maxlon, maxlat]')
    }
    const report = await buildGrid(db, {
      set: String(b.set ?? ''), sizeM: Number(b.size), crs: typeof b.crs === 'string' ? b.crs : undefined,
      within: typeof b.within === 'string' ? b.within : undefined, bbox: bbox as [number, number, number, number] | undefined,
      replace: b.replace === true,
    })
    res.status(201).json(report)
  })

  // Rasters: the GeoTIFF is the body (?filename=….tif); a legend may come as ?legend=[{value,name,colour}]
  app.get('/api/rasters', async (_req, res) => res.json(await listRasters(db)))
  app.get('/api/rasters/:name', async (req, res) => res.json(await findRaster(db, rasterSpec(req))))
  app.post('/api/rasters', needs(db, 'admin', settings.apiKey), uploadLimit, upload, async (req, res) => {
    const filename = param(req, 'filename', { required: true, pattern: /^[\p{L}\p{N}_-][\p{L}\p{N}_. -]{0,127}\.tiff?$/iu })!
    const legendText = param(req, 'legend', { max: 16000 })
    let legendFile: string | undefined
    if (legendText) {
      let parsed: unknown
      try { parsed = JSON.parse(legendText) } catch { throw new BadInput("query parameter 'legend' is not JSON: give [{\"value\":1,\"name\":\"forest\",\"colour\":\"#228b22\"}, …]") }
      legendFile = path.join(os.tmpdir(), `ecocensus-legend-${process.pid}-${Date.now()}.json`)
      fs.writeFileSync(legendFile, JSON.stringify(parsed as LegendEntry[]))
    }
    try {
      const report = await withUpload(req, filename, (file) =>
        ingestRaster(db, {
          file, name: param(req, 'name', { required: true })!, vintage: param(req, 'vintage', { required: true })!,
          kind: param(req, 'kind', { required: true })!, crs: param(req, 'crs'), legend: legendFile, replace: bool(req, 'replace'), rasterDir: settings.rasterDir,
        }),
      )
      log(`ingested raster ${report.name}@${report.vintage}`)
      res.status(201).json({ ...report, file: filename })
    } finally {
      if (legendFile) fs.rmSync(legendFile, { force: true })
    }
  })
  app.post('/api/rasters/derive', express.json({ limit: '16kb' }), async (req, res) => {
    await requireRole(db, req, 'admin', settings.apiKey)
    const b = (req.body ?? {}) as Record<string, unknown>
    const num = (k: string) => (b[k] === undefined ? undefined : Number(b[k]))
    if (b.op !== 'ndvi' && b.op !== 'fvc') throw new BadInput("op must be 'ndvi' or 'fvc'")
    const r = await deriveRaster(db, {
      op: b.op, from: String(b.from ?? ''), name: String(b.name ?? ''), vintage: typeof b.vintage === 'string' ? b.vintage : undefined,
      red: num('red'), nir: num('nir'), soil: num('soil'), veg: num('veg'), replace: b.replace === true, rasterDir: settings.rasterDir,
    })
    res.status(201).json(r)
  })
  app.get('/tiles/raster/:name/:z/:x/:y.png', async (req, res) => {
    const r = await findRaster(db, rasterSpec(req))
    const style = tileStyle(r, { band: param(req, 'band'), size: param(req, 'size'), range: param(req, 'range', { max: 60 }), ramp: param(req, 'ramp', { pattern: /^[a-z]{1,16}$/ }) })
    const [z, x, y] = (['z', 'x', 'y'] as const).map((k) => {
      const v = String(req.params[k])
      if (!/^[0-9]{1,8}$/.test(v)) throw new BadInput(`tile ${k} '${v.slice(0, 12)}' is not a number`)
      return Number(v)
    }) as [number, number, number]
    const tile = await rasterTile(db, settings.rasterDir, settings.tileCacheDir, r, z, x, y, style)
    res.set('Cache-Control', 'public, max-age=3600').set('X-Tile-Cache', tile.cached ? 'hit' : 'miss').type('image/png').send(tile.png)
  })

  // Vector tiles: sources and their versions in tiles/vector-source.ts. The ETag is strong
  // (a hash of the bytes, per encoding); clients revalidate (no-cache) and get 304.
  const tileCache = new TileCache(settings.vectorTileCacheBytes)
  app.locals.tileCache = tileCache
  app.get('/tiles/:source.json', async (req, res) => {
    const src = await resolveSource(db, String(req.params.source), param(req, 'run'), { bounds: true })
    const q = src.runId !== undefined ? `?run=${src.runId}` : ''
    const base = `${req.protocol}://${req.get('host')}/tiles/${encodeURIComponent(src.id)}/{z}/{x}/{y}.mvt${q}`
    res.set('Cache-Control', 'no-cache').json(tileJson(src, base, 0, MAX_ZOOM))
  })
  const tiles = vectorTileHandler(db, tileCache, log)
  app.locals.vectorTiles = tiles
  app.get(['/tiles/:source/:z/:x/:y.mvt', '/tiles/:source/:z/:x/:y.pbf'], (req, res) => tiles(req, res))

  app.use('/vendor/exceljs', express.static(path.join(ROOT, 'node_modules', 'exceljs', 'dist'), { maxAge: '1d' }))
  app.use('/vendor/maplibre-gl', express.static(path.join(ROOT, 'node_modules', 'maplibre-gl', 'dist'), { maxAge: '1d' }))
  app.use('/', express.static(path.join(ROOT, 'web')))

  app.use('/api', (req: Request) => {
    throw new AppError404(`no route ${req.method} ${req.originalUrl.split('?')[0]}`)
  })
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = asAppError(err)
    if (httpStatus(e) >= 500) log(`error: ${(err as Error)?.stack ?? err}`)
    res.status(httpStatus(e)).json({ error: { code: e instanceof AppError ? e.code : 'internal', message: e instanceof AppError ? e.message : 'internal error; see the server log' } })
  })
  return app
}

/** ':name' as NAME or NAME@VINTAGE (also ?vintage=). */
function rasterSpec(req: Request): string {
  const name = String(req.params.name)
  if (!/^[\p{L}\p{N}_.-]{1,64}(@[0-9A-Za-z_.-]{1,32})?$/u.test(name)) throw new BadInput(`raster '${name.slice(0, 80)}' is not a valid NAME or NAME@VINTAGE`)
  const vintage = param(req, 'vintage', { pattern: /^[0-9A-Za-z_.-]{1,32}$/ })
  return vintage && !name.includes('@') ? `${name}@${vintage}` : name
}

class AppError404 extends AppError {
  override readonly status = 404
  override readonly code = 'not_found'
}

function asAppError(err: unknown): unknown {
  const e = err as { type?: string; status?: number; limit?: number }
  if (e?.type === 'entity.too.large') return new TooLarge(`upload is larger than the limit of ${e.limit} bytes (ECOCENSUS_MAX_UPLOAD_BYTES)`)
  if (e?.type === 'entity.parse.failed') return new BadInput('request body is not valid JSON')
  return err
}

/** Writes the uploaded bytes to a private temp file named like the original, then cleans up. */
async function withUpload<T>(req: Request, filename: string, fn: (file: string) => Promise<T>): Promise<T> {
  const body = req.body as Buffer
  if (!Buffer.isBuffer(body) || body.length === 0) throw new BadInput(`${filename}: the upload is empty; send the file as the request body`)
  if (/\.shp$/i.test(filename)) throw new BadInput(`${filename}: upload a shapefile as one .zip holding its .shp, .dbf, .shx, .prj (and .cpg)`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecocensus-up-'))
  try {
    const file = path.join(dir, path.basename(filename))
    fs.writeFileSync(file, body)
    return await fn(file)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Aborts when the client disconnects before the response is sent. */
function abortOnClose(res: Response): AbortController {
  const ac = new AbortController()
  res.on('close', () => { if (!res.writableFinished) ac.abort(new Error('client went away')) })
  return ac
}
