import fs from 'node:fs'
import { Command, Option } from 'commander'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { loadSettings, type Settings } from '../server/settings.ts'
import { exitCode, oneLine, BadInput } from '../server/errors.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { LAYER_KINDS } from '../server/ingest/names.ts'
import { importUnits } from '../server/units/import-units.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { coverage } from '../server/stats/coverage.ts'
import { CHANGE_COLUMNS, COVERAGE_COLUMNS, renderTable } from '../server/stats/csv.ts'
import { change } from '../server/stats/change.ts'
import { listLayers, listUnitSets } from '../server/catalog.ts'
import { loadSampleIfEmpty } from '../server/sample.ts'
import { serve } from '../server/serve.ts'

const log = (m: string) => process.stderr.write(m + '\n')

/** Progress on stderr, at most every 2 s, and always the last step. */
function progress(what: string) {
  let last = 0
  return (done: number, total: number | undefined) => {
    const now = Date.now()
    if (now - last < 2000 && done !== total) return
    last = now
    log(`${what}: ${done}${total ? `/${total}` : ''}`)
  }
}

async function withDb<T>(cmd: Command, fn: (db: Db, s: Settings) => Promise<T>): Promise<T> {
  const settings = loadSettings()
  const url = (cmd.optsWithGlobals().db as string | undefined) ?? settings.databaseUrl
  const db = await openDb({ url, dataDir: settings.dataDir, statementTimeoutMs: 0, log })
  try {
    return await fn(db, { ...settings, databaseUrl: url })
  } finally {
    await db.close()
  }
}

function output(text: string, out?: string) {
  if (out) {
    fs.writeFileSync(out, text)
    log(`wrote ${out}`)
  } else process.stdout.write(text)
}

function summary(report: { loaded: number; read: number; repaired: unknown[]; droppedAfterRepair: unknown[]; emptyGeometry: unknown[]; fixes: { closedRings: number; droppedRings: number } }) {
  return `${report.loaded} loaded of ${report.read} read; ${report.repaired.length} repaired, ${report.droppedAfterRepair.length} dropped after repair, ${report.emptyGeometry.length} with empty geometry, ${report.fixes.closedRings} rings closed, ${report.fixes.droppedRings} degenerate rings dropped`
}

const program = new Command('ecocensus')
  .description('ecological asset inventory: ingest layers and units, compute per-unit coverage')
  .addOption(new Option('--db <url>', 'postgres:// URL of a PostGIS database (default: DATABASE_URL, else the embedded database)'))
  .showHelpAfterError()

program
  .command('ingest <file>')
  .description('ingest a polygon layer version (.shp, .zip, .geojson, .gpkg)')
  .requiredOption('--layer <name>', 'layer name')
  .addOption(new Option('--kind <kind>', 'layer kind').choices([...LAYER_KINDS]).makeOptionMandatory())
  .requiredOption('--vintage <v>', 'year or date of the survey')
  .option('--crs <code>', 'CRS of the file when it has no usable .prj, e.g. EPSG:4527')
  .option('--encoding <enc>', 'text encoding of the .dbf (e.g. GBK) when there is no .cpg')
  .option('--category-field <field>', 'attribute holding the category (protected-area type, land-use code …)')
  .option('--table <name>', 'GeoPackage table, when it holds several')
  .option('--replace', 'overwrite an existing layer version of the same name and vintage')
  .addOption(new Option('--invalid <policy>', 'invalid polygons: repair with ST_MakeValid, or fail').choices(['repair', 'fail']).default('repair'))
  .action(async (file: string, o, cmd: Command) =>
    withDb(cmd, async (db, s) => {
      const r = await ingestLayer(db, { file, layer: o.layer, kind: o.kind, vintage: o.vintage, crs: o.crs, encoding: o.encoding, categoryField: o.categoryField, table: o.table, replace: !!o.replace, invalid: o.invalid, maxBytes: s.maxFileBytes, progress: progress(`ingest ${o.layer}`) })
      log(`layer ${r.layer}@${r.vintage} (${r.kind}) from ${r.file} [${r.crs}${r.encoding ? `, ${r.encoding}` : ''}]: ${summary(r)}; total feature area ${(r.areaM2 / 1e4).toFixed(2)} ha`)
      if (r.crsNote) log(`note: ${r.crsNote}`)
    }),
  )

const units = program.command('units').description('administrative units and grids')
units
  .command('import <file>')
  .description('import administrative units (code per GB/T 2260, name, parent)')
  .requiredOption('--set <name>', 'unit set name')
  .option('--code-field <field>', 'unit code field (default: code, adcode, XZQDM, id …)')
  .option('--name-field <field>', 'unit name field (default: name, XZQMC …)')
  .option('--parent-field <field>', 'parent unit code field')
  .option('--crs <code>', 'CRS when the file has none')
  .option('--encoding <enc>', 'dbf text encoding')
  .option('--table <name>', 'GeoPackage table')
  .option('--replace', 'overwrite an existing unit set of this name')
  .action(async (file: string, o, cmd: Command) =>
    withDb(cmd, async (db, s) => {
      const r = await importUnits(db, { file, set: o.set, codeField: o.codeField, nameField: o.nameField, parentField: o.parentField, crs: o.crs, encoding: o.encoding, table: o.table, replace: !!o.replace, maxBytes: s.maxFileBytes, progress: progress(`units ${o.set}`) })
      log(`unit set ${r.set} from ${r.file} [${r.crs}], code field ${r.codeField}: ${summary(r)}`)
    }),
  )
