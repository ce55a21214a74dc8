// Coverage of a province-size input as one batch on PostGIS: the generated county
// (county-gen.ts, scale PROVINCE_COUNTY, default 191 ≈ 5×10⁵ features) copied side by side
// PROVINCE_COPIES times (default 10) in the database — the same features shifted by whole
// county widths, so the copies abut along their borders — and a 500 m grid over all of it.
// Prints wall time, tiles, features read and peak memory of this process and of the server.
//   DATABASE_URL=postgres://… node --import tsx scripts/bench/province-bench.ts
// Not part of `npm run bench`: it needs a few GB of disk and ~20 minutes of set-up. Copied
// into the GiST-indexed feature table the copies went in at ~2×10³ features/s (~45 minutes
// for 5×10⁶), so the set-up drops the feature table's geometry index in this scratch
// database, copies, and builds the index again once (as a bulk load would). A run that stops
// part-way leaves finished copies, and the next run starts the copying again.
// The plain PostGIS way is not run at this size (county-bench.ts compares them up to 16×).
// PROVINCE_WORKERS=N: then the same run distributed over N `ecocensus worker` processes,
// its rows compared with the one-process run's (docs/scale.md). At 10⁶ cells the rows of
// both runs need a larger heap: NODE_OPTIONS=--max-old-space-size=16384.
import { performance } from 'node:perf_hooks'
import { TaskQueue } from '../../server/distribute/queue.ts'
import type { DistributedMeta } from '../../server/distribute/distribute.ts'
import { openDb } from '../../server/db/open.ts'
import { backendPeakRss } from './peak-rss.ts'
import { coverage } from '../../server/stats/coverage.ts'
import { buildGrid } from '../../server/units/build-grid.ts'
import { generateCounty } from './county-gen.ts'
import { startWorkers } from './workers.ts'
import { prepareLayer } from '../../server/stats/cells/read/contacts.ts'
import { createRuntime } from '../../server/runtime.ts'
import { loadSettings } from '../../server/settings.ts'

const KINDS = ['forest', 'farmland', 'wetland', 'redline', 'protected_area']

