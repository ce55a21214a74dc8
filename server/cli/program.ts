import fs from 'node:fs'
import path from 'node:path'
import os from 'node:os'
import { Command, Option } from 'commander'
import type { Db } from '../db/db.ts'
import { openDb } from '../db/open.ts'
import { recoverInterruptedRuns } from '../runs/recover.ts'
import { loadSettings, type Settings } from '../settings.ts'
import { createRuntime, type Runtime } from '../runtime.ts'
import type { Distributor } from '../distribute/distribute.ts'
import { BadInput, oneLine } from '../errors.ts'
import { listAudit, recordAudit } from '../audit/audit.ts'
import { setLayerLabel } from '../catalog/layer-labels.ts'
import { layerHistory, purgeLayer } from '../catalog/history.ts'
import { parseScopes } from '../auth/scope.ts'
import { ingestLayer } from '../ingest/ingest-layer.ts'
import { LAYER_KINDS } from '../ingest/names.ts'
import { importUnits } from '../units/import-units.ts'
import { buildGrid } from '../units/build-grid.ts'
import { FILE_FORMATS, FORMATS, render, type Format } from '../results/export.ts'
import { trend } from '../stats/trend.ts'
import { evaluateAlerts } from '../alerts/alerts.ts'
import { ALERT_TABLES, alertsExport } from '../results/alert-tables.ts'
import { TREND_TABLES, trendExport } from '../results/trend-tables.ts'
import { CHANGE_TABLES, ZONAL_TABLES } from '../results/tables.ts'
import { deriveRaster, ingestRaster, RASTER_KINDS } from '../raster/ingest-raster.ts'
import { listRasters } from '../raster/raster-store.ts'
import type { StatsKind as RunKind } from '../results/kinds.ts'
import { runToEnd } from '../runs/execute.ts'
import { exportableOf, planRun, type RunRequest } from '../results/kinds.ts'
import { getRun, listRuns, requestCancel } from '../runs/run-store.ts'
import { listLayers, listUnitSets } from '../catalog/list.ts'
import { loadSampleIfEmpty } from '../sample/load.ts'
import { checkDefinitions, computeFactors, factorExport } from '../factors/factors.ts'
import { allocationExport, financeWorkbook, readConfigFile, runAllocation } from '../factors/allocation.ts'
import { checkMapping, computeEsv, DEFAULT_COEFFICIENTS, esvExport, loadCoefficients } from '../factors/esv.ts'
import { unitSetId } from '../units/unit-set.ts'
import { addKey, listKeys, openServer, revokeKey, ROLES } from '../auth/keys.ts'
import { z } from 'zod'
import * as f from '../validate/fields.ts'
import { parseInput, parseSegment } from '../validate/fields.ts'
import { RUN_KIND_DOCS, RUN_KINDS, RUN_SHAPES } from '../results/kinds.ts'
import { fieldsOf } from '../validate/json-schema.ts'
import { args, options } from './options.ts'
import { planGep, readGep } from '../gep/gep.ts'
import { readConfig as readGepConfig } from '../gep/config.ts'
import { gepExport } from '../results/gep-tables.ts'
import { planCompensation, readCompensation } from '../ledger/compensate.ts'
import { readStandards } from '../ledger/config.ts'
import { importIndicators, listIndicatorSets } from '../indicators/indicators.ts'
import { importSections, listSections } from '../watershed/sections.ts'
import { importSeries, listSeries } from '../watershed/series.ts'
import { planSettlement, readAgreement, readSettlement, settlementIndicators } from '../watershed/settle.ts'
import { SETTLEMENT_TABLES, settlementExport } from '../results/settlement-tables.ts'
import { compensationExport, LEDGER_TABLES } from '../results/ledger-tables.ts'
import { ROLLUP_LEVELS, type RollupLevel } from '../results/rollup.ts'
import { GEP_TABLES } from '../http/route-schemas.ts'
import { prepareLayer } from '../stats/cells/read/contacts.ts'

/** Each command's option schema by command path ('stats coverage'), for test/validation.test.ts. */
export const OPTION_SCHEMAS = new Map<string, z.ZodType>()

export function commandPath(c: Command): string {
  const names: string[] = []
  for (let x: Command | null = c; x?.parent; x = x.parent) names.unshift(x.name())
  return names.join(' ')
}

/** A commander Command whose `checked(schema, fn)` sets the action with the options checked
 *  by `schema` first, before any database is opened: a wrong option is exit 2 with a message
 *  naming it. Subcommands are of this class too. */
class Cmd extends Command {
  override createCommand(name?: string): Cmd {
    return new Cmd(name)
  }
  checked<S extends z.ZodType>(schema: S, fn: (o: z.output<S>, cmd: Command, positional: string[]) => Promise<void>): this {
    OPTION_SCHEMAS.set(commandPath(this), schema)
    return this.action(async (...a: unknown[]) => {
      const cmd = a.at(-1) as Command
      const o = parseInput(schema, a.at(-2), 'option')
      // a workbook is binary: never onto a terminal
      const given = o as { format?: unknown; out?: unknown }
      if (FILE_FORMATS.has(String(given.format)) && !given.out && process.stdout.isTTY) throw new BadInput(`--format ${given.format} writes a binary file: pass --out FILE (or redirect stdout)`)
      await fn(o, cmd, a.slice(0, -2) as string[])
    })
  }
}

const log = (m: string) => process.stderr.write(m + '\n')

/** Progress on stderr, at most every 2 s, and always the last step. */
function progress(what: string) {
  let last = 0
  const start = Date.now()
  return (done: number, total: number | undefined) => {
    const now = Date.now()
    if (now - last < 2000 && done !== total) return
    last = now
    const s = (now - start) / 1000
    const rate = s > 0 ? done / s : 0
    const eta = total && rate > 0 && done < total ? `, about ${formatSeconds((total - done) / rate)} left` : ''
    log(`${what}: ${done}${total ? `/${total} (${Math.floor((100 * done) / total)}%)` : ''}${rate ? `, ${Math.round(rate)} features/s` : ''}${eta}`)
  }
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  return `${(s / 3600).toFixed(1)} h`
}

/** Who the audit trail names for the CLI: the operating-system user. */
export function cliActor(): string {
  let user: string | undefined
  try {
    user = os.userInfo().username
  } catch {
    user = process.env.USER ?? process.env.LOGNAME
  }
  return `cli:${user || 'unknown'}`
}

/** Commands that only read the catalogue: not written to the audit trail. */
const UNAUDITED = new Set(['layers', 'layers history', 'units list', 'indicators list', 'sections list', 'series list', 'raster list', 'runs list', 'runs show', 'keys list', 'audit', 'serve'])

/** Opens the database, runs fn, records the command in the audit trail (actor, options,
 *  outcome) unless it only reads, and closes the database. */
/**
 * The one way every command (serve included) gets its database and runtime: worker pools
 * sized from the settings (once), the database opened and migrated, and runs whose process
 * died (kill -9, power cut) marked failed so that they can be run again.
 */
