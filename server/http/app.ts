import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import os from 'node:os'
import path from 'node:path'
import express, { type NextFunction, type Request, type Response } from 'express'
import type { z } from 'zod'
import type { Db } from '../db/db.ts'
import { AppError, BadInput, Conflict, TooLarge, httpStatus } from '../errors.ts'
import type { Settings } from '../settings.ts'
import { ROOT } from '../settings.ts'
import { listLayers, listUnitSets, unitsGeoJson } from '../catalog.ts'
import { ingestLayer } from '../ingest/ingest-layer.ts'
import { importUnits } from '../units/import-units.ts'
import { buildGrid } from '../units/build-grid.ts'
import { unitSetId } from '../units/unit-set.ts'
import { render, type Format } from '../stats/export.ts'
import { cancelLocal, runToEnd, startRun } from '../runs/execute.ts'
import { exportableOf, parseRunRequest, planRun } from '../runs/run-request.ts'
import { getRun, listRuns, requestCancel, type RunRecord } from '../runs/run-store.ts'
import { needs, needsWhenKeyed, requireRole, requireRoleWhenKeyed } from './auth.ts'
import { rateLimit } from './rate-limit.ts'
import { keysConfigured } from '../auth/keys.ts'
import { parseInput, parseSegment } from '../validate/fields.ts'
import { body as B, path as P, query as Q } from './route-schemas.ts'
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