async function main() {
  const url = process.env.DATABASE_URL
  if (!url) throw new Error('DATABASE_URL: a scratch PostGIS database (the province is a batch on PostGIS)')
  const scale = Number(process.env.PROVINCE_COUNTY ?? 191)
  const copies = Number(process.env.PROVINCE_COPIES ?? 10)
  const size = Number(process.env.PROVINCE_GRID ?? 500)
  const db = await openDb({ url, dataDir: 'memory://', statementTimeoutMs: 0 })
  const cols = Math.ceil(Math.sqrt(copies))
  const prefix = `p${scale}x${copies}_`
  const t0 = performance.now()
  // the county once, then its copies (skipped when a previous run left them)
  const have = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM layer WHERE name = ANY($1::text[]) AND source_checksum LIKE $2', [KINDS.map((k) => prefix + k), `%copies:${copies}`])
  let bbox: [number, number, number, number]
  if (have[0]!.n !== KINDS.length) {
    // the county of county-bench.ts when it ran at this scale on this database, else a new one
    const seedKey = `seed:20261123:scale:${scale}`
    const found = await db.query<{ id: number; name: string }>('SELECT id, name FROM layer WHERE name = ANY($1::text[]) AND source_checksum = $2', [KINDS.map((k) => `s${scale}_${k}`), seedKey])
    let countyLayers: { id: number; kind: string }[]
    let countyBox: [number, number, number, number]
    if (found.length === KINDS.length) {
      countyLayers = found.map((l) => ({ id: Number(l.id), kind: l.name.slice(`s${scale}_`.length) }))
      const [b] = await db.query<{ w: number; s: number; e: number; n: number }>(
        'SELECT ST_XMin(x) w, ST_YMin(x) s, ST_XMax(x) e, ST_YMax(x) n FROM (SELECT ST_Extent(geom)::geometry x FROM feature WHERE layer_id = ANY($1::int[])) q', [countyLayers.map((l) => l.id)])
      countyBox = [b!.w, b!.s, b!.e, b!.n]
    } else {
      const county = await generateCounty(db, { scale, prefix: `c${scale}_` })
      countyLayers = county.layers.map((l) => ({ id: l.id, kind: l.name.slice(`c${scale}_`.length) }))
      countyBox = county.bbox
    }
    const [w, s, e, n] = countyBox
    const dx = e - w, dy = n - s
    await db.query('DROP INDEX IF EXISTS feature_geom_idx')
    for (const l of countyLayers) {
      const name = prefix + l.kind
      await db.query('DELETE FROM layer WHERE name = $1', [name])
      const [layer] = await db.query<{ id: number }>(
        `INSERT INTO layer (name, kind, vintage, source_file, source_checksum, source_crs, category_field, feature_count, report, zone_reach)
         SELECT $1, kind, vintage, 'province-bench', source_checksum || $3, source_crs, category_field, feature_count * $4, '{}', zone_reach FROM layer WHERE id = $2 RETURNING id`,
        [name, l.id, `:copies:${copies}`, copies])
      for (let k = 0; k < copies; k++) {
        await db.query(
          `INSERT INTO feature (layer_id, src_index, attributes, category, geom, area_m2, zone)
           SELECT $1, src_index + $2 * 10000000, attributes, category, ST_Translate(geom, $3, $4), area_m2, gk6_zone((box_x0 + box_x1) / 2 + $3) FROM feature WHERE layer_id = $5`,
          [layer!.id, k, (k % cols) * dx, Math.floor(k / cols) * dy, l.id])
      }
    }
    await db.query('CREATE INDEX IF NOT EXISTS feature_geom_idx ON feature USING gist (geom)')
    await db.query('ANALYZE feature')
    bbox = [w, s, w + cols * dx, s + Math.ceil(copies / cols) * dy]
  } else {
    const [b] = await db.query<{ w: number; s: number; e: number; n: number }>(
      `SELECT ST_XMin(x) w, ST_YMin(x) s, ST_XMax(x) e, ST_YMax(x) n FROM (SELECT ST_Extent(f.geom)::geometry x FROM feature f JOIN layer l ON l.id = f.layer_id AND l.name = $1) q`, [prefix + 'forest'])
    bbox = [b!.w, b!.s, b!.e, b!.n]
  }
  const setupS = (performance.now() - t0) / 1000
  // the copies' contacts, as an import finds them (tile by tile); kept from an earlier run
  const tp = performance.now()
  const unprepared = await db.query<{ id: number }>('SELECT id FROM layer WHERE name = ANY($1::text[]) AND contacts IS NULL', [KINDS.map((k) => prefix + k)])
  for (const l of unprepared) await prepareLayer(db, Number(l.id))
  const prepareS = (performance.now() - tp) / 1000
  const [stats] = await db.query<{ features: number; vertices: number }>(
    `SELECT count(*)::int AS features, sum(ST_NPoints(f.geom))::bigint AS vertices FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = ANY($1::text[])`, [KINDS.map((k) => prefix + k)])
  const set = `${prefix}g${size}`
  const g = await buildGrid(db, { set, sizeM: size, bbox, replace: true })
  const t1 = performance.now()
  const rt = createRuntime(loadSettings())
  const r = await rt.run(() => coverage(db, set, { layers: KINDS.map((k) => prefix + k).join(',') }, { reuse: false }))
  await rt.close()
  const runS = (performance.now() - t1) / 1000
  // the same run distributed over PROVINCE_WORKERS `ecocensus worker` processes (docs/scale.md)
  const nWorkers = Number(process.env.PROVINCE_WORKERS ?? 0)
  let distributed = ''
  if (nWorkers > 0) {
    const queue = await TaskQueue.open({ url, expireSeconds: 3600, retries: 1, maintenanceSeconds: 10 })
    const w = await startWorkers(url, nWorkers)
    const drt = createRuntime({ ...loadSettings(), distributor: { queue, pollMs: 250, unitsPerTask: 2000, heartbeatSeconds: 60, retries: 1 } })
    const t2 = performance.now()
    const d = await drt.run(() => coverage(db, set, { layers: KINDS.map((k) => prefix + k).join(',') }, { reuse: false }))
    const dS = (performance.now() - t2) / 1000
    await w.stop()
    await drt.close()
    // row by row: at 10⁶ cells the rows' JSON would pass V8's longest string
    const same = d.rows.length === r.rows.length && d.rows.every((x, i) => {
      const y = r.rows[i]! as unknown as Record<string, unknown>
      return Object.entries(x).every(([k, v]) => Object.is(v, y[k]))
    })
    const dm = (d.run.meta as { measured: { distributed: DistributedMeta } }).measured.distributed
    distributed = `distributed over ${nWorkers} worker processes: ${dS.toFixed(1)} s, ${dm.parts} tasks (mean ${(dm.totalMs / dm.parts / 1000).toFixed(1)} s, slowest ${(dm.slowestMs / 1000).toFixed(1)} s, ${(dm.bytes / dm.parts / 1024).toFixed(0)} KiB of sums each), ${dm.attempts} attempts; rows ${same ? 'equal to the one-process run\'s, bit for bit' : 'DIFFERENT from the one-process run'}`
    if (!same) process.exitCode = 1
  }
  const m = (r.run.meta as { measured: { tiles: number; featuresRead: number; degenerate: number; ms: Record<string, number> } }).measured
  const server = await backendPeakRss(db)
  await db.close()
  const rss = process.resourceUsage().maxRSS / 1024
  console.log(`backend: PostGIS; ${new Date().toISOString().slice(0, 10)}; set-up ${setupS.toFixed(0)} s; contacts of ${unprepared.length} layers found in ${prepareS.toFixed(0)} s`)
  console.log('| copies of the county | features | vertices | grid | cells | tiles | features read | ecocensus s | rows | peak RSS |')
  console.log('|---|---|---|---|---|---|---|---|---|---|')
  console.log(`| ${copies} × ${scale}× | ${stats!.features} | ${stats!.vertices} | ${size} m | ${g.loaded} | ${m.tiles} | ${m.featuresRead} | ${runS.toFixed(1)} | ${r.rows.length} | ${rss.toFixed(0)} MiB${server} |`)
  console.log(`step ms: ${JSON.stringify(m.ms)}; degenerate (cell, set) pairs: ${m.degenerate}`)
  if (distributed) console.log(distributed)
}


main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