async function openForCommand(cmd: Command, settings: Settings, statementTimeoutMs: number): Promise<{ db: Db; url: string | undefined; runtime: Runtime }> {
  const url = (cmd.optsWithGlobals().db as string | undefined) ?? settings.databaseUrl
  const db = await openDb({ url, dataDir: settings.dataDir, statementTimeoutMs, embeddedBuffersMb: settings.embeddedBuffersMb, connections: settings.dbConnections, log })
  try {
    const interrupted = await recoverInterruptedRuns(db)
    if (interrupted.length) log(`marked ${interrupted.length} interrupted run(s) failed: ${interrupted.join(', ')}`)
    const distributor = settings.distribute ? await openDistributor(db, settings) : undefined
    const runtime = createRuntime({ ...settings, cells: settings.tileFeatures ? { tileFeatures: settings.tileFeatures } : undefined, distributor })
    return { db, url, runtime }
  } catch (err) {
    await db.close()
    throw err
  }
}

/** The job queue of distributed runs (ECOCENSUS_DISTRIBUTE=queue; docs/scale.md): on a PostgreSQL server only. */
async function openDistributor(db: Db, s: Settings): Promise<Distributor> {
  if (!db.server) throw new BadInput('ECOCENSUS_DISTRIBUTE=queue needs a PostgreSQL server that every worker reaches: set DATABASE_URL (the embedded database lives in one process)')
  const { TaskQueue } = await import('../distribute/queue.ts')
  const queue = await TaskQueue.open({ url: db.server.url, expireSeconds: s.taskExpireSeconds, retries: s.taskRetries, maintenanceSeconds: s.queueMaintenanceSeconds })
  return { queue, pollMs: 250, unitsPerTask: s.taskUnits, heartbeatSeconds: s.taskHeartbeatSeconds, retries: s.taskRetries }
}

async function withDb<T>(cmd: Command, fn: (db: Db, s: Settings, actor: string) => Promise<T>): Promise<T> {
  const settings = loadSettings()
  const { db, url, runtime } = await openForCommand(cmd, settings, 0)
  const action = commandPath(cmd)
  const actor = cliActor()
  const audit = (outcome: string) => UNAUDITED.has(action) ? Promise.resolve() : recordAudit(db, { actor, action: `cli ${action}`, target: cmd.args.join(' ').slice(0, 300) || null, inputs: cmd.opts(), outcome })
  try {
    const out = await runtime.run(() => fn(db, { ...settings, databaseUrl: url }, actor))
    await audit('ok')
    return out
  } catch (err) {
    await audit(oneLine(err)).catch(() => {})
    throw err
  } finally {
    await runtime.close()
    await db.close()
  }
}

function output(text: string | Buffer, out?: string) {
  if (out) {
    fs.writeFileSync(out, text)
    log(`wrote ${out}`)
  } else process.stdout.write(text)
}

function summary(report: { loaded: number; read: number; repaired: unknown[]; droppedAfterRepair: unknown[]; emptyGeometry: unknown[]; fixes: { closedRings: number; droppedRings: number } }) {
  return `${report.loaded} loaded of ${report.read} read; ${report.repaired.length} repaired, ${report.droppedAfterRepair.length} dropped after repair, ${report.emptyGeometry.length} with empty geometry, ${report.fixes.closedRings} rings closed, ${report.fixes.droppedRings} degenerate rings dropped`
}

export const program = new Cmd('ecocensus')
  .description('ecological asset inventory: ingest layers and units, compute per-unit coverage')
  .addOption(new Option('--db <url>', 'postgres:// URL of a PostGIS database (default: DATABASE_URL, else the embedded database)'))
  // a usage mistake is one line on stderr and exit 2 (main.ts), as every other bad input;
  // commander's suggestion (did you mean …?) stays on that line. Inherited by every command.
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(`ecocensus: ${oneLine(str.replace(/^error: /, ''))} (--help for usage)\n`) })

