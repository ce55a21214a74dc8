// Zonal statistics the way a survey team runs them (issue 29 item 4): a land-cover raster in
// the local Gauss-Krüger zone (EPSG:4527, 30 m, uint8, DEFLATE, 256² tiles) and a 1 km grid
// built in the same zone, from a cold CLI process, against
//   PostGIS raster  raster2pgsql into 256² tiles, then ST_Clip + ST_ValueCount per unit
//                   (pixel centres decide), rows per unit and class, one statement through
//                   the same database;
//   GDAL + numpy    ogr2ogr of the units into the raster's CRS, gdal.Rasterize of their ids
//                   on the raster's grid, numpy bincount of id × class written as a CSV of
//                   unit, class, pixels (pixel centres, pixel counts: a speed reference, not
//                   the same answer), a new python3 process.
// Ours: `ecocensus stats zonal --fresh`, exact pixel fractions and ellipsoidal pixel areas.
// Arms alternate (ours, PostGIS, numpy, then reversed); medians. Results compared by class
// totals over all units (ours in m², theirs as pixels × their mean ellipsoidal area).
//   DATABASE_URL=postgres://… node --import tsx scripts/bench/zonal-gk-bench.ts
//   BENCH_ZGK_SIDE=8000 (pixels a side)  BENCH_ZGK_ROUNDS=2  BENCH_ZGK_DIR=… (kept)
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import proj4 from 'proj4'
import { openDb } from '../../server/db/open.ts'
import { GEOKEYS, writeGeoTiff } from '../raster/write-geotiff.ts'
import { landCoverClass } from './land-cover.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const url = process.env.DATABASE_URL
if (!url) {
  console.log('zonal-gk-bench: needs DATABASE_URL (PostGIS with postgis_raster); skipped')
  process.exit(0)
}
const side = Number(process.env.BENCH_ZGK_SIDE ?? 8000)
const rounds = Number(process.env.BENCH_ZGK_ROUNDS ?? 2)
const PX = 30
const GK39 = '+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs'
const LL = '+proj=longlat +ellps=GRS80 +no_defs'
// BENCH_ZGK_DIR keeps the raster, its store and the units file there (profiling)
const keep = process.env.BENCH_ZGK_DIR
const dir = keep ? (fs.mkdirSync(keep, { recursive: true }), keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'zonal-gk-'))
const env = { ...process.env, DATABASE_URL: url, ECOCENSUS_RASTER_DIR: path.join(dir, 'store') }
const cli = (args: string[]) => {
  const t = performance.now()
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/ecocensus.mjs'), ...args], { env, encoding: 'utf8', maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`ecocensus ${args.join(' ')}: ${r.stderr}`)
  return (performance.now() - t) / 1000
}

