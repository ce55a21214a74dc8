import type { Server } from 'node:http'
import pino from 'pino'
import type { Db } from '../db/db.ts'
import type { Settings } from '../settings.ts'
import type { Runtime } from '../runtime.ts'
import { createApp, createServer } from './app.ts'
import { loadSampleIfEmpty } from '../sample/load.ts'
import { sweepSpool } from './upload.ts'

/**
 * The HTTP service. Logs are JSON lines on stderr (pino): messages, and one entry per request
 * with its id, method, path (no query, no headers: keys never reach the log), status, time
 * and the id of the key it carried.
 * SIGTERM/SIGINT: /readyz turns 503, no new connections; requests in flight get
 * settings.shutdownGraceMs to finish; runs still going are then cancelled (recorded as
 * cancelled, so they can be run again); then the database is closed and the process exits 0.
 */
export async function serve(db: Db, settings: Settings, cliLog: (m: string) => void, runtime?: Runtime): Promise<Server> {
  const logger = pino({ base: { service: 'ecocensus' } }, pino.destination(2))
  const log = (m: string) => logger.info(m)
  // uploads of processes killed outright (SIGKILL) are still in the spool folder
  const swept = sweepSpool()
  if (swept) log(`removed ${swept} upload spool folder(s) left by processes that no longer run`)
  if (settings.loadSample && !settings.databaseUrl) {
    const load = () => loadSampleIfEmpty(db, settings.maxFileBytes, cliLog, settings.rasterDir)
    await (runtime ? runtime.run(load) : load())
  }
  const deps = { db, settings, log, runtime, access: (e: object) => logger.info(e, 'request') }
  const app = createApp(deps)
  const server = createServer(deps, app).listen(settings.port, settings.host)
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject))
  log(`ecocensus serving on http://${settings.host}:${settings.port}/ (database: ${db.backend}${settings.apiKey ? '' : '; catalogue writes need a key: ECOCENSUS_API_KEY or `ecocensus keys add`'})`)
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    app.locals.shuttingDown = true
    log(`${signal}: shutting down (in-flight requests have ${settings.shutdownGraceMs} ms)`)
    const closed = new Promise<void>((r) => server.close(() => r()))
    server.closeIdleConnections()
    const graceful = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), settings.shutdownGraceMs))])
    const cancelled = (await runtime?.live.cancelAll()) ?? 0
    if (!graceful) server.closeAllConnections()
    log(`stopped: ${graceful ? 'all requests finished' : 'requests still open were cut'}; ${cancelled} run(s) cancelled`)
    await runtime?.close()
    await db.close()
    logger.flush()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
  return server
}
