import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import os from 'node:os'
import path from 'node:path'
import express, { type NextFunction, type Request, type Response } from 'express'
import helmet from 'helmet'
import type { z } from 'zod'
import type { Db } from '../db/db.ts'
import { AppError, BadInput, Conflict, DbError, TooLarge, httpStatus, oneLine } from '../errors.ts'
import type { Settings } from '../settings.ts'
import { ROOT } from '../settings.ts'
import { listLayers, listUnitSets, unitLabels, unitsGeoJson } from '../catalog/list.ts'
import { ingestLayer } from '../ingest/ingest-layer.ts'
import { importUnits } from '../units/import-units.ts'
import { buildGrid } from '../units/build-grid.ts'
import { unitSetId } from '../units/unit-set.ts'
import { FILE_FORMATS, render, type Format } from '../results/export.ts'
import { cancelLocal, runToEnd, startRun } from '../runs/execute.ts'
import { exportableOf, parseRunRequest, planRun } from '../results/kinds.ts'
import { getRun, listRuns, requestCancel, type RunRecord } from '../runs/run-store.ts'
import { actorOf, carriesKey, needsCatalogAdmin, needsWhenKeyed, principalOf, requireCatalogAdmin, requireRole, requireRoleWhenKeyed } from './auth.ts'
import { rateLimit } from './rate-limit.ts'
import { withUpload } from './upload.ts'
import { auditRequests } from './audit-http.ts'
import { listAudit } from '../audit/audit.ts'
import { layerHistory } from '../catalog/history.ts'
import { checkSetInScope, Forbidden, scopeExportable, unitsInScope } from '../auth/scope.ts'
import type { Principal } from '../auth/keys.ts'
import type { Exportable } from '../results/export.ts'
import { keysConfigured } from '../auth/keys.ts'
import { parseInput, parseSegment } from '../validate/fields.ts'
import { body as B, path as P, query as Q } from './route-schemas.ts'
import { openApi } from './openapi.ts'
import { deriveRaster, ingestRaster } from '../raster/ingest-raster.ts'
import { findRaster, listRasters } from '../raster/raster-store.ts'
import type { LegendEntry } from '../raster/legend.ts'
import { rasterTile, tileStyle } from '../tiles/raster-tile.ts'
import { resolveSource, tileJson } from '../tiles/vector-source.ts'
import { MAX_ZOOM } from '../tiles/vector-tile.ts'
import { isVectorTileRequest, vectorTileHandler } from '../tiles/vector-tile-http.ts'
import { TileCache } from '../tiles/tile-cache.ts'
import { checkDefinitions, computeFactors, factorExport } from '../factors/factors.ts'
import { planGep, readGep } from '../gep/gep.ts'
import { readConfig as readGepConfig } from '../gep/config.ts'
import { gepExport } from '../results/gep-tables.ts'
import { planCompensation, readCompensation } from '../ledger/compensate.ts'
import { importIndicators, listIndicatorSets } from '../indicators/indicators.ts'
import { findSections, importSections, listSections, sectionsOf } from '../watershed/sections.ts'
import { importSeries, listSeries } from '../watershed/series.ts'
import { planSettlement, readAgreement, readSettlement } from '../watershed/settle.ts'
import { settlementExport } from '../results/settlement-tables.ts'
import { readStandards } from '../ledger/config.ts'
import { compensationExport } from '../results/ledger-tables.ts'
import type { RollupLevel } from '../results/rollup.ts'
import { allocationExport, financeWorkbook, readConfigFile, runAllocation } from '../factors/allocation.ts'
import { checkMapping, computeEsv, esvExport, loadCoefficients } from '../factors/esv.ts'
import { SAMPLE_DIR } from '../sample/load.ts'
import { prepareLayer } from '../stats/cells/read/contacts.ts'
import type { Runtime } from '../runtime.ts'
import { trend } from '../stats/trend.ts'
import { evaluateAlerts, readAlerts } from '../alerts/alerts.ts'
import { checkRules } from '../alerts/rules.ts'
import { alertsExport } from '../results/alert-tables.ts'
import { trendExport } from '../results/trend-tables.ts'
import { ogcFeatures } from './ogc/features.ts'

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
  /** the worker pools requests and the runs they start use (server/runtime.ts); absent: none */
  runtime?: Runtime
}

