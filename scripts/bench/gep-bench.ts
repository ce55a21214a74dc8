// GEP on a county-sized model grid (default 10 000 × 10 000 pixels of 30 m in China Albers,
// 10⁴ grid units), every pixel item (water balance, soil retention with LS from the DEM,
// CO₂/O₂ from NPP, climate regulation) plus per-type coefficients, against the plain tools a
// GIS analyst would script instead: GRASS r.watershed (D8 flow accumulation, C) and a
// GDAL + numpy script (slope, LS, map algebra, units rasterized at pixel centres, bincount).
// Arms alternate; ours runs as the CLI from a cold process (`ecocensus gep`), and warm in
// this process. Unit totals of the two are compared (centre sampling vs exact fractions).
//   DATABASE_URL=postgres://…/bench node --import tsx scripts/bench/gep-bench.ts
//   BENCH_GEP_SIDE=10000 BENCH_GEP_UNITS_SIDE=100 BENCH_GEP_ROUNDS=2 (defaults)
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import proj4 from 'proj4'
import YAML from 'yaml'
import { openDb } from '../../server/db/open.ts'
import { ingestRaster } from '../../server/raster/ingest-raster.ts'
import { closeRasterFiles } from '../../server/raster/raster-store.ts'
import { createRuntime } from '../../server/runtime.ts'
import { buildGrid } from '../../server/units/build-grid.ts'
import { gep } from '../../server/gep/gep.ts'
import { ROOT } from '../../server/settings.ts'
import { GEOKEYS, writeGeoTiff } from '../raster/write-geotiff.ts'
import { openTiff, readWindow } from '../../server/raster/geotiff-file.ts'

const ALBERS = '+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs'
const LL = '+proj=longlat +ellps=GRS80 +no_defs'
const PX = 30
const side = Number(process.env.BENCH_GEP_SIDE ?? 10_000)
const unitsSide = Number(process.env.BENCH_GEP_UNITS_SIDE ?? 100)
const rounds = Number(process.env.BENCH_GEP_ROUNDS ?? 2)
/** BENCH_GEP_REFERENCE=0: ours only (profiling) */
const withReference = process.env.BENCH_GEP_REFERENCE !== '0'
const url = process.env.DATABASE_URL ?? ''
if (!url) throw new Error('gep-bench needs DATABASE_URL (a PostGIS database the CLI process can open too)')

/** land cover classes 1 (farmland), 2 (forest), 3 (grassland), 4 (water), 5 (urban) in blobs */
const classAt = (r: number, c: number) => {
  const h = Math.imul((r >> 6) * 73856093 ^ (c >> 6) * 19349663, 2654435761) >>> 0
  return ((h >>> 9) % 5) + 1
}
/** The DEM (BENCH_GEP_DEM): 'relief' (default) hills of smooth value noise (400, 120, 25 m at
 *  27, 5 and 1 km) on a regional slope of 1.2 %, 3.8 % of the cells in depressions as real DEMs
 *  have (the fixture: 4.8 %); 'egg' the first bench's sine hills with a pseudo-random 0–1.2 m
 *  roughness (a third of the cells in pits); 'mirror' the fixture DEM upsampled 3× and mirrored
 *  (the mirroring closes basins: half the cells are filled) */
const demKind = process.env.BENCH_GEP_DEM ?? 'relief'
const egg = (r: number, c: number) => 400 + 300 * Math.sin(r / 400) * Math.cos(c / 470) + 60 * Math.sin((r + 2 * c) / 97) + ((r * 7919 + c * 104729) % 7) * 0.2
function hash(x: number, y: number, s: number): number {
  let h = Math.imul(x, 374761393) ^ Math.imul(y, 668265263) ^ Math.imul(s, 2147483647)
  h = Math.imul(h ^ (h >>> 13), 1274126177)
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296
}
function noise(r: number, c: number, scale: number, s: number): number {
  const y = r / scale, x = c / scale, x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0
  const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy)
  const a = hash(x0, y0, s) * (1 - sx) + hash(x0 + 1, y0, s) * sx
  const b = hash(x0, y0 + 1, s) * (1 - sx) + hash(x0 + 1, y0 + 1, s) * sx
  return a * (1 - sy) + b * sy
}
const relief = (r: number, c: number) => 1500 - 0.35 * (r + c) + 400 * noise(r, c, 900, 1) + 120 * noise(r, c, 170, 2) + 25 * noise(r, c, 31, 3)
async function realTerrain(): Promise<(r: number, c: number) => number> {
  const t = await openTiff(path.join(ROOT, 'test', 'fixtures', 'dem', 'jacksboro_utm17n_90m.tif'))
  const w = t.image.getWidth(), h = t.image.getHeight()
  const v = (await readWindow(t.image, 0, 0, 0, w, h)) as ArrayLike<number>
  t.close()
  const at = (r: number, c: number) => v[Math.min(h - 1, r) * w + Math.min(w - 1, c)]!
  const mirror = (i: number, n: number) => { const m = i % (2 * n); return m < n ? m : 2 * n - 1 - m }
  return (r, c) => {
    // 3× finer than the fixture, then mirrored: continuous at the seams
    const y = mirror(r, 3 * h) / 3, x = mirror(c, 3 * w) / 3
    const r0 = Math.floor(y), c0 = Math.floor(x), fy = y - r0, fx = x - c0
    return (1 - fy) * ((1 - fx) * at(r0, c0) + fx * at(r0, c0 + 1)) + fy * ((1 - fx) * at(r0 + 1, c0) + fx * at(r0 + 1, c0 + 1))
  }
}

