// `npm install` (prepare): compile the server to JavaScript (scripts/build.mjs) and write the
// embedded database's trimmed PostGIS bundle and template (server/db/pglite-template.ts),
// so that the first `npm start` neither compiles nor runs initdb.
import { ensureBuilt } from './build.mjs'

const t0 = performance.now()
const main = await ensureBuilt()
const { postgisExtension } = await import(new URL('../db/postgis-bundle.js', main).href)
const { templateFile } = await import(new URL('../db/pglite-template.js', main).href)
const log = (m) => process.stderr.write(`${m}\n`)
const file = await templateFile(await postgisExtension(log), log)
log(`ecocensus: compiled, and the embedded database's template ${file ? 'is ready' : 'could not be written (each new database runs initdb)'} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
