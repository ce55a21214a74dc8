// Ingest of a survey-like shapefile (survey-shapefile.ts: 29-vertex patches sharing edges,
// GBK attributes, EPSG:4527) the way a survey team would load it, side by side:
//   ecocensus  `ecocensus ingest FILE --layer … --kind farmland` from a cold CLI process:
//              read, reproject to EPSG:4490, validate and repair, ellipsoidal areas, store,
//              and find the layer's contacts for the cell engine;
//   ogr2ogr    `ogr2ogr -f PostgreSQL … -t_srs EPSG:4490 -nlt PROMOTE_TO_MULTI` (gdal-bin):
//              read, reproject, store, GiST index; no validation;
//   shp2pgsql  `shp2pgsql -s 4527:4490 -W GBK -D -I … | psql` (postgis): the same in SQL.
// Each size runs ROUNDS rounds with the arms in ABC CBA order; wall time and peak RSS of each
// command's own process tree (GNU time) are reported, medians, with features/s, and the CPU
// time the whole machine was busy meanwhile (/proc/stat: the command and the PostgreSQL
// server it keeps busy; on a machine running nothing else, the work the arm costs): divided
// by the cores, the shortest wall time that work allows. The stored
// rows are checked: ecocensus's total area against ST_Area(geography) over ogr2ogr's table
// (GDAL's reprojection, PostGIS's area), 1e-9 relative.
//   DATABASE_URL=postgres://… node --import tsx scripts/bench/ingest-bench.ts [sizes, e.g. 50000,200000]
//   INGEST_ROUNDS=2 (default 2); INGEST_DIR=/tmp/eco-ingest-bench keeps the generated files.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { writeSurveyShapefile } from './survey-shapefile.ts'

const url = process.env.DATABASE_URL
if (!url) throw new Error('DATABASE_URL: a scratch PostGIS database')
const sizes = (process.argv[2] ?? '50000,200000').split(',').map(Number)
const rounds = Number(process.env.INGEST_ROUNDS ?? 2)
const dir = process.env.INGEST_DIR ?? path.join(os.tmpdir(), 'eco-ingest-bench')
fs.mkdirSync(dir, { recursive: true })
const root = path.join(import.meta.dirname, '..', '..')
const u = new URL(url)
const pgConn = `PG:host=${u.hostname} port=${u.port || 5432} user=${decodeURIComponent(u.username)} dbname=${u.pathname.slice(1)}${u.password ? ` password=${decodeURIComponent(u.password)}` : ''}`
const psqlArgs = ['-q', '-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username), '-d', u.pathname.slice(1)]

interface Measure { wall: number; rssMiB: number; cpu: number }

/** seconds every core of the machine has spent busy (user, nice, system, irq, softirq) since boot */
function busySeconds(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) / 100 // USER_HZ
}

