// What each HTTP route accepts: query strings, JSON bodies and path segments, as zod
// schemas. Query and body objects are strict: an unknown parameter is a 400 that names it
// (a misspelt ?fomat= must not silently give the default). Shared fields in
// server/validate/fields.ts; run parameters in server/results/kinds.ts.
import { z } from 'zod'
import * as f from '../validate/fields.ts'
import { FORMATS } from '../results/export.ts'
import { LAYER_KINDS } from '../ingest/names.ts'
import { RASTER_KINDS } from '../raster/ingest-raster.ts'
import { TILE_QUERY } from '../tiles/tile-query.ts'
import { LEDGER_TABLES } from '../results/ledger-tables.ts'
import { ROLLUP_LEVELS } from '../results/rollup.ts'
import { SETTLEMENT_TABLES } from '../results/settlement-tables.ts'
import { TREND_TABLES } from '../results/trend-tables.ts'
import { ALERT_TABLES } from '../results/alert-tables.ts'

const format = f.oneOf(FORMATS).default('json')
const fresh = f.flag.optional()
const labels = f.oneOf(['zh']).optional().describe('zh: Chinese headers, 公顷 and 亩 columns to 2 decimals beside each m² column, layer display names (CSV and XLSX)')
const rollup = f.oneOf(ROLLUP_LEVELS).optional().describe('sum the units to their parents: parent (parent code), county, city or province (GB/T 2260 code prefixes); tables only, not geojson')
const table = <T extends string>(names: readonly [T, ...T[]], dflt: T) => f.oneOf(names).default(dflt)

export const FACTOR_TABLES = ['factors', 'units', 'provenance'] as const
export const ALLOCATION_TABLES = ['allocation', 'explanation', 'parameters', 'units', 'factors', 'provenance'] as const
export const ESV_TABLES = ['esv_units', 'esv', 'esv_by_type', 'esv_totals'] as const
export const GEP_TABLES = ['gep', 'units', 'extent', 'change', 'prices'] as const

/** OGC API - Features: JSON only (GeoJSON for features) */
const ogcFormat = f.oneOf(['json', 'geojson']).optional().describe('json (GeoJSON for features); the only encoding')
const OGC_CRS = ['http://www.opengis.net/def/crs/OGC/1.3/CRS84', 'http://www.opengis.net/def/crs/EPSG/0/4490'] as const
const ogcCrs = f.oneOf(OGC_CRS)
const ogcBbox = f.text(/^[^,]{1,32},[^,]{1,32},[^,]{1,32},[^,]{1,32}$/, 'four numbers separated by commas', 140)
  .transform((s) => s.split(',').map(Number) as [number, number, number, number])
  .refine((b) => b.every(Number.isFinite), { error: 'four numbers separated by commas' })

