// Vector tiles of a survey-density layer against the statement a GIS developer would write
// by hand (issue 29): a generated county of land-survey patches (~0.49 ha, 17 vertices,
// shared edges; county-gen.ts) whose farmland layer holds ≥ 5×10⁴ polygons, tiles z8–z14
// that hold data, three arms interleaved tile by tile after a warm-up pass:
//   plain: SELECT ST_AsMVT(t, 'features', 4096, 'geom', 'id') FROM (SELECT id, category,
//          area_m2, ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y), 4096,
//          64, true) AS geom FROM plain_layer WHERE geom && <tile, buffered, in EPSG:4490>) t
//          on the layer's features copied into one plain table with a GiST index (what a
//          developer loading the layer with ogr2ogr has) — what PostGIS costs with no clip,
//          simplification or rule
//   sql:   our tile statement through a plain pg client (tiles/vector-tile.ts)
//   http:  GET /tiles/layer:…/z/x/y.mvt over loopback, uncached
// Reported per zoom: p50 / p95 ms and bytes of each arm, and the sums' ratios.
//   DATABASE_URL=postgres://postgres@127.0.0.1/postgres node --import tsx scripts/bench/survey-tile-bench.ts
//   BENCH_SURVEY_SCALE=60 BENCH_SURVEY_TILES=24 (per zoom; a county has fewer at zooms 8–11)
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { openDb } from '../../server/db/open.ts'
import { createApp, createServer } from '../../server/http/app.ts'
import { loadSettings } from '../../server/settings.ts'
import { throwawayDatabase } from '../../test/helpers/backends.ts'
import { resolveSource } from '../../server/tiles/vector-source.ts'
import { tileStatement } from '../../server/tiles/vector-tile.ts'
import { createRuntime } from '../../server/runtime.ts'
import { pct, seeded, tileOf } from './tile-math.ts'
import { generateCounty } from './county-gen.ts'

const url = process.env.DATABASE_URL
if (!url) {
  console.log('survey-tile-bench: DATABASE_URL is not set (skipped)')
  process.exit(0)
}
const SCALE = Number(process.env.BENCH_SURVEY_SCALE ?? 60)
const PER_ZOOM = Number(process.env.BENCH_SURVEY_TILES ?? 24)
// on plain_layer: the layer's features as a developer would hold them (one table, loaded by
// ogr2ogr, its GiST index), not our zone-partitioned feature table, which such a statement
// could not prune
const PLAIN = `SELECT ST_AsMVT(t, 'features', 4096, 'geom', 'id') AS mvt FROM (
  SELECT id, category, area_m2, ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
  FROM plain_layer
  WHERE geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4490)
) t`

const rand = seeded(20261206)
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