/** wall seconds and peak RSS (largest process of the command) by GNU time; machine-wide busy CPU seconds */
function timed(cmd: string[], env: NodeJS.ProcessEnv = process.env): Measure {
  const out = path.join(dir, 'time.txt')
  const busy0 = busySeconds()
  const r = spawnSync('/usr/bin/time', ['-o', out, '-f', '%e %M', ...cmd], { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr.toString().slice(-2000)}`)
  const cpu = busySeconds() - busy0
  const [wall, kb] = fs.readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
  return { wall: wall!, rssMiB: kb! / 1024, cpu }
}

const arms: Record<string, (shp: string, n: number) => Measure> = {
  ecocensus: (shp) => timed([process.execPath, path.join(root, 'scripts', 'ecocensus.mjs'), 'ingest', shp, '--layer', 'bench_ingest', '--kind', 'farmland', '--vintage', '2024', '--category-field', 'DLBM'], { ...process.env, DATABASE_URL: url }),
  ogr2ogr: (shp) => timed(['ogr2ogr', '-f', 'PostgreSQL', pgConn, shp, '-nln', 'bench_ogr', '-overwrite', '-t_srs', 'EPSG:4490', '-nlt', 'PROMOTE_TO_MULTI', '-lco', 'GEOMETRY_NAME=geom']),
  shp2pgsql: (shp) => timed(['bash', '-o', 'pipefail', '-c', `shp2pgsql -s 4527:4490 -W GBK -D -I -c '${shp}' bench_shp | psql ${psqlArgs.join(' ')} -v ON_ERROR_STOP=1 > /dev/null`]),
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main() {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  // the schema, once (a fresh database has none before the first CLI call)
  execFileSync(process.execPath, [path.join(root, 'scripts', 'ecocensus.mjs'), 'layers'], { env: { ...process.env, DATABASE_URL: url }, stdio: 'ignore' })
  const clear = async () => {
    await client.query("DELETE FROM layer WHERE name = 'bench_ingest'")
    await client.query('DROP TABLE IF EXISTS bench_ogr, bench_shp')
  }
  console.log(`ingest bench, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${os.cpus()[0]?.model}; ${rounds} rounds, arms ABC CBA`)
  const cores = os.availableParallelism()
  console.log(`| features | .shp MiB | arm | wall s (median) | features/s | peak RSS MiB | vs ogr2ogr | busy CPU s (median) | CPU s / ${cores} cores |`)
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const n of sizes) {
    const base = path.join(dir, `survey_${n}`)
    if (!fs.existsSync(base + '.shp')) writeSurveyShapefile(base, n)
    const shp = base + '.shp'
    const mib = fs.statSync(shp).size / 2 ** 20
    const got: Record<string, Measure[]> = { ecocensus: [], ogr2ogr: [], shp2pgsql: [] }
    const names = Object.keys(arms)
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 ? [...names].reverse() : names) {
        await clear()
        await client.query('CHECKPOINT')
        got[name]!.push(arms[name]!(shp, n))
        if (name === 'ecocensus') {
          const [row] = (await client.query("SELECT feature_count AS n, (SELECT sum(area_m2) FROM feature WHERE layer_id = l.id) AS a, report->>'contacts' AS c FROM layer l WHERE name = 'bench_ingest'")).rows
          if (Number(row.n) !== n) throw new Error(`ecocensus stored ${row.n} of ${n}`)
          ;(got as Record<string, unknown>).area = Number(row.a)
        }
        if (name === 'ogr2ogr') {
          const [row] = (await client.query('SELECT count(*)::int AS n, sum(ST_Area(geom::geography)) AS a FROM bench_ogr')).rows
          if (row.n !== n) throw new Error(`ogr2ogr stored ${row.n} of ${n}`)
          ;(got as Record<string, unknown>).ogrArea = Number(row.a)
        }
      }
    }
    const ours = (got as Record<string, unknown>).area as number, theirs = (got as Record<string, unknown>).ogrArea as number
    const rel = Math.abs(ours - theirs) / theirs
    if (!(rel < 1e-9)) throw new Error(`total area: ecocensus ${ours} m², ST_Area over ogr2ogr's rows ${theirs} m² (relative ${rel})`)
    const ogr = median(got.ogr2ogr!.map((m) => m.wall))
    for (const name of names) {
      const wall = median(got[name]!.map((m) => m.wall))
      const rss = Math.max(...got[name]!.map((m) => m.rssMiB))
      const cpu = median(got[name]!.map((m) => m.cpu))
      console.log(`| ${n} | ${mib.toFixed(0)} | ${name} | ${wall.toFixed(2)} | ${Math.round(n / wall)} | ${rss.toFixed(0)} | ${(wall / ogr).toFixed(2)}× | ${cpu.toFixed(1)} | ${(cpu / cores).toFixed(1)} |`)
    }
    console.log(`<!-- ${n}: total area ecocensus ${ours.toFixed(3)} m², ogr2ogr rows by ST_Area(geography) ${theirs.toFixed(3)} m², relative ${rel.toExponential(1)} -->`)
  }
  await clear()
  await client.end()
}

await main()