const db = await openDb({ url, dataDir: 'memory://', statementTimeoutMs: 0 })
// 60 km east of the zone's meridian at 30° N, off the 30 m lattice by 0.37 pixel
const ox = 39_560_000 + 0.37 * PX, oy = 3_320_000 + 0.37 * PX
const tif = path.join(dir, 'lc_gk.tif')
let t = performance.now()
writeGeoTiff(tif, { width: side, height: side, type: 'uint8', tile: 256, compression: 'deflate', transform: [ox, PX, 0, oy, 0, -PX], geoKeys: GEOKEYS.epsg(4527) }, (_b, r, c) => landCoverClass(r, c))
const genS = (performance.now() - t) / 1000
const inv = proj4(GK39, LL)
const corners = [[ox, oy], [ox + side * PX, oy], [ox, oy - side * PX], [ox + side * PX, oy - side * PX]].map((p) => inv.forward(p as [number, number]))
const bbox = [Math.min(...corners.map((p) => p[0]!)), Math.min(...corners.map((p) => p[1]!)), Math.max(...corners.map((p) => p[0]!)), Math.max(...corners.map((p) => p[1]!))]
const name = `lcgk${side}`
const units = `gk1km_${side}`
cli(['raster', 'add', tif, '--name', name, '--vintage', '2023', '--kind', 'categorical', '--replace'])
cli(['units', 'grid', '--set', units, '--size', '1000', '--crs', 'EPSG:4527', '--bbox', bbox.join(','), '--replace'])
const [{ id: setId, n }] = await db.query<{ id: number; n: number }>('SELECT s.id, count(u.*)::int AS n FROM unit_set s JOIN unit u ON u.set_id = s.id WHERE s.name = $1 GROUP BY s.id', [units])
// the PostGIS raster arm's table (its load is not timed: a one-off, like our ingest)
await db.query('CREATE EXTENSION IF NOT EXISTS postgis_raster')
await db.query('DROP TABLE IF EXISTS bench_gk_rast')
const load = spawnSync('bash', ['-o', 'pipefail', '-c', `raster2pgsql -q -s 4527 -t 256x256 -I "${tif}" bench_gk_rast | psql -q "${url}" -v ON_ERROR_STOP=1 >/dev/null`], { encoding: 'utf8' })
if (load.status !== 0) throw new Error(`raster2pgsql: ${load.stderr}`)
await db.query('ANALYZE bench_gk_rast')
// the numpy arm: the units as a GeoJSON file (an analyst's export), then ogr2ogr + python
const unitsFile = path.join(dir, 'units.geojson')
const rows = await db.query<{ code: string; g: string }>('SELECT code, ST_AsGeoJSON(geom, 12) AS g FROM unit WHERE set_id = $1 ORDER BY code', [setId])
fs.writeFileSync(unitsFile, JSON.stringify({ type: 'FeatureCollection', crs: { type: 'name', properties: { name: 'EPSG:4490' } }, features: rows.map((r, i) => ({ type: 'Feature', properties: { uid: i + 1, code: r.code }, geometry: JSON.parse(r.g) })) }))
const py = path.join(dir, 'zonal.py')
fs.writeFileSync(py, `
import sys, json, numpy as np
from osgeo import gdal
gdal.UseExceptions()
src = gdal.Open(sys.argv[1]); band = src.GetRasterBand(1)
ids = gdal.GetDriverByName('MEM').Create('', src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Int32)
ids.SetGeoTransform(src.GetGeoTransform()); ids.SetProjection(src.GetProjection())
gdal.Rasterize(ids, sys.argv[2], attribute='uid')
u = ids.GetRasterBand(1).ReadAsArray().ravel().astype(np.int64)
c = band.ReadAsArray().ravel().astype(np.int64)
counts = np.bincount(u * 256 + c, minlength=(int(u.max()) + 1) * 256).reshape(-1, 256)
classes = counts[1:].sum(axis=0)  # uid 0: outside every unit
json.dump({'classes': {str(k): int(classes[k]) for k in range(1, 256) if classes[k]}}, open(sys.argv[3], 'w'))
# the per-unit table an analyst wants: unit, class, pixels
uid, cls = np.nonzero(counts[1:])
np.savetxt(sys.argv[3] + '.csv', np.column_stack((uid + 1, cls, counts[1:][uid, cls])), fmt='%d', delimiter=',', header='uid,class,pixels', comments='')
`)
const numpy = () => {
  const gk = path.join(dir, 'units_gk.gpkg')
  fs.rmSync(gk, { force: true })
  const t0 = performance.now()
  const a = spawnSync('ogr2ogr', ['-f', 'GPKG', '-t_srs', 'EPSG:4527', gk, unitsFile], { encoding: 'utf8' })
  if (a.status !== 0) throw new Error(`ogr2ogr: ${a.stderr}`)
  const b = spawnSync('/usr/bin/python3', [py, tif, gk, path.join(dir, 'np.json')], { encoding: 'utf8' })
  if (b.status !== 0) throw new Error(`python: ${b.stderr}`)
  return (performance.now() - t0) / 1000
}
const postgis = async () => {
  const t0 = performance.now()
  // per unit and class, as zonal-bench.ts's plain way
  const r = await db.query<{ code: string; cls: number; n: number }>(
    `WITH u AS MATERIALIZED (SELECT code, ST_Transform(geom, 4527) AS g FROM unit WHERE set_id = $1)
     SELECT code, (vc).value::int AS cls, sum((vc).count)::float8 AS n
     FROM (SELECT u.code, ST_ValueCount(ST_Clip(r.rast, u.g), 1) AS vc FROM u JOIN bench_gk_rast r ON ST_Intersects(r.rast, u.g)) x
     GROUP BY 1, 2`, [setId])
  const s = (performance.now() - t0) / 1000
  const classes = new Map<number, number>()
  for (const x of r) if (x.cls > 0) classes.set(x.cls, (classes.get(x.cls) ?? 0) + Number(x.n))
  return { s, classes }
}
const out = path.join(dir, 'ours.csv')
const ours = () => cli(['stats', 'zonal', '--units', units, '--raster', `${name}@2023`, '--fresh', '--format', 'csv', '--out', out])
const times = { ours: [] as number[], postgis: [] as number[], numpy: [] as number[] }
let pgClasses = new Map<number, number>()
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ['ours', 'postgis', 'numpy'] : ['numpy', 'postgis', 'ours']
  for (const arm of order) {
    if (arm === 'ours') times.ours.push(ours())
    else if (arm === 'numpy') times.numpy.push(numpy())
    else { const x = await postgis(); times.postgis.push(x.s); pgClasses = x.classes }
  }
}
// class totals: ours in m² (exact fractions, ellipsoidal pixel areas); the others in pixels
const csv = fs.readFileSync(out, 'utf8').replace(/^\uFEFF/, '').trim().split(/\r?\n/)
const head = csv[0]!.split(',')
const ic = head.indexOf('class'), ia = head.indexOf('area_m2')
const oursClasses = new Map<number, number>()
for (const l of csv.slice(1)) { const c = l.split(','); oursClasses.set(Number(c[ic]), (oursClasses.get(Number(c[ic])) ?? 0) + Number(c[ia])) }
const npClasses = new Map(Object.entries(JSON.parse(fs.readFileSync(path.join(dir, 'np.json'), 'utf8')).classes as Record<string, number>).map(([k, v]) => [Number(k), v]))
const oursPx = [...oursClasses.values()].reduce((a, b) => a + b, 0)
const pgPx = [...pgClasses.values()].reduce((a, b) => a + b, 0)
const npPx = [...npClasses.values()].reduce((a, b) => a + b, 0)
let worstPg = 0, worstNp = 0
for (const [k, a] of oursClasses) {
  worstPg = Math.max(worstPg, Math.abs(a / oursPx - (pgClasses.get(k) ?? 0) / pgPx))
  worstNp = Math.max(worstNp, Math.abs(a / oursPx - (npClasses.get(k) ?? 0) / npPx))
}
const median = (xs: number[]) => { const o = [...xs].sort((a, b) => a - b); return (o[(o.length - 1) >> 1]! + o[o.length >> 1]!) / 2 }
const m = { ours: median(times.ours), postgis: median(times.postgis), numpy: median(times.numpy) }
const px = side * side
console.log(`zonal on a Gauss-Krüger raster, ${new Date().toISOString().slice(0, 10)}: ${side}² = ${(px / 1e6).toFixed(0)} M px (generated in ${genS.toFixed(1)} s), ${n} 1 km cells in EPSG:4527`)
console.log('| arm | s (median; runs) | M px/s | ours faster by |')
console.log('|---|---|---|---|')
for (const [arm, label] of [['ours', 'ecocensus cold CLI (exact fractions, ellipsoidal areas)'], ['postgis', 'PostGIS raster ST_Clip + ST_ValueCount'], ['numpy', 'ogr2ogr + GDAL rasterize + numpy bincount (new process)']] as const) {
  console.log(`| ${label} | ${m[arm].toFixed(2)} (${times[arm].map((x) => x.toFixed(2)).join(', ')}) | ${(px / m[arm] / 1e6).toFixed(1)} | ${arm === 'ours' ? '' : `${(m[arm] / m.ours).toFixed(1)}×`} |`)
}
console.log(`class shares of the total: ours vs PostGIS at most ${worstPg.toExponential(1)} apart, ours vs numpy ${worstNp.toExponential(1)} (pixel centres against exact fractions and areas)`)
await db.query('DROP TABLE IF EXISTS bench_gk_rast')
await db.close()
if (!keep) fs.rmSync(dir, { recursive: true, force: true })
