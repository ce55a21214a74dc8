// Coverage at county-like sizes: the piece engine against the plain PostGIS way (one
// ST_Intersection per cell × feature pair, ST_Union of the pieces per cell and layer,
// ST_Area(geography)), on the same database, results compared row by row.
//   DATABASE_URL=postgres://… npm run bench        (the numbers in RESULTS.md)
//   BENCH_SCALES=1,4 BENCH_GRIDS=500 npm run bench  (fewer sizes / grids)
//   BENCH_CHANGE=0 …                                (without the change of forest to a resurvey)
// Each size runs in its own child process so that peak RSS is per size.
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { openDb } from '../../server/db/open.ts'
import { backendPeakRss } from './peak-rss.ts'
import { coverage } from '../../server/stats/coverage.ts'
import { createRuntime } from '../../server/runtime.ts'
import { DEFAULT_MEASURE_THREADS } from '../../server/settings.ts'
import { buildGrid } from '../../server/units/build-grid.ts'
import { unitSetId } from '../../server/units/unit-set.ts'
import { generateCounty } from './county-gen.ts'
import { PLAIN_COVERAGE as BASELINE } from './plain-coverage.ts'
import { laterVintage } from './later-vintage.ts'
import { change } from '../../server/stats/change.ts'

// change of a layer between two vintages, the plain way: per cell, each vintage's features
// clipped to the cell and dissolved per class and whole (ST_Union), the two intersected
// pairwise (classes) and whole (stable). Written per cell (LATERAL): as one join over all
// cells the planner, misjudging the aggregates' sizes, chose a nested loop (88 s at 4×/100 m).
const CHANGE_BASELINE = `
  SELECT u.code AS unit_code, x.f, x.t, x.area_m2
  FROM unit u CROSS JOIN LATERAL (
    WITH a AS (SELECT f.category AS c, ST_Union(ST_CollectionExtract(ST_Intersection(u.geom, f.geom), 3)) AS g FROM feature f
               WHERE f.layer_id = $2 AND f.geom && u.geom AND ST_Intersects(u.geom, f.geom) GROUP BY GROUPING SETS ((f.category), ())),
         b AS (SELECT f.category AS c, ST_Union(ST_CollectionExtract(ST_Intersection(u.geom, f.geom), 3)) AS g FROM feature f
               WHERE f.layer_id = $3 AND f.geom && u.geom AND ST_Intersects(u.geom, f.geom) GROUP BY GROUPING SETS ((f.category), ()))
    SELECT a.c AS f, b.c AS t, ST_Area(ST_Intersection(a.g, b.g)::geography) AS area_m2 FROM a JOIN b ON (a.c IS NULL) = (b.c IS NULL)) x
  WHERE u.set_id = $1`

const here = fileURLToPath(import.meta.url)
const MEASURE_THREADS = Number(process.env.ECOCENSUS_MEASURE_THREADS ?? DEFAULT_MEASURE_THREADS)