units
  .command('grid')
  .description('generate a square grid of cells SIZE metres wide in a projected CRS')
  .requiredOption('--set <name>', 'unit set name')
  .requiredOption('--size <metres>', 'cell size in metres (GB/T 12409: 10, 100, 1000, 10000, 100000)')
  .option('--within <unitset>', 'clip the grid to this unit set')
  .option('--bbox <minlon,minlat,maxlon,maxlat>', 'extent in EPSG:4490 degrees')
  .option('--crs <code>', 'projected CRS of the grid (default ALBERS-CN: China Albers equal-area)')
  .option('--replace', 'overwrite an existing unit set of this name')
  .action(async (o, cmd: Command) =>
    withDb(cmd, async (db) => {
      const size = Number(o.size)
      let bbox: [number, number, number, number] | undefined
      if (o.bbox) {
        const parts = String(o.bbox).split(',').map(Number)
        if (parts.length !== 4 || !parts.every(Number.isFinite)) throw new BadInput(`--bbox '${o.bbox}': give four numbers minlon,minlat,maxlon,maxlat`)
        bbox = parts as [number, number, number, number]
      }
      const r = await buildGrid(db, { set: o.set, sizeM: size, within: o.within, bbox, crs: o.crs, replace: !!o.replace, progress: progress(`grid ${o.set}`) })
      log(`grid ${r.set}: ${r.loaded} cells of ${r.sizeM} m in ${r.crs}${r.within ? ` clipped to ${r.within}` : ''} (${r.cellsGenerated} generated)`)
    }),
  )
units.command('list').description('list unit sets').action(async (_o, cmd: Command) =>
  withDb(cmd, async (db) => {
    for (const s of await listUnitSets(db)) process.stdout.write(`${s.name}\t${s.kind}\t${s.unit_count} units\t${((s.area_m2 as number) / 1e6).toFixed(3)} km²\n`)
  }),
)

program.command('layers').description('list layer versions').action(async (_o, cmd: Command) =>
  withDb(cmd, async (db) => {
    for (const l of await listLayers(db)) process.stdout.write(`${l.name}\t${l.vintage}\t${l.kind}\t${l.feature_count} features\t${l.source_crs}\t${l.source_file}\n`)
  }),
)

const stats = program.command('stats').description('statistics')
stats
  .command('coverage')
  .description('area and share of each layer inside each unit (overlaps flattened, ellipsoidal)')
  .requiredOption('--units <set>', 'unit set')
  .option('--layers <list>', 'NAME or NAME@VINTAGE, comma-separated (default: latest vintage of every layer)')
  .addOption(new Option('--format <fmt>', 'output format').choices(['csv', 'json']).default('csv'))
  .option('--out <file>', 'write to a file instead of stdout')
  .action(async (o, cmd: Command) =>
    withDb(cmd, async (db) => {
      log(`coverage of ${o.layers ?? 'all layers (latest vintages)'} over ${o.units}…`)
      const t = Date.now()
      const r = await coverage(db, o.units, o.layers)
      log(`${r.rows.length} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`)
      output(renderTable(o.format, COVERAGE_COLUMNS, r), o.out)
    }),
  )

stats
  .command('change')
  .description('stable, gained, lost and net area of a layer between two vintages, per unit')
  .requiredOption('--units <set>', 'unit set')
  .requiredOption('--layer <name>', 'layer name')
  .requiredOption('--from <vintage>', 'earlier vintage')
  .requiredOption('--to <vintage>', 'later vintage')
  .addOption(new Option('--format <fmt>', 'output format').choices(['csv', 'json']).default('csv'))
  .option('--out <file>', 'write to a file instead of stdout')
  .action(async (o, cmd: Command) =>
    withDb(cmd, async (db) => {
      log(`change of ${o.layer} ${o.from} → ${o.to} over ${o.units}…`)
      const r = await change(db, o.units, o.layer, o.from, o.to)
      output(renderTable(o.format, CHANGE_COLUMNS, r), o.out)
    }),
  )

program
  .command('sample')
  .description('load the bundled sample data (if not loaded yet)')
  .action(async (_o, cmd: Command) => withDb(cmd, async (db, s) => { if (!(await loadSampleIfEmpty(db, s.maxFileBytes, log))) log('sample data already loaded') }))

program
  .command('serve')
  .description('run the HTTP API and the viewer')
  .option('--port <port>', 'port (default ECOCENSUS_PORT or 3000)')
  .action(async (o, cmd: Command) => {
    const settings = loadSettings()
    const url = (cmd.optsWithGlobals().db as string | undefined) ?? settings.databaseUrl
    const s = { ...settings, databaseUrl: url, port: o.port ? Number(o.port) : settings.port }
    const db = await openDb({ url, dataDir: s.dataDir, statementTimeoutMs: s.statementTimeoutMs, log })
    await serve(db, s, log)
  })

program.parseAsync(process.argv).catch((err) => {
  log(`ecocensus: ${oneLine(err)}`)
  if (process.env.ECOCENSUS_DEBUG) log(String((err as Error).stack))
  process.exitCode = exitCode(err)
})