export const query = {
  none: z.strictObject({}),
  /** GET /api/runs/:id/result */
  result: z.strictObject({
    format: format.describe('json (default), csv (one table), geojson (units with statistics), xlsx (all tables; ha, km² and 亩 columns), gpkg (GeoPackage of the units with statistics), shp (zipped GBK shapefile of them)'),
    table: f.tableName.optional().describe('CSV table: change, transitions, transition_totals, account (change); zonal, histogram, transitions, difference (zonal)'),
    rollup, labels,
  }),
  /** GET /api/stats/*: the run's own parameters (results/kinds.ts) plus these */
  stats: {
    format: format.describe('json (default), csv (one table), geojson (units with statistics), xlsx (all tables; ha, km² and 亩 columns), gpkg (GeoPackage of the units with statistics), shp (zipped GBK shapefile of them)'),
    table: f.tableName.optional().describe('CSV table: change, transitions, transition_totals, account (change); zonal, histogram, transitions, difference (zonal)'),
    fresh: fresh.describe('compute again even if an identical run is stored'),
    rollup, labels,
  },
  factors: z.strictObject({
    units: f.name.describe('unit set'), format: format.describe('json (default), csv, geojson, xlsx (the finance workbook)'),
    table: table(FACTOR_TABLES, 'factors').describe('CSV table: factors, units, provenance'), rollup,
  }),
  factorsPost: z.strictObject({ format, table: table(FACTOR_TABLES, 'factors'), rollup }),
  allocations: z.strictObject({ format, table: table(ALLOCATION_TABLES, 'allocation') }),
  esv: z.strictObject({ format, table: table(ESV_TABLES, 'esv_units') }),
  gep: z.strictObject({ format, table: table(GEP_TABLES, 'gep'), fresh: f.flag.optional(), rollup }),
  report: z.strictObject({
    units: f.name.describe('unit set'), unit: f.unitCode.describe('the unit\'s code'), year: f.int(1900, 2200).optional().describe('layer versions of this year or before (default: all)'),
    lang: f.oneOf(['zh', 'en']).optional().describe('zh (default) or en'), format: f.oneOf(['pdf', 'html']).optional().describe('pdf (default, headless Chromium) or html'),
  }),
  trend: z.strictObject({
    units: f.name.describe('unit set'), layer: f.name.describe('layer name'),
    vintages: f.vintageList.optional().describe('vintages to compare, comma-separated (default: every current vintage of the layer); at least two'),
    categories: f.flag.optional().describe('also a row per category'),
    format, table: table(TREND_TABLES, 'areas').describe('CSV table: areas, intervals, totals'), fresh: f.flag.optional().describe('compute the underlying runs again'), rollup, labels,
  }),
  alerts: z.strictObject({ format, table: table(ALERT_TABLES, 'alerts').describe('CSV table: alerts, patches'), fresh: f.flag.optional() }),
  compensation: z.strictObject({ format, table: table(LEDGER_TABLES, 'ledger').describe('CSV table: ledger, units, payees, double, explanation, standards'), fresh: f.flag.optional(), rollup }),
  layerUpload: z.strictObject({
    filename: f.filename.describe('original file name (decides the format: .zip of a shapefile, .geojson, .gpkg)'),
    name: f.name.describe('layer name'), kind: f.oneOf(LAYER_KINDS).describe('layer kind'), vintage: f.vintage.describe('year or date'),
    crs: f.crs.optional().describe('EPSG:N when the file has no usable CRS'), encoding: f.encoding.optional().describe('dbf text encoding, e.g. GBK'),
    category_field: f.field.optional().describe('attribute holding the category'), table: f.gpkgTable.optional().describe('GeoPackage feature table, when it holds several'),
    replace: f.flag.optional().describe('add a new version of the same name+vintage and retire the current one (kept in its history)'),
    invalid: f.oneOf(['repair', 'fail']).default('repair').describe('repair (default) or fail on invalid polygons'),
    allow_empty: f.flag.optional().describe('store a version with no polygon area (else refused)'),
  }),
  sectionsUpload: z.strictObject({
    filename: f.filename.describe('original file name (.geojson, .csv or .xlsx)'), name: f.name.describe('section set name'), vintage: f.vintage.describe('year or date'),
    units: f.name.optional().describe('unit set whose boundaries give upstream/downstream where the attributes do not'),
    tolerance: f.number.pipe(z.number().positive().max(1000, { error: 'must be at most 1000 m' })).optional().describe('metres from a unit boundary (default 50)'),
    crs: f.crs.optional().describe('CRS of the coordinates when the file does not say'), replace: f.flag.optional().describe('add a new version and retire the current one'),
  }),
  seriesUpload: z.strictObject({
    filename: f.filename.describe('original file name (.csv or .xlsx)'), sections: f.spec.describe('section set NAME or NAME@VINTAGE'), name: f.name.optional().describe('series name (default: the section set\'s)'),
    vintage: f.vintage.describe('a year (every datetime in it) or a date'), replace: f.flag.optional().describe('add a new version and retire the current one'),
  }),
  settle: z.strictObject({ format: f.oneOf(['csv', 'json', 'xlsx']).default('json'), table: table(SETTLEMENT_TABLES, 'ledger').describe('CSV table: ledger, evaluation, indicators, months, explanation'), fresh: f.flag.optional() }),
  indicatorsUpload: z.strictObject({
    filename: f.filename.describe('original file name (.csv or .xlsx)'), name: f.name.describe('indicator set name'), year: f.vintage.describe('year of the values'),
    units: f.name.describe('unit set whose codes the table uses'), replace: f.flag.optional().describe('add a new version and retire the current one'),
  }),
  unitsUpload: z.strictObject({
    filename: f.filename.describe('original file name'), set: f.name.describe('unit set name'),
    code_field: f.field.optional().describe('GB/T 2260 code field'), name_field: f.field.optional().describe('name field'),
    parent_field: f.field.optional().describe('parent code field'), crs: f.crs.optional().describe('EPSG:N when the file has no usable CRS'),
    encoding: f.encoding.optional().describe('dbf text encoding'), table: f.gpkgTable.optional().describe('GeoPackage feature table'),
    replace: f.flag.optional().describe('add a new version of the set and retire the current one'),
  }),
  rasterUpload: z.strictObject({
    filename: f.filename.refine((s) => /\.tiff?$/i.test(s), { error: 'a GeoTIFF file name ending .tif or .tiff' }).describe('original file name (.tif/.tiff)'),
    name: f.name.describe('raster name'), vintage: f.vintage.describe('year or date'), kind: f.oneOf(RASTER_KINDS).describe('categorical or continuous'),
    crs: f.crs.optional().describe('EPSG:N when the GeoKeys name none'),
    // [{value, name, colour}] as JSON; the legend reader checks the entries
    legend: z.string().max(16_000, { error: 'is longer than 16000 characters' }).optional().describe('JSON [{value, name, colour}]'),
    replace: f.flag.optional().describe('add a new version of the same name+vintage and retire the current one'),
  }),
  raster: z.strictObject({ vintage: f.vintage.optional().describe('vintage (default: the latest)') }),
  rasterTile: z.strictObject({
    vintage: f.vintage.optional().describe('vintage (default: the latest)'), band: f.int(1, 10_000).optional().describe('band (default 1)'),
    size: f.oneOf(['256', '512']).optional().describe('256 (default) or 512'),
    range: f.range.optional().describe('continuous: lo,hi (default the band min,max; NDVI -1,1; FVC 0,1)'),
    ramp: z.string().regex(/^[a-z]{1,16}$/, { error: 'a ramp name' }).optional().describe('viridis, ndvi, greens, greys'),
    encoding: f.oneOf(['terrarium']).optional().describe('terrarium: the value as elevation in Terrarium RGB (for hillshade), not colours'),
  }),
  tileJson: TILE_QUERY,
  /** OGC API - Features (http/ogc/features.ts) */
  ogc: z.strictObject({ f: ogcFormat }),
  ogcItems: z.strictObject({
    f: ogcFormat,
    limit: f.int(1, 10_000).default(10).describe('features per page (1–10 000, default 10)'),
    offset: f.int(0, 1_000_000_000).default(0).describe('features to skip (paging; the next link carries it)'),
    bbox: ogcBbox.optional().describe('four numbers in bbox-crs order: CRS84 minlon,minlat,maxlon,maxlat (default); EPSG:4490 minlat,minlon,maxlat,maxlon'),
    'bbox-crs': ogcCrs.optional().describe(`CRS of bbox: ${OGC_CRS.join(' or ')}`),
    crs: ogcCrs.optional().describe(`CRS of the output: ${OGC_CRS.join(' (default) or ')}`),
  }),
  ogcItem: z.strictObject({ f: ogcFormat, crs: ogcCrs.optional().describe(`CRS of the output: ${OGC_CRS.join(' (default) or ')}`) }),
  /** GET /api/audit (admin) */
  audit: z.strictObject({
    since: z.string().max(40, { error: 'is longer than 40 characters' })
      .regex(/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/, { error: 'a date (2026-12-01) or date-time (2026-12-01T08:00:00Z)' })
      .optional().describe('entries at or after this date or time (ISO 8601)'),
    // free text, but never control characters
    actor: z.string().max(200, { error: 'is longer than 200 characters' }).regex(/^[^\p{Cc}]+$/u, { error: 'text without control characters' })
      .optional().describe('key:NAME, cli:USER or anonymous'),
    action: z.string().max(100, { error: 'is longer than 100 characters' }).regex(/^[^\p{Cc}]+$/u, { error: 'text without control characters' })
      .optional().describe('entries whose action contains this text'),
    limit: f.int(1, 100_000).optional().describe('at most this many entries, newest first'),
  }),
}

