// Coverage benchmark on the bundled sample: ecocensus's coverage statement against the
// plain PostGIS way (one ST_Intersection per unit×feature pair, ST_Union of the pieces,
// ST_Area(geography)) on the same database, results compared at 1e-6.
//   npm run bench                      (embedded PGlite)
//   DATABASE_URL=postgres://… npm run bench
import { performance } from 'node:perf_hooks'
import { openDb } from '../../server/db/open.ts'
import { loadSampleIfEmpty } from '../../server/sample/load.ts'
import { coverage } from '../../server/stats/coverage.ts'
import { selectLayers } from '../../server/catalog/layer-select.ts'
import { unitSetId } from '../../server/units/unit-set.ts'
import { createRuntime } from '../../server/runtime.ts'
import { loadSettings } from '../../server/settings.ts'

const BASELINE = `
  SELECT u.code AS unit_code, l.name AS layer,
         coalesce(ST_Area(ST_Union(ST_CollectionExtract(ST_Intersection(u.geom, f.geom), 3))::geography), 0) AS area_m2
  FROM unit u
  CROSS JOIN layer l
  LEFT JOIN feature f ON f.layer_id = l.id AND ST_Intersects(u.geom, f.geom)
  WHERE u.set_id = $1 AND l.id = ANY($2::int[])
  GROUP BY u.code, l.name`

async function main() {
  const url = process.env.DATABASE_URL
  const db = await openDb({ url, dataDir: 'memory://' })
  if (url) await db.query('SELECT 1')
  await loadSampleIfEmpty(db, 1 << 30, () => {})
  // as the service runs it: pools and caches of a runtime sized from the settings
  const rt = createRuntime(loadSettings())
  console.log(`backend: ${db.backend}; sample: 7 counties, a 5 km grid, ${(await selectLayers(db)).length} layers (latest vintages)`)
  console.log('set | units×layers | ecocensus ms | plain PostGIS ms | speed-up | max rel diff')
  for (const set of ['huangshan_counties', 'huangshan_grid_5km']) {
    const layers = await selectLayers(db)
    const t0 = performance.now()
    const ours = await rt.run(() => coverage(db, set))
    const t1 = performance.now()
    let base: { unit_code: string; layer: string; area_m2: number }[] | undefined
    let note = ''
    try {
      base = await db.query(BASELINE, [await unitSetId(db, set), layers.map((l) => l.id)])
    } catch (err) {
      note = ` (baseline failed: ${(err as Error).message.slice(0, 80)})`
    }
    const t2 = performance.now()
    let maxDiff = 0
    for (const b of base ?? []) {
      const o = ours.rows.find((r) => r.unit_code === b.unit_code && r.layer === b.layer)!
      const a = Number(b.area_m2)
      if (a > 0) maxDiff = Math.max(maxDiff, Math.abs(o.area_m2 / a - 1))
      else if (o.area_m2 !== 0) maxDiff = Infinity
    }
    console.log(`${set} | ${ours.rows.length} | ${(t1 - t0).toFixed(0)} | ${base ? (t2 - t1).toFixed(0) : 'n/a'} | ${base ? ((t2 - t1) / (t1 - t0)).toFixed(2) + '×' : 'n/a'} | ${base ? maxDiff.toExponential(1) : 'n/a'}${note}`)
  }
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`)
  await db.close()
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