async function one(scale: number, grids: number[], baseline: boolean) {
  const url = process.env.DATABASE_URL
  const db = await openDb({ url, dataDir: 'memory://', statementTimeoutMs: 0 })
  const rt = createRuntime({ measureThreads: MEASURE_THREADS })
  const mainThreadOnly = createRuntime({ measureThreads: 0 })
  // as a service does at start (they load while the county is generated)
  if (db.server) rt.measure.start()
  const t0 = performance.now()
  // each size on ground of its own (4× where it always was): the plain way's index lookups
  // would otherwise also meet the features of the other sizes lying under it
  const county = await generateCounty(db, { scale, prefix: `s${scale}_`, lat0: scale === 4 ? 29.8 : 30.4 + 0.3 * Math.log2(scale) })
  const genS = (performance.now() - t0) / 1000
  // the features replaced by this size's earlier runs gone from table and indexes, planner
  // statistics fresh: what autovacuum leaves after an import, for both ways alike
  await db.query('VACUUM (ANALYZE) feature')
  const features = county.layers.reduce((s, l) => s + l.features, 0)
  const vertices = county.layers.reduce((s, l) => s + l.vertices, 0)
  const lines: string[] = []
  const cellCount = new Map<number, number>()
  for (const size of grids) {
    const set = `s${scale}_g${size}`
    const g = await buildGrid(db, { set, sizeM: size, bbox: county.bbox, replace: true })
    cellCount.set(size, g.loaded)
    // planner statistics for both ways (the plain way's join plan depends on them)
    await db.query('ANALYZE unit')
    // the first run of the process (JIT, features read from the database), then the median
    // of three more (features from the process's cache, code compiled), then the median of
    // three with the cache emptied first (code compiled, layers read and prepared afresh:
    // what a running service does for layers it has not used yet)
    const runOnce = async (fresh = false) => {
      if (fresh) (workers ? rt : mainThreadOnly).features.clear()
      const t = performance.now()
      const r = await (workers ? rt : mainThreadOnly).run(() => coverage(db, set, { layers: county.layers.map((l) => l.name).join(',') }, { reuse: false }))
      return { r, s: (performance.now() - t) / 1000 }
    }
    let workers = true
    const first = await runOnce()
    const again = [await runOnce(), await runOnce(), await runOnce()].sort((a, b) => a.s - b.s)
    const ours = again[1]!.r
    // not cached, with the measure workers (as a service) and without, in the order ABBA ABBA
    // ABBA so that the machine's drift, and what one run leaves the next (the emptied cache's
    // garbage), fall on both alike; medians of six
    const withWorkers: number[] = [], mainOnly: number[] = []
    for (let k = 0; k < 12; k++) {
      workers = [0, 3].includes(k % 4)
      ;(workers ? withWorkers : mainOnly).push((await runOnce(true)).s)
    }
    workers = true
    const median = (xs: number[]) => { const o = [...xs].sort((a, b) => a - b); return (o[(o.length - 1) >> 1]! + o[o.length >> 1]!) / 2 }
    const uncached = median(withWorkers)
    const uncachedHere = median(mainOnly)
    // the plain way, median of three like ours
    let base: { unit_code: string; layer_id: number; area_m2: number }[] | undefined
    let note = ''
    let baseS = NaN
    if (baseline) {
      try {
        const times: number[] = []
        for (let k = 0; k < 3; k++) {
          const t2 = performance.now()
          base = await db.query(BASELINE, [await unitSetId(db, set), county.layers.map((l) => l.id)])
          times.push((performance.now() - t2) / 1000)
        }
        baseS = times.sort((a, b) => a - b)[1]!
      } catch (err) {
        note = ` baseline failed: ${(err as Error).message.slice(0, 100)}`
      }
    }
    // equality, every (cell, layer) pair: the share of the cell (|Δ| / cell area), and
    // relative to the area itself for areas of at least 1 % of the cell. (Geodesic areas
    // are sums of per-edge terms of ~1e13 m² that cancel: a 2 m² sliver carries ~1e-5 m²
    // of rounding in PostGIS and GeographicLib alike, so relative figures on slivers say nothing.)
    let maxRel = 0
    let maxShare = 0
    const cellArea = new Map((await db.query<{ code: string; a: number }>('SELECT code, area_m2 AS a FROM unit WHERE set_id = $1', [await unitSetId(db, set)])).map((r) => [r.code, Number(r.a)]))
    if (base) {
      const byKey = new Map(ours.rows.map((r) => [`${r.unit_code}|${r.layer}`, r.area_m2]))
      const name = new Map(county.layers.map((l) => [l.id, l.name]))
      const seen = new Set<string>()
      for (const b of base) {
        const k = `${b.unit_code}|${name.get(b.layer_id)}`
        seen.add(k)
        const o = byKey.get(k) ?? 0
        const a = Number(b.area_m2)
        const ca = cellArea.get(b.unit_code)!
        maxShare = Math.max(maxShare, Math.abs(o - a) / ca)
        if (a >= 0.01 * ca) maxRel = Math.max(maxRel, Math.abs(o / a - 1))
      }
      for (const [k, v] of byKey) if (!seen.has(k) && v > 0) maxShare = Math.max(maxShare, v / cellArea.get(k.split('|')[0]!)!)
    }
    const oursS = again[1]!.s
    const firstS = first.s
    lines.push([
      `${scale}×`, `${county.sideKm.toFixed(1)} km`, features, vertices, `${size} m`, g.loaded,
      firstS.toFixed(2), uncached.toFixed(2), uncachedHere.toFixed(2), oursS.toFixed(2), base ? baseS.toFixed(2) : 'n/a',
      ...[firstS, uncached, uncachedHere, oursS].map((x) => (base ? `${(baseS / x).toFixed(1)}×` : 'n/a')),
      base ? maxShare.toExponential(1) : 'n/a', base ? maxRel.toExponential(1) : 'n/a',
    ].join(' | ') + note)
  }
  // change of forest (two classes) to a resurvey (later-vintage.ts), with the class transitions
  const changeLines: string[] = []
  if (process.env.BENCH_CHANGE !== '0') {
    const forest = county.layers.find((l) => l.name.endsWith('forest'))!
    const later = await laterVintage(db, forest.id, '2028')
    await db.query('VACUUM (ANALYZE) feature')
    for (const size of grids) {
      const set = `s${scale}_g${size}`
      const runOnce = async () => {
        rt.features.clear()
        const t = performance.now()
        const r = await rt.run(() => change(db, set, forest.name, '2025', '2028', { reuse: false }))
        return { r, s: (performance.now() - t) / 1000 }
      }
      const first = await runOnce()
      const runs = [await runOnce(), await runOnce(), await runOnce()].sort((a, b) => a.s - b.s)
      const ours = runs[1]!
      let baseS = NaN
      let worst = NaN
      if (baseline) {
        // the plain way once (at 16× it takes about a minute)
        const setId = await unitSetId(db, set)
        const t2 = performance.now()
        const base = await db.query<{ unit_code: string; f: string | null; t: string | null; area_m2: number }>(CHANGE_BASELINE, [setId, forest.id, later.id])
        baseS = (performance.now() - t2) / 1000
        const cellArea = new Map((await db.query<{ code: string; a: number }>('SELECT code, area_m2 AS a FROM unit WHERE set_id = $1', [setId])).map((r) => [r.code, Number(r.a)]))
        const mine = new Map<string, number>()
        for (const x of ours.r.transitions) if (x.from_class !== null && x.to_class !== null) mine.set(`${x.unit_code}|${x.from_class}|${x.to_class}`, x.area_m2)
        for (const x of ours.r.rows) mine.set(`${x.unit_code}|*|*`, x.stable_m2)
        worst = 0
        const seen = new Set<string>()
        for (const b of base) {
          const k = `${b.unit_code}|${b.f ?? '*'}|${b.t ?? '*'}`
          seen.add(k)
          worst = Math.max(worst, Math.abs((mine.get(k) ?? 0) - Number(b.area_m2)) / cellArea.get(b.unit_code)!)
        }
        for (const [k, v] of mine) if (!seen.has(k) && v > 0) worst = Math.max(worst, v / cellArea.get(k.split('|')[0]!)!)
      }
      const moved = ours.r.transitionTotals.filter((x) => x.from_class && x.to_class && x.from_class !== x.to_class).reduce((a, x) => a + x.area_m2, 0)
      changeLines.push([
        `${scale}×`, `${forest.features} → ${later.features}`, `${size} m`, cellCount.get(size), ours.r.transitions.length, (moved / 1e4).toFixed(1),
        first.s.toFixed(2), ours.s.toFixed(2), baseline ? baseS.toFixed(2) : 'n/a',
        baseline ? `${(baseS / first.s).toFixed(1)}×` : 'n/a', baseline ? `${(baseS / ours.s).toFixed(1)}×` : 'n/a',
        baseline ? worst.toExponential(1) : 'n/a',
      ].join(' | '))
    }
  }
  const backends = url ? await backendPeakRss(db) : ''
  await rt.close()
  await mainThreadOnly.close()
  await db.close()
  const rss = process.resourceUsage().maxRSS / 1024
  for (const l of lines) console.log(`| ${l} | ${rss.toFixed(0)} MiB${backends} |`)
  // the change rows, for the parent to print as a table of their own
  for (const l of changeLines) console.log(`CHANGE| ${l} |`)
  console.error(`  (scale ${scale}: generated in ${genS.toFixed(1)} s, of which finding the layers' contacts, as an import does: ${county.prepareS.toFixed(2)} s)`)
}


