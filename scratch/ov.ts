import { performance } from 'node:perf_hooks'
import { openDb } from '../server/db/open.ts'
import { findRaster } from '../server/raster/raster-store.ts'
import { loadZonalUnits } from '../server/raster/zonal-scan.ts'
import { planZonal, readZonal } from '../server/raster/zonal.ts'
import { runToEnd } from '../server/runs/execute.ts'
import { unitSetId } from '../server/units/unit-set.ts'
const db = await openDb({ url: 'postgres://postgres@127.0.0.1/bench', dataDir: '' })
const rec = await findRaster(db, 'lc_none')
let t = performance.now()
const u = await loadZonalUnits(db, await unitSetId(db, 'cells'), rec.crs_proj4, rec.transform, rec.width, rec.height, rec.extent)
console.log('load units', (performance.now() - t).toFixed(0), u.inside.length)
t = performance.now()
const plan = await planZonal(db, 'cells', 'lc_none', {}, '/tmp/nonexist')
console.log('plan', (performance.now() - t).toFixed(0))
t = performance.now()
const rows = await db.query(`SELECT id::text AS id, code, name, area_m2, ST_AsBinary(geom) AS wkb, geom && ST_MakeEnvelope($2, $3, $4, $5, 4490) AS meets FROM unit WHERE set_id = $1 ORDER BY id`, [await unitSetId(db, 'cells'), ...rec.extent])
console.log('query', (performance.now() - t).toFixed(0), rows.length)
import { polygonsOf } from '../server/stats/shapes.ts'
t = performance.now()
let n = 0
for (const r of rows as any[]) for (const p of polygonsOf(r.wkb)) for (const ring of p.rings) n += ring.length
console.log('wkb parse', (performance.now() - t).toFixed(0), n)
await db.close()
