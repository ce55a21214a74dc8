// Coverage on every path a survey team takes, from a cold CLI process, against the plain
// PostGIS way on the same stored geometries (issue 29 item 2):
//   albers, gk            500 m grids over the county's box, China Albers / Gauss-Krüger zone 39
//   albers-clip, gk-clip  the same grids clipped to an irregular county boundary (`--within`:
//                         edge slivers, cells of several parts, a lake as a hole)
//   towns                 township polygons (irregular, thousands of vertices, the lake)
// The county's five layers (county-gen.ts: ~3 000 features per 16 km², overlapping within
// layers). Ours: `ecocensus stats coverage --fresh` as a new process each time (start-up,
// reading, measuring, writing the run); the plain way: one statement (plain-coverage.ts)
// through the same database. Arms alternate ABBA; medians. Rows compared per (unit, layer):
// |Δ| over the unit's area, and the worst absolute |Δ| in m².
//   DATABASE_URL=postgres://… node --import tsx scripts/bench/coverage-paths-bench.ts
//   BENCH_PATHS_SCALE=16 (county area ×, 1× = 16 km²)  BENCH_PATHS_SIZE=500 (grid m)  BENCH_PATHS_ROUNDS=2
//   BENCH_PATHS_WORST=1 prints each path's most different (unit, layer) with both figures
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { openDb } from '../../server/db/open.ts'
import { buildGrid } from '../../server/units/build-grid.ts'
import { importUnits } from '../../server/units/import-units.ts'
import { unitSetId } from '../../server/units/unit-set.ts'
import { generateCounty } from './county-gen.ts'
import { PLAIN_COVERAGE } from './plain-coverage.ts'
import { seeded } from './tile-math.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const url = process.env.DATABASE_URL
if (!url) {
  console.log('coverage-paths-bench: needs DATABASE_URL (a PostGIS database it may load data into); skipped')
  process.exit(0)
}
const scale = Number(process.env.BENCH_PATHS_SCALE ?? 16)
const size = Number(process.env.BENCH_PATHS_SIZE ?? 500)
const rounds = Number(process.env.BENCH_PATHS_ROUNDS ?? 2)
const prefix = `cp${scale}_`
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coverage-paths-'))

const db = await openDb({ url, dataDir: 'memory://', statementTimeoutMs: 0 })
const t0 = performance.now()
const county = await generateCounty(db, { scale, prefix, lat0: 31.2 })
await db.query('VACUUM (ANALYZE) feature')
const [w, s, e, n] = county.bbox
const cx = (w + e) / 2, cy = (s + n) / 2
const kx = 1 / Math.cos((cy * Math.PI) / 180)
// the county: a boundary wobbling at three scales (edges of ~20 m) around a lake
const R = 0.47 * (n - s)
const V = Math.round((2 * Math.PI * R * 111_000) / 20)
const rim = Array.from({ length: V + 1 }, (_, k) => {
  const t = (2 * Math.PI * (k % V)) / V
  const r = R * (0.86 + 0.07 * Math.sin(3 * t + 1) + 0.03 * Math.sin(11 * t) + 0.006 * Math.sin(97 * t))
  return [cx + r * kx * Math.cos(t), cy + r * Math.sin(t)]
})
const lake = Array.from({ length: 201 }, (_, k) => {
  const t = (-2 * Math.PI * (k % 200)) / 200
  return [cx + 0.2 * R * kx + 0.08 * R * kx * Math.cos(t), cy - 0.1 * R + 0.05 * R * Math.sin(t)]
})
const countyGeom = { type: 'Polygon', coordinates: [rim, lake] }
const fc = (features: { code: string; geometry: unknown }[]) => ({ type: 'FeatureCollection', crs: { type: 'name', properties: { name: 'EPSG:4490' } }, features: features.map((f) => ({ type: 'Feature', properties: { code: f.code }, geometry: f.geometry })) })
const countyFile = path.join(dir, 'county.geojson')
fs.writeFileSync(countyFile, JSON.stringify(fc([{ code: 'C1', geometry: countyGeom }])))
await importUnits(db, { file: countyFile, set: `${prefix}county`, replace: true, maxBytes: 1 << 30 })
// townships: Voronoi cells of seeded points (edges split every ~50 m) cut by the county
const rand = seeded(29)
const seeds = Array.from({ length: Math.max(8, Math.round(1.2 * scale)) }, () => [w + (e - w) * rand(), s + (n - s) * rand()])
const towns = await db.query<{ code: string; g: string }>(`
  WITH v AS (SELECT (ST_Dump(ST_VoronoiPolygons(ST_SetSRID(ST_Collect(ARRAY(SELECT ST_MakePoint(x, y) FROM unnest($1::float8[], $2::float8[]) p(x, y))), 4490)))).geom AS g),
       c AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON($3), 4490) AS g)
  SELECT 'T' || lpad(row_number() OVER (ORDER BY ST_X(ST_Centroid(v.g)), ST_Y(ST_Centroid(v.g)))::text, 3, '0') AS code,
         ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_Intersection(ST_Segmentize(v.g, 0.0005), c.g), 3)), 15) AS g
  FROM v, c WHERE ST_Intersects(v.g, c.g)`, [seeds.map((p) => p[0]), seeds.map((p) => p[1]), JSON.stringify(countyGeom)])