program
  .command('ingest <files...>')
  .description('ingest a polygon layer version (.shp, .zip, .geojson, .gpkg); several files are parts of one version, loaded together or not at all')
  .requiredOption('--layer <name>', 'layer name')
  .addOption(new Option('--kind <kind>', 'layer kind').choices([...LAYER_KINDS]).makeOptionMandatory())
  .requiredOption('--vintage <v>', 'year or date of the survey')
  .option('--crs <code>', 'CRS of the file when it has no usable .prj, e.g. EPSG:4527')
  .option('--encoding <enc>', 'text encoding of the .dbf (e.g. GBK) when there is no .cpg')
  .option('--category-field <field>', 'attribute holding the category (protected-area type, land-use code …)')
  .option('--table <name>', 'GeoPackage table, when it holds several')
  .option('--replace', 'add a new version of an existing layer version (same name and vintage); the old one is kept in its history')
  .addOption(new Option('--invalid <policy>', 'invalid polygons: repair with ST_MakeValid, or fail').choices(['repair', 'fail']).default('repair'))
  .option('--allow-empty', 'store a version with no polygon area (otherwise refused)')
  .checked(options.ingest, async (o, cmd, [files]) =>
    withDb(cmd, async (db, s, actor) => {
      const file = files as unknown as string[]
      const r = await ingestLayer(db, { file: file.length === 1 ? file[0]! : file, layer: o.layer, kind: o.kind, vintage: o.vintage, crs: o.crs, encoding: o.encoding, categoryField: o.categoryField, table: o.table, replace: !!o.replace, invalid: o.invalid, allowEmpty: !!o.allowEmpty, actor, prepare: prepareLayer, maxBytes: s.maxFileBytes, maxFeatureVertices: s.maxFeatureVertices, progress: progress(`ingest ${o.layer}`) })
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
  .checked(options.unitsImport, async (o, cmd, [file]) =>
    withDb(cmd, async (db, s, actor) => {
      const r = await importUnits(db, { file, actor, set: o.set, codeField: o.codeField, nameField: o.nameField, parentField: o.parentField, crs: o.crs, encoding: o.encoding, table: o.table, replace: !!o.replace, maxBytes: s.maxFileBytes, maxFeatureVertices: s.maxFeatureVertices, progress: progress(`units ${o.set}`) })
      log(`unit set ${r.set} from ${r.file} [${r.crs}], code field ${r.codeField}: ${summary(r)}`)
    }),
  )
const sections = program.command('sections').description('monitoring sections (断面): points between an upstream and a downstream unit, with target classes (docs/watershed.md)')
sections
  .command('import')
  .description('import sections from GeoJSON points or a .csv/.xlsx with lon, lat (CGCS2000): code, name, river, upstream, downstream, target_class, water_body')
  .argument('<file>', '.geojson, .csv or .xlsx')
  .requiredOption('--name <name>', 'section set name')
  .requiredOption('--vintage <v>', 'year or date of the set')
  .option('--units <set>', 'take upstream/downstream from the boundary of this unit set where the attributes do not give them')
  .option('--tolerance <metres>', 'how far from a unit boundary a section may lie (default 50)')
  .option('--crs <crs>', 'CRS of the GeoJSON coordinates when the file does not say (EPSG:N)')
  .option('--replace', 'add a new version of NAME@VINTAGE and retire the current one')
  .checked(options.sectionsImport, async (o, cmd, [file]) =>
    withDb(cmd, async (db, s, actor) => {
      const r = await importSections(db, { file, name: o.name, vintage: o.vintage, units: o.units, toleranceM: o.tolerance, crs: o.crs, replace: !!o.replace, actor, maxBytes: s.maxFileBytes })
      log(`sections ${r.name}@${r.vintage} from ${r.source_file} [${r.source_crs}]: ${r.section_count} (id ${r.id}${r.replaced ? `, replaces ${r.replaced}` : ''})`)
      for (const x of r.sections) log(`  ${x.code} ${x.name ?? ''}: ${x.upstream} → ${x.downstream}, target ${x.target_class} (${x.derived})`)
    }),
  )
sections.command('list').description('list section sets').checked(options.none, async (_o, cmd) =>
  withDb(cmd, async (db) => {
    const sets = await listSections(db)
    if (!sets.length) log('no section sets; import one with `ecocensus sections import FILE --name NAME --vintage V`')
    for (const x of sets) console.log([x.name, x.vintage, `${x.section_count} sections`, x.source_crs, x.source_checksum].join('\t'))
  }),
)
const series = program.command('series').description('water-quality series at monitoring sections (docs/watershed.md)')
series
  .command('import')
  .description('import a long table section_code, datetime, indicator, value, unit[, flow_m3s] (CSV or XLSX); every bad line is named')
  .argument('<file>', '.csv or .xlsx')
  .requiredOption('--sections <set>', 'section set NAME or NAME@VINTAGE')
  .option('--name <name>', 'series name (default: the section set\'s)')
  .requiredOption('--vintage <v>', 'a year (every datetime must fall in it) or a date')
  .option('--replace', 'add a new version of NAME@VINTAGE and retire the current one')
  .checked(options.seriesImport, async (o, cmd, [file]) =>
    withDb(cmd, async (db, s, actor) => {
      const r = await importSeries(db, { file, sections: o.sections, name: o.name, vintage: o.vintage, replace: !!o.replace, actor, maxBytes: s.maxFileBytes })
      log(`series ${r.name}@${r.vintage} from ${r.source_file}: ${r.row_count} values of ${r.indicators.join(', ')} at sections of ${r.sections.name}@${r.sections.vintage}, ${r.first_at} … ${r.last_at} (id ${r.id}${r.replaced ? `, replaces ${r.replaced}` : ''})`)
    }),
  )
series.command('list').description('list series').checked(options.none, async (_o, cmd) =>
  withDb(cmd, async (db) => {
    const sets = await listSeries(db)
    if (!sets.length) log('no series; import one with `ecocensus series import FILE --sections NAME --vintage V`')
    for (const x of sets) console.log([x.name, x.vintage, `${x.row_count} values`, `${x.first_at} … ${x.last_at}`, x.source_checksum].join('\t'))
  }),
)
program
  .command('basin')
  .description('cross-boundary watershed compensation (流域横向生态保护补偿, docs/watershed.md)')
  .command('settle')
  .description('settle an agreement for a period: GB 3838 evaluation per section, then money between upstream and downstream units')
  .requiredOption('--agreement <file>', 'agreement, YAML or JSON: sections, series, agreements (index | class | load | flow)')
  .option('--period <year>', "the year to settle (default: the agreement's period)")
  .addOption(new Option('--format <fmt>', 'csv (one table), json, xlsx').choices(['csv', 'json', 'xlsx']).default('csv'))
  .addOption(new Option('--table <name>', 'table for CSV').choices([...SETTLEMENT_TABLES]))
  .option('--out <file>', 'write to a file instead of stdout')
  .option('--fresh', 'compute again even if an identical run is stored')
  .option('--indicators <name>', 'also store per-unit indicators NAME@PERIOD (basin_net_yuan, basin_sections, basin_sections_met) for --units')
  .option('--units <set>', 'the unit set of --indicators')
  .option('--replace', 'with --indicators: replace an existing NAME@PERIOD')
  .checked(options.settle, async (o, cmd) =>
    withDb(cmd, async (db, _s, actor) => {
      needOut(o)
      const run = await runToEnd(db, await planSettlement(db, { agreement: readAgreement(o.agreement), period: o.period }), { actor, reuse: !o.fresh, onProgress: progressLog('settle') })
      const r = await readSettlement(db, run)
      for (const e of r.evaluation) log(`section ${e.section_code}: class ${e.class} (target ${e.target_class})${e.compliant ? '' : `, not met: ${e.deciding}`}`)
      for (const l of r.ledger.filter((x) => x.role === 'upstream')) log(`agreement ${l.agreement} (${l.template}): ${l.amount_yuan >= 0 ? `${l.counterpart} pays ${l.unit_code}` : `${l.unit_code} pays ${l.counterpart}`} ${Math.abs(l.amount_yuan).toFixed(2)} yuan`)
      log(`settlement ${r.period} (run ${run.id}${run.reused ? ', reused' : ''})`)
      if (o.indicators) {
        if (!o.units) throw new BadInput('--indicators needs --units SET: the unit set whose codes the indicators use')
        const x = await settlementIndicators(db, r, { units: o.units, name: o.indicators, replace: !!o.replace, actor })
        log(`indicators ${x.name}@${x.vintage}: ${x.row_count} values for ${x.unit_set}${x.outside.length ? ` (left out, not in ${x.unit_set}: ${x.outside.join(', ')})` : ''}`)
      }
      output((await render(db, o.format, settlementExport(r), o.table)).body, o.out)
    }),
  )
const indicators = program.command('indicators').description('per-unit indicators (population, EQI, score, fiscal gap …) for factors and allocations')
indicators
  .command('import')
  .description('import a long table unit_code, indicator, value, unit (CSV or XLSX) as a version; every bad line is named')
  .argument('<file>', '.csv or .xlsx, header row unit_code,indicator,value,unit')
  .requiredOption('--name <name>', 'indicator set name (e.g. stats, eqi)')
  .requiredOption('--year <year>', 'year of the values')
  .requiredOption('--units <set>', 'unit set whose codes the table uses')
  .option('--replace', 'add a new version of NAME@YEAR and retire the current one')
  .checked(options.indicatorsImport, async (o, cmd, [file]) =>
    withDb(cmd, async (db, s, actor) => {
      const r = await importIndicators(db, { file, name: o.name, year: o.year, units: o.units, replace: !!o.replace, actor, maxBytes: s.maxFileBytes })
      log(`indicators ${r.name}@${r.vintage} from ${r.source_file}: ${r.row_count} values of ${Object.keys(r.indicators).join(', ')} for unit set ${r.unit_set} (id ${r.id}${r.replaced ? `, replaces ${r.replaced}` : ''})`)
    }),
  )
indicators.command('list').description('list indicator sets').checked(options.none, async (_o, cmd) =>
  withDb(cmd, async (db) => {
    const sets = await listIndicatorSets(db)
    if (!sets.length) log('no indicator sets; import one with `ecocensus indicators import FILE --name NAME --year Y --units SET`')
    for (const x of sets) console.log([x.name, x.vintage, x.unit_set, `${x.row_count} values`, Object.entries(x.indicators).map(([k, u]) => (u ? `${k} (${u})` : k)).join(', '), x.source_checksum].join('\t'))
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
  .checked(options.grid, async (o, cmd) =>
    withDb(cmd, async (db, _s, actor) => {
      const r = await buildGrid(db, { actor, set: o.set, sizeM: o.size, within: o.within, bbox: o.bbox, crs: o.crs, replace: !!o.replace, progress: progress(`grid ${o.set}`) })
      log(`grid ${r.set}: ${r.loaded} cells of ${r.sizeM} m in ${r.crs}${r.within ? ` clipped to ${r.within}` : ''} (${r.cellsGenerated} generated)`)
    }),
  )
units.command('list').description('list unit sets').checked(options.none, async (_o, cmd) =>
  withDb(cmd, async (db) => {
    const sets = await listUnitSets(db)
    if (!sets.length) log('no unit sets yet: import one with `ecocensus units import FILE --set NAME`, or make a grid with `ecocensus units grid --set NAME --size METRES --within SET`')
    for (const s of sets) process.stdout.write(`${s.name}\t${s.kind}\t${s.unit_count} units\t${((s.area_m2 as number) / 1e6).toFixed(3)} km²\n`)
  }),
)

const layers = program.command('layers').description('layer versions: list the current ones; history, purge')
layers.checked(options.none, async (_o, cmd) =>
  withDb(cmd, async (db) => {
    const list = await listLayers(db)
    if (!list.length) log('no layers yet: add one with `ecocensus ingest FILE --layer NAME --kind KIND --vintage V`')
    for (const l of list) process.stdout.write(`${l.name}\t${l.vintage}\t${l.kind}\t${l.feature_count} features\t${l.source_crs}\t${l.source_file}\n`)
  }),
)
layers
  .command('history <name>')
  .description('every version of a layer ever imported: id, vintage, status, features, checksum, created (by), retired (by), runs that read it')
  .checked(options.none, async (_o, cmd, [given]) => {
    const name = parseSegment(f.name, given!, 'layer')
    await withDb(cmd, async (db) => {
      for (const v of await layerHistory(db, name)) {
        process.stdout.write(`${v.id}\t${v.vintage}\t${v.status}\t${v.feature_count} features\t${v.source_checksum}\tcreated ${v.created_at} by ${v.created_by ?? 'unknown'}\t${v.retired_at ? `retired ${v.retired_at} by ${v.retired_by ?? 'unknown'}` : '-'}\t${v.runs} run(s)\n`)
      }
    })
  })
layers
  .command('label <name>')
  .description('display names of a layer (every version), used in tables (--labels zh), the viewer and reports; audited')
  .option('--zh <name>', 'Chinese name, e.g. 生态保护红线')
  .option('--en <name>', 'English name, e.g. "ecological red line"')
  .checked(options.layersLabel, async (o, cmd, [given]) => {
    const name = parseSegment(f.name, given!, 'layer')
    await withDb(cmd, async (db, _s, actor) => {
      const r = await setLayerLabel(db, name, { zh: o.zh, en: o.en }, actor)
      log(`layer '${r.name}': ${r.name_zh ?? '—'} / ${r.name_en ?? '—'}`)
    })
  })
layers
  .command('purge <name>')
  .description('delete retired versions of a layer (never the current one), with the runs that read them; audited')
  .option('--vintage <v>', 'only retired versions of this vintage')
  .option('--id <n>', 'only this retired version')
  .checked(options.layersPurge, async (o, cmd, [given]) => {
    const name = parseSegment(f.name, given!, 'layer')
    await withDb(cmd, async (db) => {
      const r = await purgeLayer(db, name, { vintage: o.vintage, id: o.id })
      if (!r.purged.length) log(`layer '${name}' has no retired version${o.vintage ? ` of vintage ${o.vintage}` : ''} to purge`)
      for (const v of r.purged) log(`purged ${v.name}@${v.vintage} version ${v.id} (${v.features} features)`)
      if (r.runsDeleted.length) log(`deleted run(s) that read them: ${r.runsDeleted.join(', ')}`)
    })
  })

program
  .command('audit')
  .description('the audit trail: who wrote, computed or exported what, when, and how it ended (newest first)')
  .option('--since <date>', 'from this date or date-time on (2026-12-01, 2026-12-01T08:00:00Z)')
  .option('--actor <actor>', 'only this actor (key:NAME, cli:USER, anonymous)')
  .option('--action <text>', 'only actions containing this text (ingest, POST /api/layers …)')
  .option('--limit <n>', 'at most this many rows (default 1000)')
  .addOption(new Option('--format <fmt>', 'tsv or json').choices(['tsv', 'json']).default('tsv'))
  .checked(options.audit, async (o, cmd) =>
    withDb(cmd, async (db) => {
      const rows = await listAudit(db, { since: o.since, actor: o.actor, action: o.action, limit: o.limit })
      if (o.format === 'json') return output(JSON.stringify(rows, null, 2) + '\n')
      if (!rows.length) log('no audit entries match')
      for (const r of rows) process.stdout.write(`${r.id}\t${r.at}\t${r.actor}\t${r.action}\t${r.target ?? ''}\t${r.outcome}\t${JSON.stringify(r.inputs)}\n`)
    }),
  )

const stats = program.command('stats').description('statistics (each computation is a run: see `runs`)')
/** the options of `stats KIND`: the run's parameters, output, and the tables it can write */
type StatsOptions = Record<string, unknown> & { format: Format; table?: string; out?: string; fresh?: boolean; categories?: boolean }
const statsOptions = (kind: RunKind, table?: z.ZodType<string>) =>
  z.strictObject({ ...RUN_SHAPES[kind], ...options.stats, ...(table ? { table: table.optional() } : {}) }) as unknown as z.ZodType<StatsOptions>
const rollupOption = () => new Option('--rollup <level>', 'sum the units to their parents: parent (parent code), county, city or province (GB/T 2260 code prefixes)').choices([...ROLLUP_LEVELS])
const labelsOption = () => new Option('--labels <set>', 'zh: Chinese headers, 公顷 and 亩 columns to 2 decimals beside each m² column, layer display names (CSV, XLSX)').choices(['zh'])
const formatOption = () => new Option('--format <fmt>', 'csv (one table), json, geojson (units with statistics), xlsx (all tables, ha/km²/亩 columns), gpkg (GeoPackage of the units with statistics), shp (zipped shapefile of them, GBK)').choices([...FORMATS]).default('csv')

/** Progress on stderr, at most once a second. */
function progressLog(kind: string) {
  let shown = -1
  let lastAt = 0
  return (p: number, stage: string) => {
    const pct = Math.floor(p * 100)
    if (pct === shown || (Date.now() - lastAt < 1000 && pct < 100)) return
    shown = pct
    lastAt = Date.now()
    log(`${kind}: ${String(pct).padStart(3)}%  ${stage}`)
  }
}

/** Runs a statistics request with progress on stderr, then writes the result. */
async function computeAndWrite(db: Db, s: Settings, actor: string, kind: RunKind, o: Record<string, unknown> & { format: Format; table?: string; out?: string; fresh?: boolean; rollup?: RollupLevel; labels?: 'zh' }) {
  const request = { kind } as Record<string, unknown>
  for (const key of Object.keys(RUN_SHAPES[kind])) if (o[key] !== undefined) request[key] = o[key]
  if (FILE_FORMATS.has(o.format) && !o.out && process.stdout.isTTY) throw new BadInput(`--format ${o.format} writes a binary file; pass --out FILE`)
  const plan = await planRun(db, request as unknown as RunRequest, s.rasterDir)
  const run = await runToEnd(db, plan, { reuse: !o.fresh, actor, onProgress: progressLog(kind) })
  log(run.reused ? `reused run ${run.id} (identical parameters and inputs; --fresh to compute again)` : `run ${run.id}: ${run.row_count} sums in ${((run.elapsed_ms ?? 0) / 1000).toFixed(1)} s`)
  const out = await render(db, o.format, await exportableOf(db, run), o.table, o.rollup, { labels: o.labels })
  output(out.body, o.out)
}

// The four statistics commands, generated from the run contract (results/kinds.ts): one
// option per run parameter, with its description; then output options.
const STATS_TABLES: Record<RunKind, readonly [string, ...string[]] | undefined> = { coverage: undefined, change: CHANGE_TABLES, zonal: ZONAL_TABLES, zonal_change: ZONAL_TABLES }
for (const kind of RUN_KINDS) {
  const doc = RUN_KIND_DOCS[kind]
  const cmd = stats.command(doc.route).description(doc.summary)
  const negated: string[] = []
  for (const field of fieldsOf(RUN_SHAPES[kind])) {
    const flag = `--${field.name.replace(/_/g, '-')}`
    const form = doc.cli[field.name]
    const text = field.description ?? ''
    if (form === 'no') {
      negated.push(field.name)
      cmd.option(`--no-${field.name}`, text.replace(/^false: /, ''))
    } else if (field.schema.type === 'boolean') cmd.option(flag, text)
    else if (field.required) cmd.requiredOption(`${flag} ${form ?? '<value>'}`, text)
    else cmd.option(`${flag} ${form ?? '<value>'}`, text)
  }
  const tables = STATS_TABLES[kind]
  if (tables) cmd.addOption(new Option('--table <name>', 'table for CSV').choices([...tables]))
  cmd.addOption(formatOption())
    .addOption(rollupOption())
    .addOption(labelsOption())
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--fresh', 'compute again even if an identical run is stored')
    .checked(statsOptions(kind, tables && f.oneOf(tables)), async (o, c) =>
      // --no-X gives X false; otherwise the run's default (categories: on when both vintages have them)
      withDb(c, (db, s, actor) => computeAndWrite(db, s, actor, kind, { ...o, ...Object.fromEntries(negated.map((n) => [n, o[n] === false ? false : undefined])) })),
    )
}

stats
  .command('trend')
  .description('a layer over N vintages per unit: area at each vintage, change over each interval (net, gained, lost), rates per year; from one coverage run and a change run per interval')
  .requiredOption('--units <set>', 'unit set')
  .requiredOption('--layer <name>', 'layer name')
  .option('--vintages <list>', 'vintages to compare, comma-separated (default: every current vintage of the layer)')
  .option('--categories', 'also a row per category')
  .addOption(new Option('--table <name>', 'table for CSV').choices([...TREND_TABLES]))
  .addOption(formatOption())
  .addOption(rollupOption())
  .addOption(labelsOption())
  .option('--out <file>', 'write to a file instead of stdout')
  .option('--fresh', 'compute the underlying runs again')
  .checked(options.trend, async (o, cmd) =>
    withDb(cmd, async (db, _s, actor) => {
      const t = await trend(db, o.units, { layer: o.layer, vintages: o.vintages, categories: !!o.categories }, { actor, reuse: !o.fresh, onProgress: progressLog('trend') })
      log(`trend of ${o.layer} over ${t.vintages.map((v) => v.vintage).join(', ')} from runs ${t.runs.map((r) => `${r.id} (${r.kind})`).join(', ')}`)
      output((await render(db, o.format, trendExport(t, await unitSetId(db, o.units)), o.table, o.rollup, { labels: o.labels })).body, o.out)
    }),
  )

// Transfer-payment work: area factors, factor-method allocation, ecosystem service value.
const needOut = (o: { format: string; out?: string }) => {
  if (FILE_FORMATS.has(o.format) && !o.out && process.stdout.isTTY) throw new BadInput(`--format ${o.format} writes a binary file; pass --out FILE`)
}
program
  .command('factors')
  .description('area factors per unit (red line, protected areas by type, forest, wetland, farmland, ecological space, losses since the previous vintage) with provenance')
  .requiredOption('--units <set>', 'unit set')
  .option('--definitions <file>', 'factor definitions, JSON/YAML list of {id, label, layer, categories?, measure} (default: by layer kind)')
  .addOption(new Option('--format <fmt>', 'csv (long table), json, geojson, xlsx (finance workbook)').choices([...FORMATS]).default('csv'))
  .addOption(new Option('--table <name>', 'table for CSV').choices(['factors', 'units', 'provenance']))
  .addOption(rollupOption())
  .option('--out <file>', 'write to a file instead of stdout')
  .checked(options.factors, async (o, cmd) =>
    withDb(cmd, async (db, _s, actor) => {
      needOut(o)
      const defs = o.definitions ? checkDefinitions(await withGepConfigs(readConfigFile(o.definitions), o.definitions)) : undefined
      const f = await computeFactors(db, o.units, defs, { actor, rasterDir: _s.rasterDir })
      log(`${f.definitions.length} factors × ${f.units.length} units from runs ${f.provenance.runs.map((r) => r.id).join(', ')}`)
      if (o.format === 'xlsx' && !o.rollup) return output(await financeWorkbook(f), o.out)
      output((await render(db, o.format, factorExport(f, await unitSetId(db, o.units)), o.table, o.rollup)).body, o.out)
    }),
  )
/** Factor definitions whose gep.config or basin.agreement names a file: the file read (relative to `from`). */
async function withGepConfigs(defs: unknown, from: string): Promise<unknown> {
  if (!Array.isArray(defs)) return defs
  return Promise.all(defs.map(async (d) => {
    const g = (d as { gep?: { config?: unknown } } | null)?.gep
    const b = (d as { basin?: { agreement?: unknown } } | null)?.basin
    // a watershed agreement named as a file, read the same way
    if (typeof b?.agreement === 'string') return { ...d, basin: { ...b, agreement: readAgreement(path.resolve(path.dirname(from), b.agreement)) } }
    if (typeof g?.config !== 'string') return d
    return { ...d, gep: { ...g, config: await readGepConfig(path.resolve(path.dirname(from), g.config)) } }
  }))
}

program
  .command('allocate')
  .description('factor-method allocation (因素法) of a budget across units, with coefficients, deductions, floors and caps, explained per unit')
  .requiredOption('--config <file>', 'allocation config, JSON or YAML (see docs/factors.md)')
  .option('--units <set>', "unit set to allocate over instead of the config's `units`")
  .addOption(new Option('--format <fmt>', 'csv (one table), json, geojson, xlsx (finance workbook)').choices([...FORMATS]).default('csv'))
  .addOption(new Option('--table <name>', 'table for CSV').choices(['allocation', 'explanation', 'parameters', 'units', 'factors', 'provenance']))
  .option('--out <file>', 'write to a file instead of stdout')
  .checked(options.allocate, async (o, cmd) =>
    withDb(cmd, async (db, _s, actor) => {
      needOut(o)
      const doc = readConfigFile(o.config) as Record<string, unknown>
      if (o.units && doc && typeof doc === 'object' && !Array.isArray(doc)) doc.units = o.units
      if (doc && typeof doc === 'object' && Array.isArray(doc.definitions)) doc.definitions = await withGepConfigs(doc.definitions, o.config)
      const a = await runAllocation(db, doc, { actor, rasterDir: _s.rasterDir })
      for (const w of a.allocation.warnings) log(`warning: ${w}`)
      log(`allocated ${a.config.budget.toFixed(2)} yuan over ${a.allocation.units.length} units (sum ${a.allocation.units.reduce((s, u) => s + Math.round(u.amount * 100), 0) / 100})`)
      if (o.format === 'xlsx') return output(await financeWorkbook(a.factors, a), o.out)
      output((await render(db, o.format, allocationExport(a, await unitSetId(db, a.config.units)), o.table)).body, o.out)
    }),
  )
program
  .command('esv')
  .description('ecosystem service value per unit and service by the equivalent-factor method (Xie et al. 2015 table by default)')
  .requiredOption('--units <set>', 'unit set')
  .option('--raster <name>', 'categorical land-cover raster, NAME or NAME@VINTAGE')
  .option('--layer <name>', 'or a layer ingested with --category-field (its categories are the classes)')
  .requiredOption('--mapping <file>', 'class → ecosystem type mapping, JSON {classes: {CLASS: TYPE | {TYPE: fraction} | null}, equivalent_value?}')
  .option('--coefficients <file>', `equivalent-factor table CSV (default ${DEFAULT_COEFFICIENTS.replace(process.cwd() + '/', '')})`)
  .option('--equivalent-value <yuan>', 'yuan per hectare of one standard equivalent (overrides the mapping file)')
  .addOption(new Option('--format <fmt>', 'csv (one table), json, geojson, xlsx').choices([...FORMATS]).default('csv'))
  .addOption(new Option('--table <name>', 'table for CSV').choices(['esv_units', 'esv', 'esv_by_type', 'esv_totals']))
  .option('--out <file>', 'write to a file instead of stdout')
  .checked(options.esv, async (o, cmd) =>
    withDb(cmd, async (db, s, actor) => {
      needOut(o)
      const coefficients = loadCoefficients(o.coefficients)
      const e = await computeEsv(db, o.units, { raster: o.raster, layer: o.layer, mapping: checkMapping(readConfigFile(o.mapping), coefficients), coefficients, equivalentValue: o.equivalentValue, rasterDir: s.rasterDir, actor })
      log(`ESV of ${e.unitRows.length} units: ${e.totals.at(-1)!.value_yuan.toFixed(2)} yuan/yr in total`)
      output((await render(db, o.format, esvExport(e, await unitSetId(db, o.units)), o.table)).body, o.out)
    }),
  )
program
  .command('gep')
  .description('gross ecosystem product (GEP) per unit: physical quantity, price and value per item and ecosystem type (docs/gep.md)')
  .requiredOption('--units <set>', 'unit set (a footprint polygon imported as a set gives the GEP it occupies)')
  .requiredOption('--config <file>', 'GEP config, YAML or JSON: grid, ecosystem, inputs, types, items, prices, tables (docs/gep.md)')
  .option('--year <year>', "year to account (default: the config's year; fills {year} in raster names)")
  .option('--compare <year>', 'an earlier year: ΔGEP per unit (table change) with a decline flag')
  .addOption(new Option('--format <fmt>', 'csv (one table), json, geojson, xlsx (accounting workbook)').choices([...FORMATS]).default('csv'))
  .addOption(new Option('--table <name>', 'table for CSV').choices([...GEP_TABLES]))
  .addOption(rollupOption())
  .option('--out <file>', 'write to a file instead of stdout')
  .option('--fresh', 'compute again even if an identical run is stored')
  .checked(options.gep, async (o, cmd) =>
    withDb(cmd, async (db, s, actor) => {
      needOut(o)
      const config = await readGepConfig(o.config)
      const run = await runToEnd(db, await planGep(db, { units: o.units, config, year: o.year, compare: o.compare }, s.rasterDir), { actor, reuse: !o.fresh, onProgress: progressLog('gep') })
      const r = await readGep(db, run)
      const total = r.units.filter((u) => u.year === r.years.at(-1)).reduce((a, u) => a + u.gep_yuan, 0)
      log(`GEP ${r.years.at(-1)} of ${r.units.length / r.years.length} units: ${(total / 1e8).toFixed(4)} 亿元 (run ${run.id}${run.reused ? ', reused' : ''})`)
      const declined = r.change.filter((c) => c.category === '*' && c.declined)
      if (declined.length) log(`warning: GEP declined by more than ${(r.declineShare * 100).toFixed(1)} % in ${declined.map((d) => d.unit_code).join(', ')}`)
      output((await render(db, o.format, gepExport(r, await unitSetId(db, o.units)), o.table, o.rollup)).body, o.out)
    }),
  )
program
  .command('compensate')
  .description('compensation ledger per unit: per-hectare standards, each hectare paid once under a rule, per payee, with the double-counted area (docs/compensation.md)')
  .requiredOption('--units <set>', 'unit set')
  .requiredOption('--config <file>', 'standards, YAML or JSON: year, rule (highest_once|first_listed|sum), payee_field, programmes (docs/compensation.md)')
  .addOption(new Option('--format <fmt>', 'csv (one table), json, geojson, xlsx (the reviewer\'s workbook)').choices([...FORMATS]).default('csv'))
  .addOption(new Option('--table <name>', 'table for CSV').choices([...LEDGER_TABLES]))
  .addOption(rollupOption())
  .option('--out <file>', 'write to a file instead of stdout')
  .option('--fresh', 'compute again even if an identical run is stored')
  .checked(options.compensate, async (o, cmd) =>
    withDb(cmd, async (db, _s, actor) => {
      needOut(o)
      const run = await runToEnd(db, await planCompensation(db, { units: o.units, config: readStandards(o.config) }), { actor, reuse: !o.fresh, onProgress: progressLog('compensate') })
      const r = await readCompensation(db, run)
      const sum = (k: 'amount_yuan' | 'double_counted_m2' | 'double_counted_yuan') => r.units.reduce((a, u) => a + u[k], 0)
      log(`compensation of ${r.units.length} units under ${r.rule}: ${sum('amount_yuan').toFixed(2)} yuan; double-counted ${(sum('double_counted_m2') / (10_000 / 15)).toFixed(2)} 亩, ${sum('double_counted_yuan').toFixed(2)} yuan (run ${run.id}${run.reused ? ', reused' : ''})`)
      output((await render(db, o.format, compensationExport(r, await unitSetId(db, o.units)), o.table, o.rollup)).body, o.out)
    }),
  )

program
  .command('report')
  .description('a printable report of one unit (map, coverage, change and time series, area factors, GEP and compensation where computed, provenance and method) as PDF through headless Chromium, or HTML')
  .requiredOption('--units <set>', 'unit set')
  .requiredOption('--unit <code>', 'the unit\'s code')
  .option('--year <year>', 'layer versions of this year or before (default: all)')
  .addOption(new Option('--lang <lang>', 'language').choices(['zh', 'en']).default('zh'))
  .addOption(new Option('--format <format>', 'pdf (Chromium) or html').choices(['pdf', 'html']).default('pdf'))
  .requiredOption('--out <file>', 'the file to write')
  .checked(options.report, async (o, cmd) =>
    withDb(cmd, async (db, _s, actor) => {
      const { countyReport } = await import('../report/county-report.ts')
      const r = await countyReport(db, { units: o.units, unit: o.unit, year: o.year, lang: o.lang, format: o.format }, { actor, onProgress: progressLog('report') })
      log(`report of ${o.unit} (${r.name ?? ''}) from runs ${r.runs.join(', ')}`)
      output(r.body, o.out)
    }),
  )

program
  .command('alerts')
  .description('evaluate alert rules per unit (layer lost/gained/net between vintages, raster mean change), kept as a run; --patches writes the lost or gained ground as GeoJSON (docs/alerts.md)')
  .option('--units <set>', 'unit set (default: the rules file\'s units)')
  .requiredOption('--rules <file>', 'rules, YAML or JSON: units?, rules [{id, name?, layer | raster, measure, op, value, intervals?, vintages?}]')
  .addOption(new Option('--table <name>', 'table for CSV').choices([...ALERT_TABLES]))
  .addOption(formatOption())
  .option('--out <file>', 'write to a file instead of stdout')
  .option('--patches <file>', 'also write the patches of the alerts (GeoJSON)')
  .option('--fresh', 'compute again even if an identical run is stored')
  .checked(options.alerts, async (o, cmd) =>
    withDb(cmd, async (db, s, actor) => {
      const doc = readConfigFile(o.rules) as { units?: string }
      const units = o.units ?? doc?.units
      if (!units) throw new BadInput('--units: name the unit set (or give units: in the rules file)')
      const r = await evaluateAlerts(db, { units, rules: doc }, s.rasterDir, { actor, reuse: !o.fresh, onProgress: progressLog('alerts') })
      log(`${r.alerts.length} alert(s) from ${r.checked} checks of ${r.rules.length} rule(s) on ${units} (run ${r.run.id}${r.run.reused ? ', reused' : ''}; figures from runs ${[...new Set(r.sources.flatMap((x) => x.runs))].join(', ')})`)
      if (o.patches) {
        fs.writeFileSync(o.patches, JSON.stringify({ ...r.patches, run: r.run.id }) + '\n')
        log(`wrote ${r.patches.features.length} patch(es) to ${o.patches}`)
      }
      output((await render(db, o.format, alertsExport(r, await unitSetId(db, units)), o.table)).body, o.out)
    }),
  )

const keys = program.command('keys').description('API keys with roles: reader (reads when keyed), analyst (also starts runs), admin (also ingests and replaces)')
keys
  .command('add')
  .description('create a key; it is printed once (stdout) and stored only as a SHA-256 digest')
  .requiredOption('--name <name>', 'who or what the key is for')
  .addOption(new Option('--role <role>', 'role').choices([...ROLES]).makeOptionMandatory())
  .option('--scope <prefixes>', 'limit the key to regions: GB/T 2260 code prefixes, e.g. 341024 (a county) or 3410,3411')
  .checked(options.keysAdd, async (o, cmd) => {
    const scopes = o.scope === undefined ? undefined : parseScopes(o.scope)
    await withDb(cmd, async (db) => {
      const k = await addKey(db, o.name, o.role, scopes)
      log(`key ${k.name} (${k.role}${k.scopes ? `, regions ${k.scopes.join(', ')}` : ''}), id ${k.id}: store it now, it is not shown again`)
      process.stdout.write(k.key + '\n')
    })
  })
keys
  .command('open')
  .description('return a server whose keys are all revoked to open mode (anonymous computation, no writes over HTTP); audited')
  .checked(options.none, async (_o, cmd) =>
    withDb(cmd, async (db) => {
      await openServer(db)
      log('the server is open again: anonymous callers may compute; HTTP writes stay refused until a key exists')
    }),
  )
keys
  .command('list')
  .description('keys: id, name, role, prefix, created, revoked')
  .checked(options.none, async (_o, cmd) =>
    withDb(cmd, async (db) => {
      for (const k of await listKeys(db)) process.stdout.write(`${k.id}\t${k.name}\t${k.role}\t${k.scopes ? k.scopes.join(',') : '*'}\t${k.prefix}…\t${new Date(k.created_at).toISOString()}\t${k.revoked_at ? `revoked ${new Date(k.revoked_at).toISOString()}` : 'active'}\n`)
    }),
  )
keys
  .command('revoke <nameOrId>')
  .description('revoke a key (it stops working at once)')
  .checked(options.none, async (_o, cmd, [given]) => {
    const nameOrId = parseSegment(args.keyNameOrId, given!, 'key')
    await withDb(cmd, async (db) => {
      await revokeKey(db, nameOrId)
      log(`revoked ${nameOrId}`)
    })
  })

const raster = program.command('raster').description('monitoring rasters (GeoTIFF/COG): add, derive, list')
raster
  .command('add <file>')
  .description('ingest a GeoTIFF or COG (tiled or striped; none/LZW/DEFLATE/PackBits; 8/16/32-bit integer or float; any bands)')
  .requiredOption('--name <name>', 'raster name')
  .requiredOption('--vintage <v>', 'year or date of the imagery')
  .addOption(new Option('--kind <kind>', 'categorical (classes) or continuous (NDVI, FVC …)').choices([...RASTER_KINDS]).makeOptionMandatory())
  .option('--legend <file>', 'class legend: CSV (value,name,colour) or JSON [{value,name,colour}] (default: the .aux.xml attribute table, else the palette)')
  .option('--crs <code>', 'CRS when the GeoKeys name none (overrides them)')
  .option('--replace', 'overwrite an existing raster of the same name and vintage')
  .checked(options.rasterAdd, async (o, cmd, [file]) =>
    withDb(cmd, async (db, s, actor) => {
      const r = await ingestRaster(db, { file, actor, name: o.name, vintage: o.vintage, kind: o.kind, legend: o.legend, crs: o.crs, replace: !!o.replace, rasterDir: s.rasterDir, progress: progress(`raster ${o.name}`) })
      log(`raster ${r.name}@${r.vintage} (${r.kind}) from ${r.file}: ${r.width}×${r.height}, ${r.bands} band${r.bands > 1 ? 's' : ''} ${r.sampleType}, ${r.compression}, ${r.crs}, nodata ${r.nodata ?? 'none'}${r.classes !== undefined ? `, ${r.classes} classes` : ''}${r.legendFrom ? `, legend from ${r.legendFrom}` : ''}`)
      if (r.crsNote) log(`note: ${r.crsNote}`)
    }),
  )
raster
  .command('derive <op>')
  .description('ndvi: (NIR − Red)/(NIR + Red) from two bands; fvc: fractional vegetation cover from an NDVI raster (pixel dichotomy)')
  .requiredOption('--from <raster>', 'source raster, NAME or NAME@VINTAGE')
  .requiredOption('--name <name>', 'name of the derived raster')
  .option('--vintage <v>', 'vintage (default: the source\'s)')
  .option('--red <band>', 'ndvi: red band number')
  .option('--nir <band>', 'ndvi: near-infrared band number')
  .option('--soil <ndvi>', 'fvc: NDVI of bare soil (default 0.05)')
  .option('--veg <ndvi>', 'fvc: NDVI of full vegetation (default 0.86)')
  .option('--replace', 'overwrite an existing raster of the same name and vintage')
  .checked(options.rasterDerive, async (o, cmd, [given]) => {
    const op = parseSegment(args.deriveOp, given!, 'derive')
    await withDb(cmd, async (db, s, actor) => {
      const r = await deriveRaster(db, { ...o, op, replace: !!o.replace, rasterDir: s.rasterDir, actor })
      const st = r.band_stats[0]!
      log(`raster ${r.name}@${r.vintage} = ${r.source_file}: ${st.valid} valid pixels, min ${st.min?.toFixed(4)}, max ${st.max?.toFixed(4)}, mean ${st.mean?.toFixed(4)}`)
    })
  })
raster.command('list').description('list rasters').checked(options.none, async (_o, cmd) =>
  withDb(cmd, async (db) => {
    const list = await listRasters(db)
    if (!list.length) log('no rasters yet: add one with `ecocensus raster add FILE --name NAME --kind KIND --vintage V`')
    for (const r of list) process.stdout.write(`${r.name}\t${r.vintage}\t${r.kind}\t${r.width}×${r.height}×${r.bands}\t${r.sample_type}\t${r.crs}\t${r.derived ? r.source_file : r.source_file}\n`)
  }),
)

const runs = program.command('runs').description('statistics runs: list, show, result, cancel')
runs.command('list').description('recent runs').checked(options.none, async (_o, cmd) =>
  withDb(cmd, async (db) => {
    const list = await listRuns(db)
    if (!list.length) log('no runs yet: start one with `ecocensus stats coverage --units SET --layers NAME@VINTAGE`')
    for (const r of list) {
      process.stdout.write(`${r.id}\t${r.kind}\t${r.status}\t${Math.round(r.progress * 100)}%\t${r.created_at}\t${r.elapsed_ms === null ? '' : `${(r.elapsed_ms / 1000).toFixed(1)} s`}\t${JSON.stringify(r.params)}\n`)
    }
  }),
)
runs.command('show <id>').description('one run as JSON: parameters, input versions, progress, status').checked(options.none, async (_o, cmd, [id]) => {
  const runId = runIdArg(id!)
  await withDb(cmd, async (db) => output(JSON.stringify(await getRun(db, runId), null, 2) + '\n'))
})
runs
  .command('result <id>')
  .description('the result of a done run')
  .option('--table <name>', 'table for CSV')
  .addOption(formatOption())
  .addOption(rollupOption())
  .option('--out <file>', 'write to a file instead of stdout')
  .checked(options.runsResult, async (o, cmd, [id]) => {
    const runId = runIdArg(id!)
    await withDb(cmd, async (db) => {
      const out = await render(db, o.format, await exportableOf(db, await getRun(db, runId)), o.table, o.rollup)
      output(out.body, o.out)
    })
  })
runs.command('cancel <id>').description('ask a running run to stop (it stops at its next progress report)').checked(options.none, async (_o, cmd, [id]) => {
  const runId = runIdArg(id!)
  await withDb(cmd, async (db) => {
    const r = await requestCancel(db, runId)
    log(r.status === 'running' ? `run ${r.id}: cancel requested` : `run ${r.id} is ${r.status}; nothing to cancel`)
  })
})

const runIdArg = (id: string) => parseSegment(args.runId, id, 'run id')

program
  .command('sample')
  .description('load the bundled sample data (if not loaded yet)')
  .checked(options.none, async (_o, cmd) => withDb(cmd, async (db, s) => { if (!(await loadSampleIfEmpty(db, s.maxFileBytes, log, s.rasterDir))) log('sample data already loaded') }))

program
  .command('worker')
  .description('compute parts of distributed runs (ECOCENSUS_DISTRIBUTE=queue) until stopped (SIGTERM, SIGINT); PostgreSQL only, any host with DATABASE_URL (docs/scale.md)')
  .option('--concurrency <n>', 'tasks computed at once (default 1)')
  .option('--min-task-ms <ms>', 'make every task take at least this long (measuring the queue itself)')
  .checked(options.worker, async (o, cmd) => {
    const settings = loadSettings()
    const { db, runtime } = await openForCommand(cmd, settings, settings.statementTimeoutMs)
    try {
      if (!db.server) throw new BadInput('a worker takes tasks from a PostgreSQL server: set DATABASE_URL or --db (the embedded database lives in one process)')
      const { TaskQueue } = await import('../distribute/queue.ts')
      const { startWorker, WORKER_NAME } = await import('../worker/worker.ts')
      const own = runtime.distributor ? undefined : await TaskQueue.open({ url: db.server.url, expireSeconds: settings.taskExpireSeconds, retries: settings.taskRetries, maintenanceSeconds: settings.queueMaintenanceSeconds })
      const queue = own ?? runtime.distributor!.queue
      const stopped = new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'))
        process.once('SIGINT', () => resolve('SIGINT'))
      })
      const stop = await runtime.run(() => startWorker(db, queue, { concurrency: o.concurrency, minTaskMs: o.minTaskMs, rasterDir: settings.rasterDir, log }))
      log(`worker ${WORKER_NAME}: taking tasks (${o.concurrency} at a time)`)
      const signal = await stopped
      log(`worker ${WORKER_NAME}: ${signal}; finishing the tasks in hand`)
      await stop()
      await own?.close()
    } finally {
      await runtime.close()
      await db.close()
    }
  })

program
  .command('serve')
  .description('run the HTTP API and the viewer')
  .option('--port <port>', 'port (default ECOCENSUS_PORT or 3000)')
  .checked(options.serve, async (o, cmd) => {
    const settings = loadSettings()
    // a new embedded database is made and given the sample by a child process (`ecocensus
    // sample`): the WebAssembly memory the load grows leaves with it, and the service runs at
    // a restart's size (memory a PGlite has grown is not handed back while its process lives)
    const embedded = !((cmd.optsWithGlobals().db as string | undefined) ?? settings.databaseUrl)
    if (embedded && settings.loadSample && !settings.dataDir.startsWith('memory://') && !fs.existsSync(path.join(settings.dataDir, 'PG_VERSION'))) await sampleInChild()
    // the HTTP modules load while the database opens (only this command needs them)
    const http = import('../http/serve.ts')
    const { db, url, runtime } = await openForCommand(cmd, settings, settings.statementTimeoutMs)
    const { serve } = await http
    const s = { ...settings, databaseUrl: url, port: o.port ?? settings.port }
    // loaded before the first run, which can then give layers to them (PostgreSQL only)
    if (db.server) runtime.measure.start()
    await serve(db, s, log, runtime)
  })

/** `ecocensus sample` in a process of its own, this one's launcher and flags; fails loudly as it would. */
async function sampleInChild(): Promise<void> {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'sample'], { stdio: ['ignore', 'inherit', 'inherit'] })
  const code = await new Promise<number | null>((resolve, reject) => child.once('exit', resolve).once('error', reject))
  if (code !== 0) throw new Error(`loading the sample into the new embedded database failed (ecocensus sample exited ${code}); see above`)
}

const dbUrl = z.string().regex(/^postgres(ql)?:\/\/\S{1,2000}$/, { error: 'a postgres:// URL' })
/** --db is the one option above the commands */
program.hook('preAction', (root) => {
  const { db } = root.opts() as { db?: string }
  if (db !== undefined) parseSegment(dbUrl, db, '--db')
})
