import { performance } from 'node:perf_hooks'
import { openDb } from '../server/db/open.ts'
import { planZonal, readZonal } from '../server/raster/zonal.ts'
import { runToEnd } from '../server/runs/execute.ts'
const db = await openDb({ url: 'postgres://postgres@127.0.0.1/bench', dataDir: '' })
const dir = process.argv[2]!
let t = performance.now()
const run = await runToEnd(db, await planZonal(db, 'cells', 'lc_none', {}, dir), { reuse: false })
console.log('run', (performance.now() - t).toFixed(0), JSON.stringify((run.meta as any).timings))
t = performance.now()
const r = await readZonal(db, run)
console.log('read', (performance.now() - t).toFixed(0), r.rows.length)
await db.close()