export const body = {
  factors: z.strictObject({
    units: f.name.describe('unit set'),
    definitions: z.array(z.unknown(), { error: 'must be a list of {id, label, layer?, categories?, measure}' }).optional()
      .describe('factor definitions [{id, label, layer?, categories?, measure}] (default: by layer kind)'),
  }),
  esv: z.strictObject({
    units: f.name.describe('unit set'), raster: f.spec.optional().describe('land-cover raster NAME[@VINTAGE] (or layer)'),
    layer: f.spec.optional().describe('land-cover layer NAME[@VINTAGE] with categories (or raster)'),
    mapping: z.record(z.string(), z.unknown(), { error: 'must be an object {classes: {…}}' }).describe('{classes: {class: ecosystem type or {type: share}}}'),
    equivalent_value: f.number.pipe(z.number().positive({ error: 'must be a positive number (yuan per hectare)' })).optional()
      .describe('yuan per hectare of one standard equivalent'),
  }),
  gep: z.strictObject({
    units: f.name.describe('unit set'),
    config: z.record(z.string(), z.unknown(), { error: 'must be the GEP config object (docs/gep.md), tables and prices inline' }).describe('GEP config (docs/gep.md): grid, ecosystem, inputs, types, items, prices, tables'),
    year: f.int(1900, 2200).optional().describe('year to account (default: the config\'s year)'),
    compare: f.int(1900, 2200).optional().describe('earlier year: ΔGEP per unit and a decline flag'),
  }),
  settle: z.strictObject({
    agreement: z.record(z.string(), z.unknown(), { error: 'must be the agreement object {sections, series, period?, agreements} (docs/watershed.md)' }).describe('agreement (docs/watershed.md): sections, series, period, agreements (index | class | load | flow)'),
    period: f.int(1900, 2200).optional().describe("year to settle (default: the agreement's period)"),
  }),
  alerts: z.strictObject({
    units: f.name.optional().describe('unit set (default: the rules document\'s units)'),
    rules: z.unknown().refine((v) => v !== undefined, { error: 'is required' }).describe('the rules document {units?, rules: [{id, layer | raster, measure, op, value, …}]} (docs/alerts.md)'),
  }),
  compensation: z.strictObject({
    units: f.name.describe('unit set'),
    config: z.record(z.string(), z.unknown(), { error: 'must be the standards object {year, rule, programmes} (docs/compensation.md)' }).describe('compensation standards (docs/compensation.md): year, rule, payee_field, programmes'),
  }),
  /** POST /api/runs: kind, fresh and the kind's parameters (results/kinds.ts) */
  runs: { fresh: fresh.describe('compute again even if an identical run is stored') },
  grid: z.strictObject({
    set: f.name.describe('unit set name'), size: f.int(1, 1_000_000).describe('cell side, metres'),
    crs: f.crs.optional().describe('projected CRS of the cells (default China Albers)'), within: f.name.optional().describe('unit set the cells are clipped to'),
    bbox: f.bbox.optional().describe('minlon,minlat,maxlon,maxlat (instead of within)'), replace: f.flag.optional().describe('add a new version and retire the current one'),
  }),
  derive: z.strictObject({
    op: f.oneOf(['ndvi', 'fvc']).describe('ndvi (from red and NIR bands) or fvc (from NDVI)'), from: f.spec.describe('source raster NAME[@VINTAGE]'),
    name: f.name.describe('name of the derived raster'), vintage: f.vintage.optional().describe('vintage (default: the source\'s)'),
    red: f.int(1, 10_000).optional().describe('red band'), nir: f.int(1, 10_000).optional().describe('near-infrared band'),
    soil: f.number.pipe(z.number().min(-1).max(1)).optional().describe('FVC: NDVI of bare soil (default 0.05)'),
    veg: f.number.pipe(z.number().min(-1).max(1)).optional().describe('FVC: NDVI of full vegetation (default 0.86)'),
    replace: f.flag.optional().describe('add a new version and retire the current one'),
  }),
}

export const path = {
  name: f.name,
  spec: f.spec,
  runId: f.runId,
  /** layer:NAME@VINTAGE, units:SET or run:ID */
  ogcCollection: f.text(/^(layer|units|run):[\p{L}\p{N}_.@-]{1,100}$/u, 'layer:NAME@VINTAGE, units:SET or run:ID', 110),
  ogcFeature: f.text(/^[\p{L}\p{N}_.-]{1,64}$/u, 'a feature id (a number for layers, a unit code for unit sets and runs)', 64),
  tile: z.strictObject({ z: f.int(0, 24), x: f.int(0, 2 ** 24 - 1), y: f.int(0, 2 ** 24 - 1) })
    .refine((t) => t.x < 2 ** t.z && t.y < 2 ** t.z, { error: 'no such tile at this zoom' }),
}
