import type { Server } from 'node:http'
import type { Db } from './db/db.ts'
import type { Settings } from './settings.ts'
import { createServer } from './http/app.ts'
import { loadSampleIfEmpty } from './sample.ts'

export async function serve(db: Db, settings: Settings, log: (m: string) => void): Promise<Server> {
  if (settings.loadSample && !settings.databaseUrl) await loadSampleIfEmpty(db, settings.maxFileBytes, log, settings.rasterDir)
  const server = createServer({ db, settings, log }).listen(settings.port, settings.host)
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject))
  log(`ecocensus serving on http://${settings.host}:${settings.port}/ (database: ${db.backend}${settings.apiKey ? '' : '; writes disabled: set ECOCENSUS_API_KEY'})`)
  const stop = async () => {
    log('shutting down…')
    server.close()
    await db.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return server
}
