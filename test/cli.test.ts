// The CLI contract of docs/design.md, run as a user runs it: a child process per command,
// exit codes, one-line reasons on stderr, CSV on stdout; on the embedded database and,
// with DATABASE_URL, on PostGIS through --db.
import { runCli } from './helpers/cli.ts'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../server/db/open.ts'
import { coverage } from '../server/stats/coverage.ts'
import { ROOT } from '../server/settings.ts'
import { throwawayDatabase } from './helpers/backends.ts'
import { tmpDir } from './helpers/fixtures.ts'
import { GEOKEYS, writeGeoTiff } from '../scripts/raster/write-geotiff.ts'

const targets: { name: string; setup: () => Promise<{ args: string[]; env: Record<string, string>; open: () => ReturnType<typeof openDb>; done: () => Promise<void> }> }[] = [
  {
    name: 'embedded',
    setup: async () => {
      const dataDir = path.join(tmpDir(), 'db')
      return { args: [], env: { ECOCENSUS_DATA_DIR: dataDir }, open: () => openDb({ dataDir }), done: async () => fs.rmSync(dataDir, { recursive: true, force: true }) }
    },
  },
]
if (process.env.DATABASE_URL) {
  const url = process.env.DATABASE_URL
  targets.push({
    name: 'postgis',
    setup: async () => {
      const tmp = await throwawayDatabase(url)
      return { args: ['--db', tmp.url], env: {}, open: () => openDb({ url: tmp.url, dataDir: '' }), done: tmp.drop }
    },
  })
}