const TYPES = {
  farmland: { runoff: 0.3, c: 0.25, p: 0.5, carbon: { above: 5, below: 1, soil: 40, dead: 0 } },
  forest: { runoff: 0.05, c: 0.01, p: 1, carbon: { above: 60, below: 12, soil: 90, dead: 3 } },
  grassland: { runoff: 0.15, c: 0.05, p: 1, carbon: { above: 2, below: 6, soil: 60, dead: 0 } },
  water: { runoff: 0, c: 0, p: 1, carbon: { above: 0, below: 0, soil: 0, dead: 0 } },
  urban: { runoff: 0.6, c: 0, p: 1, carbon: { above: 0, below: 0, soil: 10, dead: 0 } },
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-gepbench-'))
  const store = path.join(dir, 'store')
  const db = await openDb({ url, dataDir: '', statementTimeoutMs: 0 })
  try {
    const [x0, y0] = proj4(LL, ALBERS).forward([117.5, 30.5]) as [number, number]
    const ox = Math.round(x0 / PX) * PX
    const oy = Math.round(y0 / PX) * PX
    const base = { width: side, height: side, tile: 256, compression: 'none' as const, transform: [ox, PX, 0, oy, 0, -PX] as [number, number, number, number, number, number], geoKeys: GEOKEYS.albersCn() }
    let t = performance.now()
    const demAt = demKind === 'egg' ? egg : demKind === 'mirror' ? await realTerrain() : relief
    const fields: Record<string, (r: number, c: number) => number> = {
      precip: (r, c) => 1400 + 300 * Math.sin(r / 900 + c / 1300), et: (r, c) => 650 + 100 * Math.cos(r / 700 - c / 1100),
      npp: (r, c) => 500 + 200 * Math.sin((r + c) / 800), r: (r) => 3500 + r * 0.05, k: (_r, c) => 0.02 + (c % 500) * 0.00004, dem: demAt,
    }
    const files: Record<string, string> = { lc: path.join(dir, 'lc.tif') }
    writeGeoTiff(files.lc!, { ...base, type: 'uint8', nodata: 0 }, (_b, r, c) => classAt(r, c))
    for (const [k, f] of Object.entries(fields)) {
      files[k] = path.join(dir, `${k}.tif`)
      writeGeoTiff(files[k]!, { ...base, type: 'float32', nodata: -9999 }, (_b, r, c) => f(r, c))
    }
    console.log(`generated ${side}×${side} = ${(side * side / 1e6).toFixed(0)} M pixels × 7 rasters in ${((performance.now() - t) / 1000).toFixed(1)} s (${dir})`)
    await db.query("DELETE FROM run WHERE kind = 'gep'")
    for (const [k, f] of Object.entries(files)) await ingestRaster(db, { file: f, name: `gb_${k}`, vintage: '2023', kind: k === 'lc' ? 'categorical' : 'continuous', rasterDir: store, replace: true })
    const inv = proj4(ALBERS, LL)
    const corners = [[ox, oy], [ox + side * PX, oy], [ox, oy - side * PX], [ox + side * PX, oy - side * PX]].map((p) => inv.forward(p as [number, number]))
    // cells inside the raster (a margin of 2 % each side), so that both arms see whole units
    const [w, s, e, n] = [Math.min(...corners.map((p) => p[0]!)), Math.min(...corners.map((p) => p[1]!)), Math.max(...corners.map((p) => p[0]!)), Math.max(...corners.map((p) => p[1]!))]
    const mx = (e - w) * 0.03, my = (n - s) * 0.03
    await buildGrid(db, { set: 'gep_cells', sizeM: (side / unitsSide) * PX * 0.94, bbox: [w + mx, s + my, e - mx, n - my], replace: true })
    // the grid covers its lon/lat box with whole cells: keep those inside the raster's square
    const [setRow] = await db.query<{ id: number }>("SELECT id FROM unit_set WHERE name = 'gep_cells' AND retired_at IS NULL")
    const fwd = proj4(LL, ALBERS)
    const cells = await db.query<{ id: string; g: string }>('SELECT id::text AS id, ST_AsGeoJSON(geom) AS g FROM unit WHERE set_id = $1', [setRow!.id])
    const outside = cells.filter((u) => (JSON.parse(u.g).coordinates as number[][][][]).flat(2).some(([lon, lat]) => {
      const [x, y] = fwd.forward([lon!, lat!]) as [number, number]
      return x < ox + PX || x > ox + (side - 1) * PX || y > oy - PX || y < oy - (side - 1) * PX
    })).map((u) => u.id)
    await db.query('DELETE FROM unit WHERE id = ANY($1::bigint[])', [outside])
    await db.query('UPDATE unit_set SET unit_count = (SELECT count(*) FROM unit WHERE set_id = $1) WHERE id = $1', [setRow!.id])
    console.log(`${(await db.query<{ n: number }>('SELECT count(*)::int AS n FROM unit WHERE set_id = $1', [setRow!.id]))[0]!.n} units`)
    const cfg = {
      name: 'gep bench', year: 2023,
      ecosystem: { raster: 'gb_lc', classes: { '1': 'farmland', '2': 'forest', '3': 'grassland', '4': 'water', '5': 'urban' } },
      inputs: {
        precipitation: { raster: 'gb_precip', unit: 'mm' }, evapotranspiration: { raster: 'gb_et', unit: 'mm' }, npp: { raster: 'gb_npp', unit: 'gC/m2' },
        erosivity: { raster: 'gb_r', unit: 'MJ·mm/(ha·h·a)' }, erodibility: { raster: 'gb_k', unit: 't·ha·h/(ha·MJ·mm)' }, dem: { raster: 'gb_dem', unit: 'm' },
      },
      types: TYPES,
      items: { water_conservation: {}, soil_retention: {}, carbon_sequestration: {}, oxygen_release: {}, climate_regulation: {}, air_purification: { substances: { SO2: { unit: 'kg/(ha·a)', types: { forest: 88.65, grassland: 20 } } } }, carbon_stock: {} },
      prices: { version: 'bench', rows: [
        { item: '水源涵养', price: 7.06, unit: '元/m³', year: 2015, source: 'bench' }, { item: '土壤保持', price: 20, unit: '元/t', year: 2020, source: 'bench' },
        { item: '固碳', price: 100, unit: '元/t', year: 2020, source: 'bench' }, { item: '释氧', price: 1000, unit: '元/t', year: 2020, source: 'bench' },
        { item: '气候调节', price: 0.6, unit: '元/kWh', year: 2020, source: 'bench' }, { item: '空气净化·SO2', price: 1260, unit: '元/t', year: 2020, source: 'bench' },
      ] },
      thresholds: { max_nodata_share: 0.02, decline_share: 0.05 },
    }
    const cfgFile = path.join(dir, 'gep.yaml')
    fs.writeFileSync(cfgFile, YAML.stringify(cfg))
    // the reference: units rasterized at pixel centres (gdal_rasterize), GRASS accumulation, numpy
    const unitsFile = path.join(dir, 'cells.gpkg')
    spawnSync('ogr2ogr', ['-f', 'GPKG', unitsFile, url.replace(/^postgres:\/\//, 'PG:postgresql://'), '-sql', "SELECT u.id, u.code, ST_Transform(u.geom, 4490) AS geom FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = 'gep_cells' AND s.retired_at IS NULL", '-nln', 'cells'], { stdio: 'inherit' })

    const ours = () => {
      const t0 = performance.now()
      const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'ecocensus.mjs'), 'gep', '--units', 'gep_cells', '--config', cfgFile, '--fresh', '--table', 'units', '--out', path.join(dir, 'ours.csv')], {
        env: { ...process.env, ECOCENSUS_RASTER_DIR: store, ECOCENSUS_SAMPLE: '0' }, encoding: 'utf8',
      })
      if (r.status !== 0) throw new Error(`ecocensus gep failed: ${r.stderr}`)
      return (performance.now() - t0) / 1000
    }
    /** stage times of the last gep run (ms), as the run recorded them */
    const lastStages = async () => (await db.query<{ s: string }>("SELECT meta->>'stages' AS s FROM run WHERE kind = 'gep' ORDER BY id DESC LIMIT 1"))[0]?.s
    const reference = () => {
      const t0 = performance.now()
      const acc = path.join(dir, 'acc.tif')
      const g = spawnSync('grass', ['--tmp-location', files.dem!, '--exec', 'bash', '-c',
        `r.in.gdal --q input=${files.dem} output=dem && g.region raster=dem && r.watershed -s -a elevation=dem accumulation=acc --q && r.out.gdal --q -c input=acc output=${acc} type=Float64 createopt=TILED=YES --o`], { stdio: 'ignore' })
      if (g.status !== 0) throw new Error('GRASS r.watershed failed')
      const tg = (performance.now() - t0) / 1000
      const p = spawnSync('/usr/bin/python3', [path.join(ROOT, 'scripts', 'bench', 'gep_numpy.py'), dir, unitsFile, acc], { encoding: 'utf8' })
      if (p.status !== 0) throw new Error(`numpy reference failed: ${p.stderr}`)
      return { total: (performance.now() - t0) / 1000, grass: tg }
    }
    const lines: string[] = []
    for (let k = 0; k < rounds; k++) {
      const a = ours()
      const b = withReference ? reference() : { total: NaN, grass: NaN }
      const st = await lastStages()
      lines.push(`round ${k + 1}: ecocensus gep (cold CLI process) ${a.toFixed(1)} s (stages ms ${st}) | GRASS r.watershed ${b.grass.toFixed(1)} s + GDAL/numpy ${(b.total - b.grass).toFixed(1)} s = ${b.total.toFixed(1)} s`)
      console.log(lines.at(-1))
    }
    // warm, in this process (the server's path): two runs, the second with everything loaded
    const rt = createRuntime({})
    for (let k = 0; k < Number(process.env.BENCH_GEP_WARM ?? 2); k++) {
      t = performance.now()
      const r = await rt.run(() => gep(db, { units: 'gep_cells', config: cfg }, store, { reuse: false }))
      const stages = (r.run.meta as { stages?: Record<string, number> }).stages
      lines.push(`warm run ${k + 1} in this process: ${((performance.now() - t) / 1000).toFixed(1)} s (stages ms ${JSON.stringify(stages)}, ${rt.scan.options.threads} scan threads)`)
      console.log(lines.at(-1))
    }
    await rt.close()
    // agreement of unit GEP: exact fractions vs centre sampling
    const readCsv = (f: string) => fs.readFileSync(f, 'utf8').replace(/^\ufeff/, '').trim().split(/\r?\n/).map((l) => l.split(','))
    const ourRows = readCsv(path.join(dir, 'ours.csv'))
    const hi = ourRows[0]!
    const ourGep = new Map(ourRows.slice(1).map((r) => [r[hi.indexOf('unit_code')]!, Number(r[hi.indexOf('gep_yuan')])]))
    const refRows = withReference ? readCsv(path.join(dir, 'numpy.csv')) : [[]]
    const diffs = refRows.slice(1).map((r) => Math.abs(Number(r[1]) / ourGep.get(r[0]!)! - 1)).filter(Number.isFinite).sort((a, b) => a - b)
    lines.push(`unit GEP, numpy (centre-sampled) vs ecocensus (exact fractions): median |diff| ${(diffs[diffs.length >> 1]! * 100).toFixed(3)} %, p95 ${(diffs[Math.floor(diffs.length * 0.95)]! * 100).toFixed(3)} % over ${diffs.length} units`)
    console.log(lines.at(-1))
    console.log(`\n${new Date().toISOString().slice(0, 10)} gep-bench ${side}×${side} px, ${unitsSide}² units, DEM ${demKind}, ${os.cpus().length} cores:\n${lines.map((l) => `- ${l}`).join('\n')}`)
  } finally {
    await closeRasterFiles()
    await db.close()
    if (!process.env.BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