const tmp = await throwawayDatabase(url)
const db = await openDb({ url: tmp.url, dataDir: '', statementTimeoutMs: 0 })
const client = new pg.Client({ connectionString: tmp.url })
let server: import('node:http').Server | undefined
try {
  const t0 = performance.now()
  const county = await generateCounty(db, { scale: SCALE, prefix: 'sv_', prepare: false })
  const layer = county.layers.find((l) => l.name.endsWith('farmland'))!
  await db.query('ANALYZE feature')
  await db.query('CREATE TABLE plain_layer AS SELECT id, category, area_m2, geom FROM feature WHERE layer_id = $1', [layer.id])
  await db.query('CREATE INDEX ON plain_layer USING gist (geom)')
  await db.query('ANALYZE plain_layer')
  console.log(`survey-tile-bench, ${new Date().toISOString().slice(0, 10)}: ${county.sideKm.toFixed(1)} km county generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; layer ${layer.name}: ${layer.features} polygons, ${layer.vertices} vertices`)
  await client.connect()
  const settings = { ...loadSettings({}), tileCacheDir: fs.mkdtempSync('/tmp/eco-svbench-') }
  const app = createApp({ db, settings })
  server = createServer({ db, settings, runtime: createRuntime(settings) }, app).listen(0, '127.0.0.1')
  await new Promise((r) => server!.once('listening', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const sourceId = `layer:${layer.name}`
  const src = await resolveSource(db, sourceId)

  const [w, s, e, n] = county.bbox
  const picked: { z: number; x: number; y: number; sql: string; params: unknown[] }[] = []
  for (let z = 8; z <= 14; z++) {
    const [x0, y0] = tileOf(z, w, n)
    const [x1, y1] = tileOf(z, e, s)
    const got: typeof picked = []
    for (let tries = 0; got.length < PER_ZOOM && tries < 200; tries++) {
      const x = x0 + Math.floor(rand() * (x1 - x0 + 1))
      const y = y0 + Math.floor(rand() * (y1 - y0 + 1))
      if (got.some((t) => t.x === x && t.y === y)) continue
      const r = await client.query(PLAIN, [z, x, y])
      if (!r.rows[0]?.mvt?.length) continue
      const { sql, params } = await tileStatement(db, src, z, x, y)
      got.push({ z, x, y, sql, params })
    }
    picked.push(...got)
  }
  // warm-up: each arm once per tile (buffer cache, prepared statements on the pool)
  for (const t of picked) {
    await client.query(PLAIN, [t.z, t.x, t.y])
    await client.query(t.sql, t.params)
  }
  for (const t of picked.slice(0, 8)) await fetch(`${base}/tiles/${encodeURIComponent(sourceId)}/${t.z}/${t.x}/${t.y}.mvt?warm=1`).then((r) => r.arrayBuffer()).catch(() => {})
  const rows = new Map<number, { plain: number[]; sql: number[]; http: number[]; plainB: number[]; oursB: number[] }>()
  for (const [k, t] of picked.entries()) {
    const zz = rows.get(t.z) ?? rows.set(t.z, { plain: [], sql: [], http: [], plainB: [], oursB: [] }).get(t.z)!
    // ABBA: the order of the arms alternates from tile to tile
    const arms = k % 2 === 0 ? ['plain', 'sql', 'http'] : ['http', 'sql', 'plain']
    for (const arm of arms) {
      const a0 = performance.now()
      if (arm === 'plain') {
        const r = await client.query(PLAIN, [t.z, t.x, t.y])
        zz.plain.push(performance.now() - a0)
        zz.plainB.push(r.rows[0]?.mvt?.length ?? 0)
      } else if (arm === 'sql') {
        const r = await client.query(t.sql, t.params)
        zz.sql.push(performance.now() - a0)
        zz.oursB.push(r.rows[0]?.mvt?.length ?? 0)
      } else {
        const res = await fetch(`${base}/tiles/${encodeURIComponent(sourceId)}/${t.z}/${t.x}/${t.y}.mvt`)
        await res.arrayBuffer()
        zz.http.push(performance.now() - a0)
        if (res.status !== 200 || res.headers.get('x-tile-cache') !== 'miss') throw new Error(`tile ${t.z}/${t.x}/${t.y}: ${res.status} ${res.headers.get('x-tile-cache')}`)
      }
    }
  }
  console.log('\n| zoom | tiles | plain ST_AsMVT p50 / p95 ms | our SQL p50 / p95 ms | our HTTP p50 / p95 ms | bytes plain / ours, p50 (max) | SQL / plain, HTTP / plain (sums) |')
  console.log('|---|---|---|---|---|---|---|')
  const all = { plain: [] as number[], sql: [] as number[], http: [] as number[] }
  for (const [z, v] of rows) {
    all.plain.push(...v.plain); all.sql.push(...v.sql); all.http.push(...v.http)
    const kb = (xs: number[]) => `${(pct(xs, 50) / 1024).toFixed(0)} KB (${(Math.max(...xs) / 1024).toFixed(0)})`
    console.log(`| ${z} | ${v.plain.length} | ${pct(v.plain, 50).toFixed(1)} / ${pct(v.plain, 95).toFixed(1)} | ${pct(v.sql, 50).toFixed(1)} / ${pct(v.sql, 95).toFixed(1)} | ${pct(v.http, 50).toFixed(1)} / ${pct(v.http, 95).toFixed(1)} | ${kb(v.plainB)} / ${kb(v.oursB)} | ${(sum(v.sql) / sum(v.plain)).toFixed(2)}×, ${(sum(v.http) / sum(v.plain)).toFixed(2)}× |`)
  }
  console.log(`| all | ${all.plain.length} | ${pct(all.plain, 50).toFixed(1)} / ${pct(all.plain, 95).toFixed(1)} | ${pct(all.sql, 50).toFixed(1)} / ${pct(all.sql, 95).toFixed(1)} | ${pct(all.http, 50).toFixed(1)} / ${pct(all.http, 95).toFixed(1)} | | ${(sum(all.sql) / sum(all.plain)).toFixed(2)}×, ${(sum(all.http) / sum(all.plain)).toFixed(2)}× |`)
  console.log(`target: HTTP ≤ 1.2× the plain statement over z8–z14 (sums); tiles ≤ ~500 KB`)
} finally {
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  await client.end().catch(() => {})
  await db.close()
  await tmp.drop()
}