async function main() {
  const [, , mode, arg] = process.argv
  const grids = (process.env.BENCH_GRIDS ?? '500,100').split(',').map(Number)
  const baseline = process.env.BENCH_BASELINE !== '0'
  if (mode === '--one') return one(Number(arg), grids, baseline)
  const scales = (process.env.BENCH_SCALES ?? '1,4,16').split(',').map(Number)
  console.log(`backend: ${process.env.DATABASE_URL ? 'PostGIS (DATABASE_URL)' : 'embedded PGlite'}; ${new Date().toISOString().slice(0, 10)}`)
  console.log(`measure workers: ${MEASURE_THREADS} (ECOCENSUS_MEASURE_THREADS; PostgreSQL only); "main thread only": the same runs with none`)
  console.log('| size | side | features | vertices | grid | cells | ecocensus first run s | layers not cached s | not cached, main thread only s | warm s | plain PostGIS s | speed-up first | speed-up not cached | speed-up not cached, main thread only | speed-up warm | max Δshare | max rel diff (≥1 % of cell) | peak RSS |')
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  const changeRows: string[] = []
  for (const s of scales) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', here, '--one', String(s)], { stdio: ['inherit', 'pipe', 'inherit'], env: process.env, encoding: 'utf8', maxBuffer: 1 << 26 })
    for (const line of (r.stdout ?? '').split('\n')) {
      if (line.startsWith('CHANGE|')) changeRows.push(line.slice(6))
      else if (line) console.log(line)
    }
    if (r.status !== 0) process.exit(r.status ?? 1)
  }
  if (changeRows.length) {
    console.log('\nChange of forest to a resurvey (4 % of patches gone, 6 % reclassified, 4 % moved 15 m), with class transitions; ours the median of three, layers not cached:')
    console.log('| size | forest features (2025 → 2028) | grid | cells | transition rows | transitions between classes, ha | ecocensus first run s | not cached s | plain PostGIS s (once) | speed-up first | speed-up not cached | max Δshare |')
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (const l of changeRows) console.log(l)
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