/** One access-log line; `key` is the id of the key the request carried (never the key), null without one. */
export interface AccessEntry { id: string; method: string; path: string; status: number; ms: number; bytes: number; key: number | 'settings' | null }

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/** The HTTP server: vector tile requests are answered before Express (see
 *  server/tiles/vector-tile-http.ts), everything else by the app. */
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
      res.once('finish', () => {
        const entry = { id, method: req.method ?? '', path: (req.url ?? '').split('?')[0]!.slice(0, 300), status: res.statusCode, ms: Math.round((performance.now() - t0) * 10) / 10, bytes: Number(res.getHeader('content-length') ?? 0) }
        const known = (req as { ecoPrincipal?: Promise<Principal | null> }).ecoPrincipal
        if (!known) return deps.access!({ ...entry, key: null })
        known.then((p) => deps.access!({ ...entry, key: p ? p.keyId ?? 'settings' : null }), () => deps.access!({ ...entry, key: null }))
      })
    }
    // the fast path serves anonymous tiles; a request with a key goes through the app, which
    // checks it and limits unit tiles to its regions
    const handle = () => (isVectorTileRequest(req.method, req.url) && !deps.settings.readsKeyed && !carriesKey(req) ? void tiles(req, res) : app(req, res))
    if (deps.runtime) deps.runtime.run(handle)
    else handle()
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

  // standard security headers; the viewer loads only its own scripts (MapLibre's workers
  // start from blob: URLs), an optional basemap's tiles, and inline styles of its markup
  const basemapOrigin = settings.basemapUrl ? originOf(settings.basemapUrl) : undefined
  app.use(helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'worker-src': ["'self'", 'blob:'],
        'child-src': ["'self'", 'blob:'],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:', 'blob:', ...(basemapOrigin ? [basemapOrigin] : [])],
        'connect-src': ["'self'", ...(basemapOrigin ? [basemapOrigin] : [])],
        'font-src': ["'self'", 'data:'],
        'object-src': ["'none'"],
        'base-uri': ["'self'"],
        'frame-ancestors': ["'none'"],
        'form-action': ["'self'"],
      },
    },
    // tiles are fetched by map clients on other origins
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    // plain http on a laptop: no HSTS pinning of localhost
    strictTransportSecurity: false,
  }))
  // who asks: a key is checked once per request (an invalid one is 401 on every route);
  // answers to a request with a key are private to it
  app.use(['/api', '/tiles', '/ogc'], (req, res, next) => {
    if (carriesKey(req) || settings.readsKeyed) res.set('Cache-Control', 'private, no-cache').vary('Authorization').vary('X-Api-Key')
    principalOf(db, req, settings.apiKey).then(() => next(), next)
  })
  app.use('/api', auditRequests(db, settings.apiKey, log))

  // reads keyed by configuration: every GET under /api and /tiles needs a reader key
  if (settings.readsKeyed) {
    app.use(['/api', '/tiles', '/ogc'], (req, _res, next) => {
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
  // every version ever imported under the name: current and retired, who and when
  app.get('/api/layers/:name/history', async (req, res) => (q(req, Q.none), res.json(await layerHistory(db, parseSegment(P.name, String(req.params.name), 'layer')))))
  app.get('/api/unit-sets', async (req, res) => {
    q(req, Q.none)
    const sets = await listUnitSets(db)
    const scopes = await scopesOf(req)
    if (!scopes) return void res.json(sets)
    const seen = []
    for (const s of sets) if (await setVisible((s as { id: number }).id, scopes)) seen.push(s)
    res.json(seen)
  })
  // a set's units as GeoJSON (outlines; or label points, one per unit, where the viewer writes
  // each unit's name), the features of units outside a key's regions left out
  type UnitFc = { type: string; features: { id: string }[] }
  const readers: [string, (db: Db, setId: number) => Promise<UnitFc>][] = [['units', unitsGeoJson], ['labels', unitLabels]]
  for (const [route, read] of readers) {
    app.get(`/api/unit-sets/:name/${route}`, async (req, res) => {
      q(req, Q.none)
      const name = parseSegment(P.name, String(req.params.name), 'unit set')
      const id = await unitSetId(db, name)
      const codes = await scopeSet(req, id, name)
      const fc = await read(db, id)
      if (codes) fc.features = fc.features.filter((f) => codes.has(f.id))
      res.type('application/geo+json').send(JSON.stringify(fc))
    })
  }
  // the audit trail: admins with a key for every region
  app.get('/api/audit', async (req, res) => {
    const o = q(req, Q.audit)
    await requireCatalogAdmin(db, req, settings.apiKey)
    res.json(await listAudit(db, o))
  })

  // Starting a new statistics run needs an analyst key once the server is keyed, and counts
  // against the client's computations a minute; reading a stored result (an identical run is
  // reused) and arithmetic on stored results stay reads.
  // Routes that count every request with the runLimit middleware (allocations, ESV) pass
  // counted: their runs take no second token.
  const mayCompute = (req: Request, res?: Response, o: { counted?: boolean } = {}) => async () => {
    await requireRoleWhenKeyed(db, req, 'analyst', settings.apiKey)
    if (!o.counted) runLimit.take(req, res)
  }
  const who = async (req: Request) => actorOf(await principalOf(db, req, settings.apiKey)).actor
  /** A key's regions, or undefined for a key (or no key) that sees everything. */
  const scopesOf = async (req: Request) => (await principalOf(db, req, settings.apiKey))?.scopes ?? undefined
  /** Refuses (403) a set a scoped key has no unit of; returns the codes it may see. */
  const scopeSet = async (req: Request, setId: number, setName: string, whole = false) => {
    const scopes = await scopesOf(req)
    return scopes ? checkSetInScope(db, setId, setName, scopes, whole) : undefined
  }
  /** scopeSet for a set given by name: its id, and the codes the key may see. */
  const scopeSetNamed = async (req: Request, name: string, whole = false) => {
    const setId = await unitSetId(db, name)
    return { setId, codes: await scopeSet(req, setId, name, whole) }
  }
  /** Whether a scoped key has any unit in the set (listings leave the others out). */
  const setVisible = async (setId: number, scopes: string[]) => (await unitsInScope(db, setId, scopes)).codes.size > 0
  /** A run request's plan, refused (403) when its unit set is outside the key's regions. */
  const planInScope = async (req: Request, request: Parameters<typeof planRun>[1]) => {
    const plan = await planRun(db, request, settings.rasterDir)
    const set = plan.inputs.unitSet as { id: number; name: string }
    await scopeSet(req, set.id, set.name)
    return plan
  }
  const scoped = (x: Exportable, codes: Set<string> | undefined) => (codes ? scopeExportable(x, codes) : x)
  type SetRef = { unitSet?: { id: number; name: string } } | null
  /** the unit set a run measured: its meta once done, its recorded inputs while it runs */
  const runSet = (run: RunRecord) => (run.meta as SetRef)?.unitSet ?? (run.inputs as SetRef)?.unitSet

  // Statistics. Every computation is a run (server/runs); GET /api/stats/* waits for it
  // and answers with the result, POST /api/runs answers at once with the run to poll.
  const sendResult = async (req: Request, res: Response, run: RunRecord, { format, table, rollup, labels }: { format: Format; table?: string; rollup?: RollupLevel; labels?: 'zh' }) => {
    const set = runSet(run)
    const codes = set ? await scopeSet(req, set.id, set.name) : undefined
    const out = await render(db, format, scoped(await exportableOf(db, run), codes), table, rollup, { labels })
    res.set('X-Run-Id', String(run.id)).type(out.contentType)
    if (format === 'csv' || FILE_FORMATS.has(format)) res.attachment(`${run.kind}-run${run.id}${table ? `-${table}` : ''}.${out.ext}`).type(out.contentType)
    res.send(out.body)
  }
  for (const [route, kind] of [['coverage', 'coverage'], ['change', 'change'], ['zonal', 'zonal'], ['raster-change', 'zonal_change']] as const) {
    app.get(`/api/stats/${route}`, async (req, res) => {
      const { request, extra } = parseRunRequest(kind, req.query, 'query', Q.stats)
      const run = await runToEnd(db, await planInScope(req, request), { signal: abortOnClose(res).signal, reuse: !extra.fresh, beforeCompute: mayCompute(req, res), timeoutMs: settings.runTimeoutMs, actor: await who(req) })
      await sendResult(req, res, run, extra)
    })
  }
  // a layer over N vintages: areas, intervals, rates per year (stats/trend.ts; coverage and change runs)
  app.get('/api/stats/trend', async (req, res) => {
    const o = q(req, Q.trend)
    const { setId, codes } = await scopeSetNamed(req, o.units)
    const t = await trend(db, o.units, { layer: o.layer, vintages: o.vintages, categories: !!o.categories }, { signal: abortOnClose(res).signal, reuse: !o.fresh, beforeCompute: mayCompute(req, res), timeoutMs: settings.runTimeoutMs, actor: await who(req) })
    const out = await render(db, o.format, scoped(trendExport(t, setId), codes), o.table, o.rollup, { labels: o.labels })
    res.set('X-Run-Id', t.runs.map((r) => r.id).join(',')).type(out.contentType)
    if (o.format === 'csv' || FILE_FORMATS.has(o.format)) res.attachment(`trend-${o.layer}-${o.units}.${out.ext}`).type(out.contentType)
    res.send(out.body)
  })
  // a unit's printable report (report/): PDF through headless Chromium, or HTML
  app.get('/api/report', async (req, res) => {
    const o = q(req, Q.report)
    const { codes } = await scopeSetNamed(req, o.units)
    if (codes && !codes.has(o.unit)) throw new Forbidden(`unit '${o.unit}' is outside this key's regions`)
    const { countyReport } = await import('../report/county-report.ts')
    const r = await countyReport(db, { units: o.units, unit: o.unit, year: o.year, lang: o.lang, format: o.format ?? 'pdf' }, { signal: abortOnClose(res).signal, beforeCompute: mayCompute(req, res), timeoutMs: settings.runTimeoutMs, actor: await who(req) })
    res.set('X-Run-Id', r.runs.join(','))
    if (r.ext === 'pdf') res.attachment(`report-${o.units}-${o.unit}.pdf`)
    res.type(r.contentType).send(r.body)
  })
  // Transfer-payment work: factors, allocations, ESV (they start coverage, change and zonal
  // runs where none is stored: mayCompute, like statistics).
  const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
  const sendBook = (res: Response, name: string, body: Buffer) => res.type(XLSX).attachment(name).send(body)
  const sendFactors = async (req: Request, res: Response, units: string, definitions: unknown[] | undefined, format: Format, table: string, rollup?: RollupLevel) => {
    const { setId, codes } = await scopeSetNamed(req, units)
    const f = await computeFactors(db, units, definitions === undefined ? undefined : checkDefinitions(definitions), { rasterDir: settings.rasterDir, beforeCompute: mayCompute(req, res), actor: await who(req) })
    // the finance workbook lays out every unit of the set; a key limited to regions gets the
    // plain workbook of its own rows
    if (format === 'xlsx' && !codes && !rollup) return void sendBook(res, `factors-${units}.xlsx`, await financeWorkbook(f))
    const out = await render(db, format, scoped(factorExport(f, setId), codes), table, rollup)
    if (format === 'csv' || FILE_FORMATS.has(format)) res.attachment(`factors-${units}.${out.ext}`).type(out.contentType)
    res.set('X-Run-Id', String(f.run.id)).type(out.contentType).send(out.body)
  }
  app.get('/api/factors', async (req, res) => {
    const { units, format, table, rollup } = q(req, Q.factors)
    await sendFactors(req, res, units, undefined, format, table, rollup)
  })
  app.post('/api/factors', express.json({ limit: '2mb' }), async (req, res) => {
    const { format, table, rollup } = q(req, Q.factorsPost)
    const { units, definitions } = b(req, B.factors)
    await sendFactors(req, res, units, definitions, format, table, rollup)
  })
  // the sample's allocation config, as a starting point for the viewer and API users
  app.get('/api/allocations/example', (req, res) => (q(req, Q.none), res.json(readConfigFile(path.join(SAMPLE_DIR, 'allocation.yaml')))))
  app.post('/api/allocations', runLimit, express.json({ limit: '2mb' }), async (req, res) => {
    const { format, table } = q(req, Q.allocations)
    // an allocation shares a budget over the whole set: a key limited to regions needs every unit
    const a = await runAllocation(db, req.body, { rasterDir: settings.rasterDir, beforeCompute: mayCompute(req, res, { counted: true }), actor: await who(req), beforeAllocate: async (units) => void (await scopeSetNamed(req, units, true)) })
    if (format === 'xlsx') return void sendBook(res, `allocation-${a.config.units}.xlsx`, await financeWorkbook(a.factors, a))
    const out = await render(db, format, allocationExport(a, await unitSetId(db, a.config.units)), table)
    if (format === 'csv') res.attachment(`allocation-${a.config.units}-${table}.csv`)
    res.type(out.contentType).send(out.body)
  })
  app.post('/api/esv', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const { format, table } = q(req, Q.esv)
    const o = b(req, B.esv)
    const coefficients = loadCoefficients()
    const mapping = checkMapping(o.mapping, coefficients)
    const { setId, codes } = await scopeSetNamed(req, o.units)
    const e = await computeEsv(db, o.units, { raster: o.raster, layer: o.layer, mapping, coefficients, equivalentValue: o.equivalent_value, rasterDir: settings.rasterDir, beforeCompute: mayCompute(req, res, { counted: true }), actor: await who(req) })
    const out = await render(db, format, scoped(esvExport(e, setId), codes), table)
    res.type(out.contentType).send(out.body)
  })
  // the sample's GEP config with its tables read in, as a starting point for the viewer and API users
  app.get('/api/gep/example', async (req, res) => (q(req, Q.none), res.json(await readGepConfig(path.join(SAMPLE_DIR, 'gep.yaml')))))
  // GEP: the config comes whole in the body (tables and prices inline); the run is stored
  // like the statistics and its result is also at /api/runs/:id/result
  app.post('/api/gep', runLimit, express.json({ limit: '2mb' }), async (req, res) => {
    const { format, table, fresh, rollup } = q(req, Q.gep)
    const o = b(req, B.gep)
    const { setId, codes } = await scopeSetNamed(req, o.units)
    const run = await runToEnd(db, await planGep(db, { units: o.units, config: o.config, year: o.year, compare: o.compare }, settings.rasterDir), {
      signal: abortOnClose(res).signal, reuse: !fresh, beforeCompute: mayCompute(req, res, { counted: true }), timeoutMs: settings.runTimeoutMs, actor: await who(req),
    })
    const out = await render(db, format, scoped(gepExport(await readGep(db, run), setId), codes), table, rollup)
    res.set('X-Run-Id', String(run.id)).type(out.contentType)
    if (format === 'csv' || FILE_FORMATS.has(format)) res.attachment(`gep-${o.units}-run${run.id}.${out.ext}`).type(out.contentType)
    res.send(out.body)
  })

  // the compensation ledger: per-hectare standards paid once under a rule (docs/compensation.md)
  app.get('/api/compensation/example', async (req, res) => (q(req, Q.none), res.json(readStandards(path.join(SAMPLE_DIR, 'standards.yaml')))))
  app.post('/api/compensation', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const { format, table, fresh, rollup } = q(req, Q.compensation)
    const o = b(req, B.compensation)
    const { setId, codes } = await scopeSetNamed(req, o.units)
    const run = await runToEnd(db, await planCompensation(db, { units: o.units, config: o.config }), {
      signal: abortOnClose(res).signal, reuse: !fresh, beforeCompute: mayCompute(req, res, { counted: true }), timeoutMs: settings.runTimeoutMs, actor: await who(req),
    })
    const out = await render(db, format, scoped(compensationExport(await readCompensation(db, run), setId), codes), table, rollup)
    res.set('X-Run-Id', String(run.id)).type(out.contentType)
    if (format === 'csv' || FILE_FORMATS.has(format)) res.attachment(`compensation-${o.units}-run${run.id}.${out.ext}`).type(out.contentType)
    res.send(out.body)
  })

  // alerts: rules over layer trends and raster changes per unit, kept as a run (alerts/)
  app.get('/api/alerts/example', (req, res) => (q(req, Q.none), res.json(checkRules(readConfigFile(path.join(SAMPLE_DIR, 'alerts.yaml'))))))
  app.post('/api/alerts', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const { format, table, fresh } = q(req, Q.alerts)
    const o = b(req, B.alerts)
    const doc = (Array.isArray(o.rules) ? { rules: o.rules } : o.rules) as { units?: string }
    const units = o.units ?? doc?.units
    if (!units) throw new BadInput("body 'units': name the unit set (or give units in the rules document)")
    const { setId, codes } = await scopeSetNamed(req, units)
    const ro = { signal: abortOnClose(res).signal, reuse: !fresh, beforeCompute: mayCompute(req, res, { counted: true }), timeoutMs: settings.runTimeoutMs, actor: await who(req) }
    const r = await evaluateAlerts(db, { units, rules: doc }, settings.rasterDir, ro)
    const out = await render(db, format, scoped(alertsExport(r, setId), codes), table)
    res.set('X-Run-Id', String(r.run.id)).type(out.contentType)
    if (format === 'csv' || FILE_FORMATS.has(format)) res.attachment(`alerts-${units}-run${r.run.id}.${out.ext}`).type(out.contentType)
    res.send(out.body)
  })
  // the ground an alerts run points at: lost (or gained) patches as GeoJSON
  app.get('/api/alerts/:id/patches', async (req, res) => {
    q(req, Q.none)
    const run = await visibleRun(req)
    if (run.kind !== 'alerts') throw new BadInput(`run ${run.id} is a ${run.kind} run, not an alerts run`)
    const r = await readAlerts(db, run)
    const set = runSet(run)
    const codes = set ? await scopeSet(req, set.id, set.name) : undefined
    const features = codes ? r.patches.features.filter((f) => codes.has(f.properties.unit_code)) : r.patches.features
    res.set('X-Run-Id', String(run.id)).type('application/geo+json').send(JSON.stringify({ type: 'FeatureCollection', run: run.id, features }))
  })

  app.post('/api/runs', needsWhenKeyed(db, 'analyst', settings.apiKey), runLimit, express.json({ limit: '16kb' }), async (req, res) => {
    q(req, Q.none)
    const input = (req.body ?? {}) as Record<string, unknown>
    if (typeof input !== 'object' || Array.isArray(input)) throw new BadInput('the body must be a JSON object {kind, units, …}')
    const { request, extra } = parseRunRequest(input.kind, input, 'body', B.runs)
    // a new run is answered as accepted (running, 0 %): a quick one may be done before a
    // second read, and the client would never see that it ran
    let accepted: Awaited<ReturnType<typeof getRun>> | undefined
    const started = await startRun(db, await planInScope(req, request), { reuse: !extra.fresh, timeoutMs: settings.runTimeoutMs, actor: await who(req), created: async (id) => { accepted = await getRun(db, id) } })
    res.locals.auditTarget = `run ${started.id}`
    started.done.then(
      (r) => log(`run ${r.id} (${r.kind}) ${r.reused ? 'reused' : `done in ${((r.elapsed_ms ?? 0) / 1000).toFixed(1)} s`}`),
      (e) => log(`run ${started.id} ended: ${(e as Error).message}`),
    )
    res.status(started.reused ? 200 : 202).location(`/api/runs/${started.id}`).json({ ...(accepted ?? (await getRun(db, started.id))), reused: started.reused })
  })
  app.get('/api/runs', async (req, res) => {
    q(req, Q.none)
    const runs = await listRuns(db)
    const scopes = await scopesOf(req)
    if (!scopes) return void res.json(runs)
    const sets = new Map<number, boolean>()
    const seen = []
    for (const r of runs) {
      const set = runSet(r)
      if (!set) continue
      if (!sets.has(set.id)) sets.set(set.id, await setVisible(set.id, scopes))
      if (sets.get(set.id)) seen.push(r)
    }
    res.json(seen)
  })
  const runId = (req: Request) => parseSegment(P.runId, String(req.params.id), 'run id')
  /** A run the request may see: a key limited to regions sees runs over sets it has units in. */
  const visibleRun = async (req: Request) => {
    const run = await getRun(db, runId(req))
    const set = runSet(run)
    if (set) await scopeSet(req, set.id, set.name)
    else if (await scopesOf(req)) throw new Forbidden(`run ${run.id} names no unit set; a key limited to regions cannot see it`)
    return run
  }
  app.get('/api/runs/:id', async (req, res) => (q(req, Q.none), res.json(await visibleRun(req))))
  app.get('/api/runs/:id/result', async (req, res) => {
    const o = q(req, Q.result)
    await sendResult(req, res, await visibleRun(req), o)
  })
  const cancel = async (req: Request, res: Response) => {
    q(req, Q.none)
    const run = await visibleRun(req)
    if (run.status !== 'running') throw new Conflict(`run ${run.id} is ${run.status}; only running runs can be cancelled`)
    cancelLocal(run.id)
    await requestCancel(db, run.id)
    res.status(202).json(await getRun(db, run.id))
  }
  app.post('/api/runs/:id/cancel', needsWhenKeyed(db, 'analyst', settings.apiKey), cancel)
  app.delete('/api/runs/:id', needsWhenKeyed(db, 'analyst', settings.apiKey), cancel)

  // Uploads: the raw file is the body, streamed to a spool file (upload.ts); its name (for
  // the format) comes as ?filename=.
  app.post('/api/layers', needsCatalogAdmin(db, settings.apiKey), uploadLimit, async (req, res) => {
    const o = q(req, Q.layerUpload)
    res.locals.auditTarget = `layer ${o.name}@${o.vintage}`
    const actor = await who(req)
    const report = await withUpload(req, o.filename, settings.maxUploadBytes, (file) =>
      ingestLayer(db, {
        file, displayName: o.filename, layer: o.name, kind: o.kind, vintage: o.vintage,
        crs: o.crs, encoding: o.encoding, categoryField: o.category_field, table: o.table, allowEmpty: !!o.allow_empty, actor, prepare: prepareLayer,
        replace: !!o.replace, invalid: o.invalid, maxBytes: settings.maxUploadBytes, maxFeatureVertices: settings.maxFeatureVertices,
      }),
    )
    res.locals.auditDetail = { layerId: report.layerId, retiredId: report.retiredId ?? null, features: report.loaded, checksum: report.checksum }
    log(`ingested layer ${report.layer}@${report.vintage}: ${report.loaded} features`)
    res.status(201).json(report)
  })
  // monitoring sections and their series (docs/watershed.md)
  app.get('/api/sections', async (req, res) => (q(req, Q.none), res.json(await listSections(db))))
  // one section set's points as GeoJSON (the viewer draws them)
  app.get('/api/sections/:spec/points', async (req, res) => {
    q(req, Q.none)
    const set = await findSections(db, parseSegment(P.spec, String(req.params.spec), 'sections'))
    const points = await sectionsOf(db, set.id)
    res.type('application/geo+json').json({
      type: 'FeatureCollection', name: `${set.name}@${set.vintage}`,
      features: points.map(({ lon, lat, ...p }) => ({ type: 'Feature', id: p.code, properties: p, geometry: { type: 'Point', coordinates: [lon, lat] } })),
    })
  })
  app.post('/api/sections', needsCatalogAdmin(db, settings.apiKey), uploadLimit, async (req, res) => {
    const o = q(req, Q.sectionsUpload)
    res.locals.auditTarget = `sections ${o.name}@${o.vintage}`
    const actor = await who(req)
    const r = await withUpload(req, o.filename, settings.maxUploadBytes, (file) =>
      importSections(db, { file, displayName: o.filename, name: o.name, vintage: o.vintage, units: o.units, toleranceM: o.tolerance, crs: o.crs, replace: !!o.replace, actor, maxBytes: settings.maxUploadBytes }))
    res.locals.auditDetail = { sectionSetId: r.id, retiredId: r.replaced ?? null, sections: r.section_count, checksum: r.source_checksum }
    res.status(201).json(r)
  })
  app.get('/api/series', async (req, res) => (q(req, Q.none), res.json(await listSeries(db))))
  app.post('/api/series', needsCatalogAdmin(db, settings.apiKey), uploadLimit, async (req, res) => {
    const o = q(req, Q.seriesUpload)
    res.locals.auditTarget = `series ${o.name ?? o.sections}@${o.vintage}`
    const actor = await who(req)
    const r = await withUpload(req, o.filename, settings.maxUploadBytes, (file) =>
      importSeries(db, { file, displayName: o.filename, sections: o.sections, name: o.name, vintage: o.vintage, replace: !!o.replace, actor, maxBytes: settings.maxUploadBytes }))
    res.locals.auditDetail = { seriesSetId: r.id, retiredId: r.replaced ?? null, rows: r.row_count, checksum: r.source_checksum }
    res.status(201).json(r)
  })
  // a settlement spans regions: a key limited to regions may not start or read one
  app.get('/api/basin/example', async (req, res) => (q(req, Q.none), res.json(readAgreement(path.join(SAMPLE_DIR, 'basin-agreement.yaml')))))
  app.post('/api/basin/settle', runLimit, express.json({ limit: '256kb' }), async (req, res) => {
    const { format, table, fresh } = q(req, Q.settle)
    const o = b(req, B.settle)
    if (await scopesOf(req)) throw new Forbidden('a settlement spans regions; a key limited to regions cannot start one')
    const run = await runToEnd(db, await planSettlement(db, { agreement: o.agreement, period: o.period }), {
      signal: abortOnClose(res).signal, reuse: !fresh, beforeCompute: mayCompute(req, res, { counted: true }), timeoutMs: settings.runTimeoutMs, actor: await who(req),
    })
    const out = await render(db, format, settlementExport(await readSettlement(db, run)), table)
    res.set('X-Run-Id', String(run.id)).type(out.contentType)
    if (format === 'csv' || FILE_FORMATS.has(format)) res.attachment(`settlement-run${run.id}.${out.ext}`).type(out.contentType)
    res.send(out.body)
  })
  // per-unit indicators (population, EQI, score …): a long table unit_code, indicator, value, unit
  app.get('/api/indicators', async (req, res) => (q(req, Q.none), res.json(await listIndicatorSets(db))))
  app.post('/api/indicators', needsCatalogAdmin(db, settings.apiKey), uploadLimit, async (req, res) => {
    const o = q(req, Q.indicatorsUpload)
    res.locals.auditTarget = `indicators ${o.name}@${o.year}`
    const actor = await who(req)
    const r = await withUpload(req, o.filename, settings.maxUploadBytes, (file) =>
      importIndicators(db, { file, displayName: o.filename, name: o.name, year: o.year, units: o.units, replace: !!o.replace, actor, maxBytes: settings.maxUploadBytes }))
    res.locals.auditDetail = { indicatorSetId: r.id, retiredId: r.replaced ?? null, rows: r.row_count, checksum: r.source_checksum }
    res.status(201).json(r)
  })
  app.post('/api/unit-sets', needsCatalogAdmin(db, settings.apiKey), uploadLimit, async (req, res) => {
    const o = q(req, Q.unitsUpload)
    res.locals.auditTarget = `unit set ${o.set}`
    const actor = await who(req)
    const report = await withUpload(req, o.filename, settings.maxUploadBytes, (file) =>
      importUnits(db, {
        file, displayName: o.filename, set: o.set, codeField: o.code_field, nameField: o.name_field, parentField: o.parent_field, actor,
        crs: o.crs, encoding: o.encoding, table: o.table, replace: !!o.replace, maxBytes: settings.maxUploadBytes, maxFeatureVertices: settings.maxFeatureVertices,
      }),
    )
    res.status(201).json(report)
  })
  app.post('/api/unit-sets/grid', express.json({ limit: '16kb' }), async (req, res) => {
    await requireCatalogAdmin(db, req, settings.apiKey)
    q(req, Q.none)
    const o = b(req, B.grid)
    res.locals.auditTarget = `unit set ${o.set}`
    const report = await buildGrid(db, { set: o.set, sizeM: o.size, crs: o.crs, within: o.within, bbox: o.bbox, replace: !!o.replace, actor: await who(req) })
    res.status(201).json(report)
  })

  // Rasters: the GeoTIFF is the body (?filename=….tif); a legend may come as ?legend=[{value,name,colour}]
  app.get('/api/rasters', async (req, res) => (q(req, Q.none), res.json(await listRasters(db))))
  app.get('/api/rasters/:name', async (req, res) => res.json(await findRaster(db, rasterSpec(req, q(req, Q.raster).vintage))))
  app.post('/api/rasters', needsCatalogAdmin(db, settings.apiKey), uploadLimit, async (req, res) => {
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
      res.locals.auditTarget = `raster ${o.name}@${o.vintage}`
      const actor = await who(req)
      const report = await withUpload(req, filename, settings.maxUploadBytes, (file) =>
        ingestRaster(db, {
          file, name: o.name, vintage: o.vintage, kind: o.kind, crs: o.crs, legend: legendFile, replace: !!o.replace, rasterDir: settings.rasterDir, actor,
        }),
      )
      log(`ingested raster ${report.name}@${report.vintage}`)
      res.status(201).json({ ...report, file: filename })
    } finally {
      if (legendFile) fs.rmSync(legendFile, { force: true })
    }
  })
  app.post('/api/rasters/derive', express.json({ limit: '16kb' }), async (req, res) => {
    await requireCatalogAdmin(db, req, settings.apiKey)
    q(req, Q.none)
    const o = b(req, B.derive)
    res.locals.auditTarget = `raster ${o.name}`
    const r = await deriveRaster(db, { ...o, replace: !!o.replace, rasterDir: settings.rasterDir, actor: await who(req) })
    res.status(201).json(r)
  })
  app.get('/tiles/raster/:name/:z/:x/:y.png', async (req, res) => {
    const o = q(req, Q.rasterTile)
    const { z, x, y } = tileAddress(req)
    const r = await findRaster(db, rasterSpec(req, o.vintage))
    const style = tileStyle(r, { band: o.band === undefined ? undefined : String(o.band), size: o.size, range: o.range, ramp: o.ramp, encoding: o.encoding })
    const tile = await rasterTile(db, settings.rasterDir, settings.tileCacheDir, r, z, x, y, style)
    res.set('Cache-Control', carriesKey(req) || settings.readsKeyed ? 'private, max-age=3600' : 'public, max-age=3600').set('X-Tile-Cache', tile.cached ? 'hit' : 'miss').type('image/png').send(tile.png)
  })

  // Vector tiles: sources and their versions in server/tiles/vector-source.ts. The ETag is strong
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
  // here with a key (or keyed reads): unit tiles limited to the key's regions, answered privately
  app.get(['/tiles/:source/:z/:x/:y.mvt', '/tiles/:source/:z/:x/:y.pbf'], async (req, res) => tiles(req, res, { scopes: await scopesOf(req), private: true }))

  // OGC API - Features: QGIS, ArcGIS and GDAL read collections in place
  ogcFeatures(app, { db, scopesOf })

  app.use('/vendor/exceljs', express.static(path.join(ROOT, 'node_modules', 'exceljs', 'dist'), { maxAge: '1d' }))
  app.use('/vendor/maplibre-gl', express.static(path.join(ROOT, 'node_modules', 'maplibre-gl', 'dist'), { maxAge: '1d' }))
  app.use('/', express.static(path.join(ROOT, 'web')))

  app.use('/api', (req: Request) => {
    throw new AppError404(`no route ${req.method} ${req.originalUrl.split('?')[0]}`)
  })
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = asAppError(err)
    res.locals.auditError = oneLine(e)
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
  // a statement timeout reaching here unwrapped (from a worker thread, a COMMIT): the
  // database's limit, 503 like every database failure the caller can retry
  const m = err as { code?: string; message?: string }
  if (!(err instanceof AppError) && (m?.code === '57014' || /statement timeout/i.test(String(m?.message)))) return new DbError(`statement cancelled: ${m.message}`)
  return err
}

/** scheme://host[:port] of a URL template, for the content security policy. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url.replace(/\{[a-z]\}/g, '0')).origin
  } catch {
    return undefined
  }
}

/** Aborts when the client disconnects before the response is sent. */
function abortOnClose(res: Response): AbortController {
  const ac = new AbortController()
  res.on('close', () => { if (!res.writableFinished) ac.abort(new Error('client went away')) })
  return ac
}