for (const target of targets) {
  // several CLI processes a test, each up to CLI_TIMEOUT_MS on a busy machine
  describe(`CLI on ${target.name}`, { timeout: 900_000 }, () => {
    let t: Awaited<ReturnType<(typeof targets)[number]['setup']>>
    const rasterDir = path.join(tmpDir(), 'rasters')
    const cli = (...args: string[]) => {
      // the target decides the database: its data dir, or --db; never the ambient DATABASE_URL
      const env: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_RASTER_DIR: rasterDir, ...t.env }
      delete env.DATABASE_URL
      return runCli([...t.args, ...args], env)
    }
    beforeAll(async () => { t = await target.setup() })
    afterAll(async () => t?.done())

    it('imports units, ingests layers, builds a grid and prints coverage CSV matching the library', async () => {
      let r = cli('units', 'import', 'data/sample/huangshan-counties.geojson', '--set', 'counties', '--parent-field', 'parent_code')
      expect(r.err).toMatch(/unit set counties .*7 loaded of 7 read/)
      expect(r.code).toBe(0)
      r = cli('ingest', 'data/sample/layers/redline_2023.shp', '--layer', 'redline', '--kind', 'redline', '--vintage', '2023', '--category-field', '类型')
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/layer redline@2023 \(redline\) from redline_2023\.shp \[EPSG:4527, gbk\]: 22 loaded of 22 read/)
      expect(cli('ingest', 'data/sample/layers/redline_2020.shp', '--layer', 'redline', '--kind', 'redline', '--vintage', '2020').code).toBe(0)
      // several files: the parts of one version, with progress
      r = cli('ingest', 'data/sample/layers/forest_2020.shp', 'data/sample/layers/forest_2023.shp', '--layer', 'parts', '--kind', 'other', '--vintage', '2020')
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/ingest parts: (\d+)\/\1 \(100%\), \d+ features\/s/)
      expect(r.err).toMatch(/layer parts@2020 \(other\) from forest_2020\.shp \+ forest_2023\.shp \[EPSG:4527, gbk\]: \d+ loaded of \d+ read/)
      r = cli('stats', 'change', '--units', 'counties', '--layer', 'redline', '--from', '2020', '--to', '2023')
      expect(r.code).toBe(0)
      const change = r.out.trim().split('\r\n')
      expect(change[0]).toBe('unit_code,unit_name,layer,from_vintage,to_vintage,stable_m2,gained_m2,lost_m2,net_m2,from_m2,to_m2') // DESIGN's contract, then appended columns
      expect(change).toHaveLength(8)
      r = cli('units', 'grid', '--set', 'g5', '--size', '5000', '--within', 'counties')
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/grid g5: \d+ cells of 5000 m in ALBERS-CN clipped to counties/)
      r = cli('stats', 'coverage', '--units', 'counties', '--layers', 'redline')
      expect(r.code).toBe(0)
      const lines = r.out.trim().split('\r\n')
      expect(lines[0]).toBe('unit_code,unit_name,unit_area_m2,layer,vintage,area_m2,share,measure,category,features') // DESIGN's contract, then appended columns
      expect(lines).toHaveLength(8)
      const out = path.join(tmpDir(), 'cov.json')
      expect(cli('stats', 'coverage', '--units', 'g5', '--format', 'json', '--out', out).code).toBe(0)
      const json = JSON.parse(fs.readFileSync(out, 'utf8'))
      expect(json.rows.length).toBeGreaterThan(300)
      // a spreadsheet with categories and the ecological space, then the run in `runs list`
      const xlsx = path.join(tmpDir(), 'cov.xlsx')
      r = cli('stats', 'coverage', '--units', 'counties', '--layers', 'redline', '--categories', '--union', '--format', 'xlsx', '--out', xlsx)
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/coverage: 100%[\s\S]*run (\d+): \d+ sums in/)
      expect(fs.readFileSync(xlsx).subarray(0, 2).toString()).toBe('PK')
      const runId = /run (\d+): /.exec(r.err)![1]
      expect(cli('runs', 'list').out).toMatch(new RegExp(`^${runId}\tcoverage\tdone\t100%`, 'm'))

      const db = await t.open()
      try {
        const lib = await coverage(db, 'counties', 'redline')
        for (const line of lines.slice(1)) {
          const [code, , unitArea, layer, vintage, area, share] = line.split(',')
          const row = lib.rows.find((x) => x.unit_code === code)!
          expect([Number(unitArea), layer, vintage, Number(area), Number(share)]).toEqual([row.unit_area_m2, 'redline', '2023', row.area_m2, row.share])
        }
      } finally {
        await db.close()
      }
      // ten CLI processes, each opening the database (the embedded one unpacks on the first)
    }, 300_000)

    it('adds a raster, derives NDVI, prints zonal CSV in the contract; classes of a county add up to its area', () => {
      const file = path.join(tmpDir(), 'lc.tif')
      // 117–119°E × 29–31°N at 0.01°: the sample counties lie inside; band 1 classes, band 2 a second band for NDVI
      writeGeoTiff(file, { width: 200, height: 200, bands: 2, type: 'uint8', tile: 64, compression: 'deflate', transform: [117, 0.01, 0, 31, 0, -0.01], geoKeys: GEOKEYS.epsg(4490, true) },
        (b, r, c) => (b === 0 ? 1 + ((r >> 3) + (c >> 3)) % 4 : 10 + ((r + c) % 30)))
      const legend = path.join(tmpDir(), 'legend.csv')
      fs.writeFileSync(legend, 'value,name,colour\n1,林地,#228b22\n2,草地,#9acd32\n3,水域,#1e90ff\n4,耕地,#f0e68c\n')
      let r = cli('raster', 'add', file, '--name', 'lc', '--vintage', '2023', '--kind', 'categorical', '--legend', legend)
      expect(r.err).toMatch(/raster lc@2023 \(categorical\) .*200×200, 2 bands uint8, deflate, EPSG:4490, nodata none, 4 classes, legend from/)
      expect(r.code).toBe(0)
      r = cli('stats', 'zonal', '--units', 'counties', '--raster', 'lc')
      expect(r.code).toBe(0)
      const lines = r.out.trim().split('\r\n')
      expect(lines[0]).toBe('unit_code,unit_name,raster,vintage,class,area_m2,share,class_name,pixels') // DESIGN's contract, then appended columns
      const byUnit = new Map<string, number>()
      for (const l of lines.slice(1)) {
        const f = l.split(',')
        byUnit.set(f[0]!, (byUnit.get(f[0]!) ?? 0) + Number(f[6]))
      }
      expect(byUnit.size).toBe(7)
      // shares of each county add to 1 (edges read straight in lon/lat vs geodesic: < 1e-4)
      for (const s of byUnit.values()) expect(Math.abs(s - 1)).toBeLessThan(1e-4)
      expect(lines.some((l) => l.includes(',林地,'))).toBe(true)
      expect(cli('raster', 'add', file, '--name', 'ms', '--vintage', '2023', '--kind', 'continuous').code).toBe(0)
      expect(cli('raster', 'derive', 'ndvi', '--from', 'ms', '--red', '1', '--nir', '2', '--name', 'ndvi').code).toBe(0)
      r = cli('stats', 'zonal', '--units', 'counties', '--raster', 'ndvi', '--table', 'histogram')
      expect(r.code).toBe(0)
      expect(r.out.split('\r\n')[0]).toBe('\uFEFFunit_code,unit_name,raster,vintage,band,bin,lower,upper,area_m2')
      r = cli('stats', 'zonal', '--units', 'counties', '--raster', 'ndvi')
      expect(r.out.split('\r\n')[0]).toBe('\uFEFFunit_code,unit_name,raster,vintage,band,count,sum,mean,min,max,stddev,area_m2,nodata_m2')
      r = cli('raster', 'add', file, '--name', 'lc', '--vintage', '2023', '--kind', 'categorical')
      expect([r.code, r.err.trim().split('\n').length]).toEqual([2, 1])
      expect(r.err).toMatch(/already exists/)
      r = cli('stats', 'zonal', '--units', 'counties', '--raster', 'nope')
      expect(r.code).toBe(2)
      expect(r.err).toMatch(/no raster 'nope'/)
      expect(cli('raster', 'list').out).toMatch(/^lc\t2023\tcategorical\t200×200×2/m)
    })

    it('factors, an allocation from a config file (CSV and workbook) and ESV from the land-cover raster', async () => {
      let r = cli('factors', '--units', 'counties')
      expect(r.code).toBe(0)
      const lines = r.out.trim().split('\r\n')
      expect(lines[0]).toBe('unit_code,unit_name,unit_area_m2,factor,label,value,value_unit,source,run_id')
      const db = await t.open()
      try {
        const cov = await coverage(db, 'counties', { layers: 'redline@2023' })
        for (const row of cov.rows) {
          const l = lines.find((x) => x.startsWith(`${row.unit_code},`) && x.includes(',redline_m2,'))!
          expect(Number(l.split(',')[5])).toBeCloseTo(row.area_m2, 4)
        }
      } finally {
        await db.close()
      }
      const dir = tmpDir()
      const config = path.join(dir, 'alloc.json')
      fs.writeFileSync(config, JSON.stringify({ units: 'counties', budget: 12345678.9, factors: [{ factor: 'redline_m2', weight: 0.7 }, { factor: 'ecological_space_m2', weight: 0.3 }], deductions: [{ factor: 'redline_lost_m2', rate_per_ha: 100, reason: 'red line lost' }], floor: 100000 }))
      r = cli('allocate', '--config', config)
      expect(r.code).toBe(0)
      const rows = r.out.trim().split('\r\n').slice(1).map((l) => l.split(','))
      expect(rows).toHaveLength(7)
      expect(rows.reduce((s, f) => s + Math.round(Number(f[9]) * 100), 0)).toBe(1234567890)
      expect(rows.every((f) => Number(f[9]) >= 100000)).toBe(true)
      // --units runs the same config over another set: the config's own name is not needed
      const other = path.join(dir, 'alloc-other.json')
      fs.writeFileSync(other, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, 'utf8')), units: 'not_loaded_here' }))
      const over = cli('allocate', '--config', other, '--units', 'counties')
      expect(over.code).toBe(0)
      expect(over.out).toBe(r.out)
      expect(cli('allocate', '--config', other).err).toMatch(/no unit set 'not_loaded_here'/)
      const book = path.join(dir, 'alloc.xlsx')
      expect(cli('allocate', '--config', config, '--format', 'xlsx', '--out', book).code).toBe(0)
      expect(fs.readFileSync(book).subarray(0, 2).toString()).toBe('PK')
      fs.writeFileSync(config, JSON.stringify({ units: 'counties', budget: 1, factors: [{ factor: 'redline_km2', weight: 1 }] }))
      r = cli('allocate', '--config', config)
      expect([r.code, r.err.trim().split('\n').length]).toEqual([2, 1])
      expect(r.err).toMatch(/unknown factor 'redline_km2'/)
      const mapping = path.join(dir, 'esv.json')
      fs.writeFileSync(mapping, JSON.stringify({ classes: { 1: 'mixed_forest', 2: 'shrub_grass', 3: 'water', 4: { paddy: 0.5, dry_farmland: 0.5 } } }))
      r = cli('esv', '--units', 'counties', '--raster', 'lc', '--mapping', mapping, '--equivalent-value', '3000')
      expect(r.code).toBe(0)
      expect(r.out.split('\r\n')[0]).toBe('\uFEFFunit_code,unit_name,total_yuan,food,raw_materials,water_supply,gas_regulation,climate_regulation,purification,hydrological_regulation,soil_conservation,nutrient_cycling,biodiversity,aesthetic')
      expect(r.err).toMatch(/ESV of 7 units: [0-9.]+ yuan\/yr in total/)
      r = cli('esv', '--units', 'counties', '--raster', 'lc', '--mapping', mapping)
      expect(r.code).toBe(2)
      expect(r.err).toMatch(/value of one standard equivalent .* is required/)
    }, 300_000)

    it('GEP from a config file with its price and unit tables: CSV contract, workbook, unit totals; a bad config exits 2', () => {
      const dir = tmpDir()
      // the geographic test raster on a declared 1 km grid in EPSG:4527: nearest for classes, bilinear for fields
      fs.writeFileSync(path.join(dir, 'prices.csv'), 'item,price,unit,year,source\n水源涵养,7.06,元/m³,2015,test\n农产品,4000,元/t,2023,test\n')
      fs.writeFileSync(path.join(dir, 'tables.csv'), 'unit_code,category,item,quantity,unit\n341024,material,农产品,100,t\n')
      const yaml = (classes: string) => ['year: 2023', 'grid: {crs: EPSG:4527, resolution: 1000}', `ecosystem: {raster: "lc@{year}", classes: {${classes}}}`,
        'inputs: {precipitation: {raster: ms, unit: mm, band: 2}, evapotranspiration: {raster: ms, unit: mm, band: 1}}',
        'types: {forest: {runoff: 0.1}, grassland: {runoff: 0.2}, water: {runoff: 0}, farmland: {runoff: 0.3}}',
        'items: {water_conservation: {}}', 'prices: prices.csv', 'tables: tables.csv'].join('\n')
      fs.writeFileSync(path.join(dir, 'gep.yaml'), yaml('"1": forest, "2": grassland, "3": water, "4": farmland'))
      let r = cli('gep', '--units', 'counties', '--config', path.join(dir, 'gep.yaml'))
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/GEP 2023 of 7 units: [0-9.]+ 亿元 \(run \d+\)/)
      const lines = r.out.trim().split('\r\n')
      expect(lines[0]).toBe('unit_code,unit_name,year,category,item,ecosystem,quantity,quantity_unit,price,price_unit,value_yuan,item_id,part_of,nodata_m2')
      expect(lines.some((l) => l.startsWith('341024,祁门县,2023,material,农产品,*,100,t,4000,元/t,400000,'))).toBe(true)
      r = cli('gep', '--units', 'counties', '--config', path.join(dir, 'gep.yaml'), '--table', 'units')
      expect(r.err).toMatch(/reused/)
      expect(r.out.trim().split('\r\n')).toHaveLength(8)
      const book = path.join(dir, 'gep.xlsx')
      expect(cli('gep', '--units', 'counties', '--config', path.join(dir, 'gep.yaml'), '--format', 'xlsx', '--out', book).code).toBe(0)
      expect(fs.readFileSync(book).subarray(0, 2).toString()).toBe('PK')
      fs.writeFileSync(path.join(dir, 'bad.yaml'), yaml('"1": forest, "2": grassland, "3": water'))
      r = cli('gep', '--units', 'counties', '--config', path.join(dir, 'bad.yaml'))
      expect([r.code, r.err.trim().split('\n').length]).toEqual([2, 1])
      expect(r.err).toMatch(/does not map class 4 of lc@2023/)
    }, 300_000)

    it('compensation ledger from a standards file: units table, explanation, reuse; bad standards exit 2', () => {
      const dir = tmpDir()
      expect(cli('ingest', 'data/sample/layers/wetland_2023.shp', '--layer', 'wetland', '--kind', 'wetland', '--vintage', '2023', '--category-field', '湿地类型').code).toBe(0)
      const standards = (cat: string) => ['year: 2023', 'rule: highest_once', 'payee_field: 村', 'programmes:',
        `  - {id: redline_water, name: 水源涵养红线, layer: redline@2023, categories: [${cat}], rate: 5, rate_unit: 元/亩·年, payee_field: 名称}`,
        '  - {id: wetland, name: 湿地, layer: wetland@2023, rate: 300, rate_unit: 元/公顷·年}'].join('\n')
      fs.writeFileSync(path.join(dir, 'standards.yaml'), standards('水源涵养'))
      let r = cli('compensate', '--units', 'counties', '--config', path.join(dir, 'standards.yaml'), '--table', 'units')
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/compensation of 7 units under highest_once: [0-9.]+ yuan; double-counted [0-9.]+ 亩, [0-9.]+ yuan \(run \d+\)/)
      const lines = r.out.trim().split('\r\n')
      expect(lines[0]).toBe('unit_code,unit_name,unit_area_m2,covered_m2,paid_m2,amount_yuan,amount_if_sum_yuan,double_counted_m2,double_counted_yuan')
      expect(lines).toHaveLength(8)
      r = cli('compensate', '--units', 'counties', '--config', path.join(dir, 'standards.yaml'), '--table', 'explanation')
      expect(r.err).toMatch(/reused/)
      expect(r.out).toMatch(/合计 [0-9,.]+ 元（就高不就低、不重复补偿）/)
      fs.writeFileSync(path.join(dir, 'bad.yaml'), standards('水源'))
      r = cli('compensate', '--units', 'counties', '--config', path.join(dir, 'bad.yaml'))
      expect([r.code, r.err.trim().split('\n').length]).toEqual([2, 1])
      expect(r.err).toMatch(/programme redline_water: layer redline@2023 has no 类型 水源/)
    }, 300_000)

    it('ingests the real external layer in UTM 18N from its .prj', () => {
      const r = cli('ingest', 'test/fixtures/external/NY8_utm18.shp', '--layer', 'ny8', '--kind', 'other', '--vintage', '1990')
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/\[EPSG:32618, utf-8\]: 281 loaded of 281 read/)
      expect(cli('layers').out).toMatch(/ny8\t1990\tother\t281 features\tEPSG:32618/)
    })

    it('exits 2 with a one-line reason naming the file and the problem', () => {
      const dir = tmpDir()
      fs.copyFileSync(path.join(ROOT, 'data/sample/layers/wetland_2023.shp'), path.join(dir, 'w.shp'))
      fs.copyFileSync(path.join(ROOT, 'data/sample/layers/wetland_2023.dbf'), path.join(dir, 'w.dbf'))
      const cases: [string[], RegExp][] = [
        [['ingest', path.join(dir, 'w.shp'), '--layer', 'w', '--kind', 'wetland', '--vintage', '2023'], /^ecocensus: w\.shp: no \.prj file and no --crs.*pass --crs EPSG:XXXX/],
        [['ingest', path.join(dir, 'missing.shp'), '--layer', 'w', '--kind', 'wetland', '--vintage', '2023'], /^ecocensus: missing\.shp: no such file/],
        [['ingest', path.join(dir, 'w.shp'), '--layer', 'w', '--kind', 'wetland', '--vintage', '2023', '--crs', 'EPSG:4527', '--encoding', 'UTF-8'], /^ecocensus: w\.shp: field .* of record 1 is not valid UTF-8 text/],
        [['stats', 'coverage', '--units', 'nope'], /^ecocensus: no unit set 'nope'/],
        [['units', 'grid', '--set', 'x', '--size', '1000', '--bbox', '1,2,3'], /^ecocensus: --bbox '1,2,3': must be four numbers minlon,minlat,maxlon,maxlat$/],
      ]
      for (const [args, re] of cases) {
        const r = cli(...args)
        expect(r.code, args.join(' ')).toBe(2)
        expect(r.err.trim().split('\n').at(-1)).toMatch(re)
      }
      const usage = cli('ingest', 'x.shp', '--layer', 'w')
      expect(usage.code).toBe(2)
      expect(usage.err).toMatch(/required option/)
    })

    it('a usage mistake is one line and exit 2; empty lists say what to do; no workbook onto a terminal', () => {
      // an option typo, an unknown command: one line with commander's suggestion, not the help
      for (const [args, re] of [
        [['stats', 'coverage', '--units', 'counties', '--layres', 'redline'], /^ecocensus: unknown option '--layres' \(Did you mean --layers\?\) \(--help for usage\)$/],
        [['stats', 'coverag'], /^ecocensus: unknown command 'coverag' \(Did you mean coverage\?\)/],
      ] as [string[], RegExp][]) {
        const r = cli(...args)
        expect(r.code, args.join(' ')).toBe(2)
        expect(r.err.trim().split('\n'), args.join(' ')).toHaveLength(1)
        expect(r.err.trim()).toMatch(re)
      }
      expect(cli('--help').code).toBe(0)
      // a database with nothing in it: each list names the command that fills it
      const empty: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_DATA_DIR: path.join(tmpDir(), 'empty-db') }
      delete empty.DATABASE_URL
      for (const [args, re] of [[['units', 'list'], /no unit sets yet: import one with `ecocensus units import/], [['layers'], /no layers yet/], [['raster', 'list'], /no rasters yet/], [['runs', 'list'], /no runs yet/]] as [string[], RegExp][]) {
        const r = runCli(args, empty)
        expect(r.code, args.join(' ')).toBe(0)
        expect(r.out).toBe('')
        expect(r.err).toMatch(re)
      }
      // stdout a terminal (a pseudo-terminal from script(1)): --format xlsx without --out refused
      const cmd = [process.execPath, path.join(ROOT, 'scripts/ecocensus.mjs'), ...t.args, 'factors', '--units', 'counties', '--format', 'xlsx'].map((a) => `'${a}'`).join(' ')
      const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ECOCENSUS_RASTER_DIR: rasterDir, ...t.env }, encoding: 'utf8', timeout: 120_000 })
      expect(tty.status).toBe(2)
      expect(tty.stdout).toMatch(/--format xlsx writes a binary file: pass --out FILE/)
      expect(tty.stdout).not.toMatch(/PK/)
    })
  })
}
