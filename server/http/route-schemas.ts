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

const format = f.oneOf(FORMATS).default('json')
const fresh = f.flag.optional()
const table = <T extends string>(names: readonly [T, ...T[]], dflt: T) => f.oneOf(names).default(dflt)

export const FACTOR_TABLES = ['factors', 'units', 'provenance'] as const
export const ALLOCATION_TABLES = ['allocation', 'explanation', 'parameters', 'units', 'factors', 'provenance'] as const
export const ESV_TABLES = ['esv_units', 'esv', 'esv_by_type', 'esv_totals'] as const

export const query = {
  none: z.strictObject({}),
  /** GET /api/runs/:id/result */
  result: z.strictObject({ format, table: f.tableName.optional() }),
  /** GET /api/stats/*: the run's own parameters (results/kinds.ts) plus these */
  stats: {
    format: format.describe('json (default), csv (one table), geojson (units with statistics), xlsx (all tables; ha, km² and 亩 columns)'),
    table: f.tableName.optional().describe('CSV table: change, transitions, transition_totals, account (change); zonal, histogram, transitions, difference (zonal)'),
    fresh: fresh.describe('compute again even if an identical run is stored'),
  },
  factors: z.strictObject({ units: f.name, format, table: table(FACTOR_TABLES, 'factors') }),
  factorsPost: z.strictObject({ format, table: table(FACTOR_TABLES, 'factors') }),
  allocations: z.strictObject({ format, table: table(ALLOCATION_TABLES, 'allocation') }),
  esv: z.strictObject({ format, table: table(ESV_TABLES, 'esv_units') }),
  layerUpload: z.strictObject({
    filename: f.filename, name: f.name, kind: f.oneOf(LAYER_KINDS), vintage: f.vintage,
    crs: f.crs.optional(), encoding: f.encoding.optional(), category_field: f.field.optional(), table: f.gpkgTable.optional(),
    replace: f.flag.optional(), invalid: f.oneOf(['repair', 'fail']).default('repair'), allow_empty: f.flag.optional(),
  }),
  unitsUpload: z.strictObject({
    filename: f.filename, set: f.name, code_field: f.field.optional(), name_field: f.field.optional(), parent_field: f.field.optional(),
    crs: f.crs.optional(), encoding: f.encoding.optional(), table: f.gpkgTable.optional(), replace: f.flag.optional(),
  }),
  rasterUpload: z.strictObject({
    filename: f.filename.refine((s) => /\.tiff?$/i.test(s), { error: 'a GeoTIFF file name ending .tif or .tiff' }),
    name: f.name, vintage: f.vintage, kind: f.oneOf(RASTER_KINDS), crs: f.crs.optional(),
    // [{value, name, colour}] as JSON; the legend reader checks the entries
    legend: z.string().max(16_000, { error: 'is longer than 16000 characters' }).optional(),
    replace: f.flag.optional(),
  }),
  raster: z.strictObject({ vintage: f.vintage.optional() }),
  rasterTile: z.strictObject({
    vintage: f.vintage.optional(), band: f.int(1, 10_000).optional(), size: f.oneOf(['256', '512']).optional(),
    range: f.range.optional(), ramp: z.string().regex(/^[a-z]{1,16}$/, { error: 'a ramp name' }).optional(),
  }),
  tileJson: TILE_QUERY,
  /** GET /api/audit (admin) */
  audit: z.strictObject({
    since: z.string().max(40, { error: 'is longer than 40 characters' }).optional(),
    actor: z.string().max(200, { error: 'is longer than 200 characters' }).optional(),
    action: z.string().max(100, { error: 'is longer than 100 characters' }).optional(),
    limit: f.int(1, 100_000).optional(),
  }),
}

export const body = {
  factors: z.strictObject({ units: f.name, definitions: z.array(z.unknown(), { error: 'must be a list of {id, label, layer?, categories?, measure}' }).optional() }),
  esv: z.strictObject({
    units: f.name, raster: f.spec.optional(), layer: f.spec.optional(), mapping: z.record(z.string(), z.unknown(), { error: 'must be an object {classes: {…}}' }),
    equivalent_value: f.number.pipe(z.number().positive({ error: 'must be a positive number (yuan per hectare)' })).optional(),
  }),
  /** POST /api/runs: kind, fresh and the kind's parameters (results/kinds.ts) */
  runs: { fresh: fresh.describe('compute again even if an identical run is stored') },
  grid: z.strictObject({
    set: f.name, size: f.int(1, 1_000_000), crs: f.crs.optional(), within: f.name.optional(), bbox: f.bbox.optional(), replace: f.flag.optional(),
  }),
  derive: z.strictObject({
    op: f.oneOf(['ndvi', 'fvc']), from: f.spec, name: f.name, vintage: f.vintage.optional(),
    red: f.int(1, 10_000).optional(), nir: f.int(1, 10_000).optional(),
    soil: f.number.pipe(z.number().min(-1).max(1)).optional(), veg: f.number.pipe(z.number().min(-1).max(1)).optional(),
    replace: f.flag.optional(),
  }),
}

export const path = {
  name: f.name,
  spec: f.spec,
  runId: f.runId,
  tile: z.strictObject({ z: f.int(0, 24), x: f.int(0, 2 ** 24 - 1), y: f.int(0, 2 ** 24 - 1) })
    .refine((t) => t.x < 2 ** t.z && t.y < 2 ** t.z, { error: 'no such tile at this zoom' }),
}