const townFile = path.join(dir, 'towns.geojson')
fs.writeFileSync(townFile, JSON.stringify(fc(towns.map((t) => ({ code: t.code, geometry: JSON.parse(t.g) })))))
await importUnits(db, { file: townFile, set: `${prefix}towns`, replace: true, maxBytes: 1 << 30 })
const paths: { name: string; set: string }[] = []
for (const [name, crs, within] of [['albers', undefined, false], ['gk', 'EPSG:4527', false], ['albers-clip', undefined, true], ['gk-clip', 'EPSG:4527', true]] as const) {
  const set = `${prefix}${name}${size}`
  await buildGrid(db, { set, sizeM: size, crs, ...(within ? { within: `${prefix}county` } : { bbox: county.bbox }), replace: true })
  paths.push({ name: `${name} ${size} m`, set })
}
paths.push({ name: 'townships', set: `${prefix}towns` })
await db.query('ANALYZE unit')
const genS = (performance.now() - t0) / 1000
const layers = county.layers.map((l) => l.name).join(',')
const layerIds = county.layers.map((l) => l.id)
const nameOf = new Map(county.layers.map((l) => [l.id, l.name]))

/** Ours: a new CLI process, its rows from the CSV it writes. */
function ours(set: string): { s: number; rows: Map<string, number> } {
  const out = path.join(dir, `${set}.csv`)
  const t = performance.now()
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/ecocensus.mjs'), 'stats', 'coverage', '--units', set, '--layers', layers, '--fresh', '--format', 'csv', '--out', out], { env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' })
  const sec = (performance.now() - t) / 1000
  if (r.status !== 0) throw new Error(`ecocensus failed: ${r.stderr}`)
  const lines = fs.readFileSync(out, 'utf8').replace(/^\uFEFF/, '').trim().split(/\r?\n/)
  const head = lines[0]!.split(',')
  const [iu, il, ia, im] = ['unit_code', 'layer', 'area_m2', 'measure'].map((c) => head.indexOf(c))
  const rows = new Map<string, number>()
  for (const l of lines.slice(1)) {
    const c = l.split(',')
    if (c[im!] === 'layer') rows.set(`${c[iu!]}|${c[il!]}`, Number(c[ia!]))
  }
  return { s: sec, rows }
}

async function plain(set: string): Promise<{ s: number; rows: Map<string, number> }> {
  const id = await unitSetId(db, set)
  const t = performance.now()
  const r = await db.query<{ unit_code: string; layer_id: number; area_m2: number }>(PLAIN_COVERAGE, [id, layerIds])
  const sec = (performance.now() - t) / 1000
  return { s: sec, rows: new Map(r.map((x) => [`${x.unit_code}|${nameOf.get(Number(x.layer_id))}`, Number(x.area_m2)])) }
}

const median = (xs: number[]) => { const o = [...xs].sort((a, b) => a - b); return (o[(o.length - 1) >> 1]! + o[o.length >> 1]!) / 2 }
console.log(`coverage paths, ${new Date().toISOString().slice(0, 10)}: county ${county.sideKm.toFixed(1)} km (×${scale}), ${county.layers.reduce((a, l) => a + l.features, 0)} features in ${county.layers.length} layers; generated in ${genS.toFixed(1)} s`)
console.log('| path | units | vertices | engine (declined units) | ecocensus cold CLI s | plain PostGIS s | speed-up | max |Δ| / unit area | max |Δ| m² |')
console.log('|---|---|---|---|---|---|---|---|---|')
for (const p of paths) {
  const mine: number[] = [], base: number[] = []
  let a: Map<string, number> | undefined, b: Map<string, number> | undefined
  for (let r = 0; r < rounds; r++) {
    for (const arm of r % 2 === 0 ? ['ours', 'plain'] : ['plain', 'ours']) {
      if (arm === 'ours') { const x = ours(p.set); mine.push(x.s); a = x.rows } else { const x = await plain(p.set); base.push(x.s); b = x.rows }
    }
  }
  const id = await unitSetId(db, p.set)
  const [u] = await db.query<{ n: number; v: number }>('SELECT count(*)::int AS n, sum(ST_NPoints(geom))::int AS v FROM unit WHERE set_id = $1', [id])
  const areas = new Map((await db.query<{ code: string; a: number }>('SELECT code, area_m2 AS a FROM unit WHERE set_id = $1', [id])).map((x) => [x.code, Number(x.a)]))
  const [run] = await db.query<{ engine: string; declined: number | null }>(
    `SELECT params->>'engine' AS engine, (meta->'measured'->>'declined')::int AS declined FROM run WHERE kind = 'coverage' AND params->>'unitSet' = $1 ORDER BY id DESC LIMIT 1`, [p.set])
  let share = 0, abs = 0, worst = ''
  for (const k of new Set([...a!.keys(), ...b!.keys()])) {
    const d = Math.abs((a!.get(k) ?? 0) - (b!.get(k) ?? 0))
    share = Math.max(share, d / areas.get(k.split('|')[0]!)!)
    if (d > abs) worst = `${k}: ours ${a!.get(k)} plain ${b!.get(k)} unit ${areas.get(k.split('|')[0]!)}`
    abs = Math.max(abs, d)
  }
  if (process.env.BENCH_PATHS_WORST) console.error(`  worst ${p.name}: ${worst}`)
  const m = median(mine), pl = median(base)
  console.log(`| ${p.name} | ${u!.n} | ${u!.v} | ${run?.engine ?? '?'}${run?.declined ? ` (${run.declined})` : ''} | ${m.toFixed(2)} (${mine.map((x) => x.toFixed(2)).join(', ')}) | ${pl.toFixed(2)} (${base.map((x) => x.toFixed(2)).join(', ')}) | ${(pl / m).toFixed(1)}× | ${share.toExponential(1)} | ${abs.toExponential(1)} |`)
}
await db.close()
fs.rmSync(dir, { recursive: true, force: true })