/** The query string, checked against a route's schema (route-schemas.ts). */
const q = <S extends z.ZodType>(req: Request, schema: S): z.output<S> => parseInput(schema, req.query, 'query')
/** The JSON body, checked likewise. */
const b = <S extends z.ZodType>(req: Request, schema: S): z.output<S> => parseInput(schema, req.body ?? {}, 'body')

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
  // Node checks request timeouts every connectionsCheckingInterval (default 30 s): check often
  // enough that a short ECOCENSUS_REQUEST_TIMEOUT_MS holds
  const every = Math.max(250, Math.min(30_000, Math.floor((deps.settings.requestTimeoutMs || 120_000) / 4)))
  const server = http.createServer({ connectionsCheckingInterval: every }, (req, res) => {
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
  // headers within 35 s, and never later than the whole request may take
  server.headersTimeout = deps.settings.requestTimeoutMs ? Math.min(35_000, deps.settings.requestTimeoutMs) : 35_000
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
  app.get('/readyz', async (req, res) => {
    q(req, Q.none)
    if (app.locals.shuttingDown) return void res.status(503).json({ status: 'shutting down' })
    const ok = await Promise.race([db.query('SELECT 1 AS ok').then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))])
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database not answering' })
  })
  app.get('/healthz', async (req, res) => {
    q(req, Q.none)
    const [v] = await db.query<{ v: string }>('SELECT postgis_lib_version() AS v')
    res.json({ status: 'ok', backend: db.backend, postgis: v!.v })
  })
  app.get('/api/openapi.json', (req, res) => (q(req, Q.none), res.json(openApi)))
  // what the viewer needs to know: an optional basemap, and whether uploads can work
  app.get('/api/config', async (req, res) => (q(req, Q.none), res.json({
    basemap: settings.basemapUrl ? { tiles: [settings.basemapUrl], attribution: settings.basemapAttribution ?? '' } : null,
    writes: await keysConfigured(db, settings.apiKey),
    readsKeyed: settings.readsKeyed,
    maxUploadBytes: settings.maxUploadBytes,
  })))

  app.get('/api/layers', async (req, res) => (q(req, Q.none), res.json(await listLayers(db))))
  app.get('/api/unit-sets', async (req, res) => (q(req, Q.none), res.json(await listUnitSets(db))))
  app.get('/api/unit-sets/:name/units', async (req, res) => {
    q(req, Q.none)
    const name = parseSegment(P.name, String(req.params.name), 'unit set')
    res.type('application/geo+json').send(JSON.stringify(await unitsGeoJson(db, await unitSetId(db, name))))
  })

  // Starting a new statistics run needs an analyst key once any key exists; reading a stored
  // result (an identical run is reused) and arithmetic on stored results stay reads.
  const mayCompute = (req: Request) => () => requireRoleWhenKeyed(db, req, 'analyst', settings.apiKey)

  // Statistics. Every computation is a run (server/runs); GET /api/stats/* waits for it
  // and answers with the result, POST /api/runs answers at once with the run to poll.
  const sendResult = async (res: Response, run: RunRecord, { format, table }: { format: Format; table?: string }) => {
    const out = await render(db, format, await exportableOf(db, run), table)
    res.set('X-Run-Id', String(run.id)).type(out.contentType)
    if (format === 'csv' || format === 'xlsx') res.attachment(`${run.kind}-run${run.id}${table ? `-${table}` : ''}.${out.ext}`)
    res.send(out.body)
  }
  for (const [route, kind] of [['coverage', 'coverage'], ['change', 'change'], ['zonal', 'zonal'], ['raster-change', 'zonal_change']] as const) {
    app.get(`/api/stats/${route}`, async (req, res) => {
      const { request, extra } = parseRunRequest(kind, req.query, 'query', Q.stats)
      const run = await runToEnd(db, await planRun(db, request, settings.rasterDir), { signal: abortOnClose(res).signal, reuse: !extra.fresh, beforeCompute: mayCompute(req), timeoutMs: settings.runTimeoutMs })
      await sendResult(res, run, extra)
    })
  }
  // Transfer-payment work: factors, allocations, ESV (they start coverage, change and zonal
  // runs where none is stored: mayCompute, like statistics).
  const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
  const sendBook = (res: Response, name: string, body: Buffer) => res.type(XLSX).attachment(name).send(body)
  app.get('/api/factors', async (req, res) => {
    const { units, format, table } = q(req, Q.factors)
    const f = await computeFactors(db, units, undefined, { beforeCompute: mayCompute(req) })
    if (format === 'xlsx') return void sendBook(res, `factors-${units}.xlsx`, await financeWorkbook(f))
    const out = await render(db, format, factorExport(f, await unitSetId(db, units)), table)
    if (format === 'csv') res.attachment(`factors-${units}.csv`)
    res.set('X-Run-Id', String(f.run.id)).type(out.contentType).send(out.body)
  })
  app.post('/api/factors', express.json({ limit: '256kb' }), async (req, res) => {
    const { format, table } = q(req, Q.factorsPost)
    const { units, definitions } = b(req, B.factors)
    const f = await computeFactors(db, units, definitions === undefined ? undefined : checkDefinitions(definitions), { beforeCompute: mayCompute(req) })
    if (format === 'xlsx') return void sendBook(res, `factors-${units}.xlsx`, await financeWorkbook(f))
    const out = await render(db, format, factorExport(f, await unitSetId(db, units)), table)
    res.type(out.contentType).send(out.body)
  })
  // the sample's allocation config, as a starting point for the viewer and API users
  app.get('/api/allocations/example', (req, res) => (q(req, Q.none), res.json(readConfigFile(path.join(SAMPLE_DIR, 'allocation.yaml')))))
  app.post('/api/allocations', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const { format, table } = q(req, Q.allocations)
    const a = await runAllocation(db, req.body, { beforeCompute: mayCompute(req) })
    if (format === 'xlsx') return void sendBook(res, `allocation-${a.config.units}.xlsx`, await financeWorkbook(a.factors, a))
    const out = await render(db, format, allocationExport(a, await unitSetId(db, a.config.units)), table)
    if (format === 'csv') res.attachment(`allocation-${a.config.units}-${table}.csv`)
    res.type(out.contentType).send(out.body)
  })
  app.post('/api/esv', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const { format, table } = q(req, Q.esv)
    const o = b(req, B.esv)
    const coefficients = loadCoefficients()
    const e = await computeEsv(db, o.units, { raster: o.raster, layer: o.layer, mapping: checkMapping(o.mapping, coefficients), coefficients, equivalentValue: o.equivalent_value, rasterDir: settings.rasterDir, beforeCompute: mayCompute(req) })
    const out = await render(db, format, esvExport(e, await unitSetId(db, o.units)), table)
    res.type(out.contentType).send(out.body)
  })

  app.post('/api/runs', needsWhenKeyed(db, 'analyst', settings.apiKey), runLimit, express.json({ limit: '16kb' }), async (req, res) => {
    q(req, Q.none)
    const input = (req.body ?? {}) as Record<string, unknown>
    if (typeof input !== 'object' || Array.isArray(input)) throw new BadInput('the body must be a JSON object {kind, units, …}')
    const { request, extra } = parseRunRequest(input.kind, input, 'body', B.runs)
    const started = await startRun(db, await planRun(db, request, settings.rasterDir), { reuse: !extra.fresh, timeoutMs: settings.runTimeoutMs })
    started.done.then(
      (r) => log(`run ${r.id} (${r.kind}) ${r.reused ? 'reused' : `done in ${((r.elapsed_ms ?? 0) / 1000).toFixed(1)} s`}`),
      (e) => log(`run ${started.id} ended: ${(e as Error).message}`),
    )
    res.status(started.reused ? 200 : 202).location(`/api/runs/${started.id}`).json({ ...(await getRun(db, started.id)), reused: started.reused })
  })
  app.get('/api/runs', async (req, res) => (q(req, Q.none), res.json(await listRuns(db))))
  const runId = (req: Request) => parseSegment(P.runId, String(req.params.id), 'run id')
  app.get('/api/runs/:id', async (req, res) => (q(req, Q.none), res.json(await getRun(db, runId(req)))))
  app.get('/api/runs/:id/result', async (req, res) => {
    const o = q(req, Q.result)
    await sendResult(res, await getRun(db, runId(req)), o)
  })
  const cancel = async (req: Request, res: Response) => {
    q(req, Q.none)
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
    const o = q(req, Q.layerUpload)
    const report = await withUpload(req, o.filename, (file) =>
      ingestLayer(db, {
        file, displayName: o.filename, layer: o.name, kind: o.kind, vintage: o.vintage,
        crs: o.crs, encoding: o.encoding, categoryField: o.category_field, table: o.table,
        replace: !!o.replace, invalid: o.invalid, maxBytes: settings.maxUploadBytes, maxFeatureVertices: settings.maxFeatureVertices,
      }),
    )
    log(`ingested layer ${report.layer}@${report.vintage}: ${report.loaded} features`)
    res.status(201).json(report)
  })
  app.post('/api/unit-sets', needs(db, 'admin', settings.apiKey), uploadLimit, upload, async (req, res) => {
    const o = q(req, Q.unitsUpload)
    const report = await withUpload(req, o.filename, (file) =>
      importUnits(db, {
        file, displayName: o.filename, set: o.set, codeField: o.code_field, nameField: o.name_field, parentField: o.parent_field,
        crs: o.crs, encoding: o.encoding, table: o.table, replace: !!o.replace, maxBytes: settings.maxUploadBytes, maxFeatureVertices: settings.maxFeatureVertices,
      }),
    )
    res.status(201).json(report)
  })
  app.post('/api/unit-sets/grid', express.json({ limit: '16kb' }), async (req, res) => {
    await requireRole(db, req, 'admin', settings.apiKey)
    q(req, Q.none)
    const o = b(req, B.grid)
    const report = await buildGrid(db, { set: o.set, sizeM: o.size, crs: o.crs, within: o.within, bbox: o.bbox, replace: !!o.replace })
    res.status(201).json(report)
  })

  // Rasters: the GeoTIFF is the body (?filename=….tif); a legend may come as ?legend=[{value,name,colour}]
  app.get('/api/rasters', async (req, res) => (q(req, Q.none), res.json(await listRasters(db))))
  app.get('/api/rasters/:name', async (req, res) => res.json(await findRaster(db, rasterSpec(req, q(req, Q.raster).vintage))))
  app.post('/api/rasters', needs(db, 'admin', settings.apiKey), uploadLimit, upload, async (req, res) => {
    const o = q(req, Q.rasterUpload)
    const filename = o.filename
    const legendText = o.legend
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
          file, name: o.name, vintage: o.vintage, kind: o.kind, crs: o.crs, legend: legendFile, replace: !!o.replace, rasterDir: settings.rasterDir,
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
    q(req, Q.none)
    const o = b(req, B.derive)
    const r = await deriveRaster(db, { ...o, replace: !!o.replace, rasterDir: settings.rasterDir })
    res.status(201).json(r)
  })
  app.get('/tiles/raster/:name/:z/:x/:y.png', async (req, res) => {
    const o = q(req, Q.rasterTile)
    const { z, x, y } = tileAddress(req)
    const r = await findRaster(db, rasterSpec(req, o.vintage))
    const style = tileStyle(r, { band: o.band === undefined ? undefined : String(o.band), size: o.size, range: o.range, ramp: o.ramp })
    const tile = await rasterTile(db, settings.rasterDir, settings.tileCacheDir, r, z, x, y, style)
    res.set('Cache-Control', 'public, max-age=3600').set('X-Tile-Cache', tile.cached ? 'hit' : 'miss').type('image/png').send(tile.png)
  })

  // Vector tiles: sources and their versions in tiles/vector-source.ts. The ETag is strong
  // (a hash of the bytes, per encoding); clients revalidate (no-cache) and get 304.
  const tileCache = new TileCache(settings.vectorTileCacheBytes)
  app.locals.tileCache = tileCache
  app.get('/tiles/:source.json', async (req, res) => {
    const { run } = q(req, Q.tileJson)
    const src = await resolveSource(db, String(req.params.source), run === undefined ? undefined : String(run), { bounds: true })
    const runQuery = src.runId !== undefined ? `?run=${src.runId}` : ''
    const base = `${req.protocol}://${req.get('host')}/tiles/${encodeURIComponent(src.id)}/{z}/{x}/{y}.mvt${runQuery}`
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

/** ':name' as NAME or NAME@VINTAGE (or NAME with ?vintage=). */
function rasterSpec(req: Request, vintage: string | undefined): string {
  const name = parseSegment(P.spec, String(req.params.name), 'raster')
  return vintage && !name.includes('@') ? `${name}@${vintage}` : name
}

/** :z/:x/:y of a tile route. */
function tileAddress(req: Request): { z: number; x: number; y: number } {
  const r = P.tile.safeParse({ z: req.params.z, x: req.params.x, y: req.params.y })
  if (!r.success) throw new BadInput(`tile ${String(req.params.z).slice(0, 8)}/${String(req.params.x).slice(0, 8)}/${String(req.params.y).slice(0, 8)}: ${r.error.issues.map((i) => `${i.path.length ? `${i.path.join('')} ` : ''}${i.message}`).join('; ')}`)
  return r.data
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
