// What each CLI command accepts, as zod schemas over commander's option object (camelCase
// keys; messages name them as --kebab-case). Strict: an option the schema does not know is
// an error, and test/validation.test.ts checks that every command's options and its schema
// name the same things. Run parameters come from server/results/kinds.ts.
import { z } from 'zod'
import * as f from '../validate/fields.ts'
import { FORMATS } from '../results/export.ts'
import { LAYER_KINDS } from '../ingest/names.ts'
import { RASTER_KINDS } from '../raster/ingest-raster.ts'
import { ROLES } from '../auth/keys.ts'
import { LEDGER_TABLES } from '../results/ledger-tables.ts'
import { ROLLUP_LEVELS } from '../results/rollup.ts'
import { SETTLEMENT_TABLES } from '../results/settlement-tables.ts'
import { TREND_TABLES } from '../results/trend-tables.ts'
import { ALERT_TABLES } from '../results/alert-tables.ts'
import { ALLOCATION_TABLES, body, ESV_TABLES, FACTOR_TABLES, GEP_TABLES } from '../http/route-schemas.ts'

/** a local file path (the operator's own file system) */
export const file = z.string({ error: 'is required' }).min(1).max(4096, { error: 'is longer than 4096 characters' })
  .refine((s) => !s.includes('\0'), { error: 'contains a NUL character' })

const format = f.oneOf(FORMATS).default('csv')
const output = { format, out: file.optional() }

export const options = {
  ingest: z.strictObject({
    layer: f.name, kind: f.oneOf(LAYER_KINDS), vintage: f.vintage, crs: f.crs.optional(), encoding: f.encoding.optional(),
    categoryField: f.field.optional(), table: f.gpkgTable.optional(), replace: f.flag.optional(), invalid: f.oneOf(['repair', 'fail']).default('repair'),
    allowEmpty: f.flag.optional(),
  }),
  sectionsImport: z.strictObject({
    name: f.name, vintage: f.vintage, units: f.name.optional(), tolerance: f.number.pipe(z.number().positive({ error: 'must be a positive number of metres' }).max(1000, { error: 'must be at most 1000 m' })).optional(),
    crs: f.crs.optional(), replace: f.flag.optional(),
  }),
  seriesImport: z.strictObject({ sections: f.spec, name: f.name.optional(), vintage: f.vintage, replace: f.flag.optional() }),
  settle: z.strictObject({ agreement: file, period: f.int(1900, 2200).optional(), table: f.oneOf(SETTLEMENT_TABLES).optional(), fresh: f.flag.optional(), indicators: f.name.optional(), units: f.name.optional(), replace: f.flag.optional(), ...output }),
  indicatorsImport: z.strictObject({ name: f.name, year: f.vintage, units: f.name, replace: f.flag.optional() }),
  unitsImport: z.strictObject({
    set: f.name, codeField: f.field.optional(), nameField: f.field.optional(), parentField: f.field.optional(),
    crs: f.crs.optional(), encoding: f.encoding.optional(), table: f.gpkgTable.optional(), replace: f.flag.optional(),
  }),
  grid: body.grid,
  none: z.strictObject({}),
  /** stats coverage/change/zonal/raster-change: the run's parameters plus these */
  stats: { ...output, fresh: f.flag.optional(), rollup: f.oneOf(ROLLUP_LEVELS).optional(), labels: f.oneOf(['zh']).optional() },
  factors: z.strictObject({ units: f.name, definitions: file.optional(), table: f.oneOf(FACTOR_TABLES).optional(), rollup: f.oneOf(ROLLUP_LEVELS).optional(), ...output }),
  allocate: z.strictObject({ config: file, units: f.name.optional(), table: f.oneOf(ALLOCATION_TABLES).optional(), ...output }),
  esv: z.strictObject({
    units: f.name, raster: f.spec.optional(), layer: f.spec.optional(), mapping: file, coefficients: file.optional(),
    equivalentValue: f.number.pipe(z.number().positive({ error: 'must be a positive number of yuan per hectare' })).optional(),
    table: f.oneOf(ESV_TABLES).optional(), ...output,
  }),
  gep: z.strictObject({
    units: f.name, config: file, year: f.int(1900, 2200).optional(), compare: f.int(1900, 2200).optional(),
    table: f.oneOf(GEP_TABLES).optional(), fresh: f.flag.optional(), rollup: f.oneOf(ROLLUP_LEVELS).optional(), ...output,
  }),
  trend: z.strictObject({
    units: f.name, layer: f.name, vintages: f.vintageList.optional(), categories: f.flag.optional(),
    table: f.oneOf(TREND_TABLES).optional(), fresh: f.flag.optional(), rollup: f.oneOf(ROLLUP_LEVELS).optional(), labels: f.oneOf(['zh']).optional(), ...output,
  }),
  report: z.strictObject({ units: f.name, unit: f.unitCode, year: f.int(1900, 2200).optional(), lang: f.oneOf(['zh', 'en']).default('zh'), format: f.oneOf(['pdf', 'html']).default('pdf'), out: file }),
  alerts: z.strictObject({ units: f.name.optional(), rules: file, table: f.oneOf(ALERT_TABLES).optional(), patches: file.optional(), fresh: f.flag.optional(), ...output }),
  compensate: z.strictObject({ units: f.name, config: file, table: f.oneOf(LEDGER_TABLES).optional(), fresh: f.flag.optional(), rollup: f.oneOf(ROLLUP_LEVELS).optional(), ...output }),
  keysAdd: z.strictObject({ name: f.name, role: f.oneOf(ROLES), scope: z.string().max(500, { error: 'is longer than 500 characters' }).optional() }),
  layersLabel: z.strictObject({ zh: z.string().trim().min(1).max(64, { error: 'is longer than 64 characters' }).optional(), en: z.string().trim().min(1).max(64, { error: 'is longer than 64 characters' }).optional() })
    .refine((o) => o.zh !== undefined || o.en !== undefined, { error: 'give --zh, --en or both' }),
  layersPurge: z.strictObject({ vintage: f.vintage.optional(), id: f.int(1, 2_147_483_647).optional() }),
  audit: z.strictObject({
    since: z.string().max(40, { error: 'is longer than 40 characters' }).optional(), actor: z.string().max(200).optional(),
    action: z.string().max(100).optional(), limit: f.int(1, 100_000).optional(), format: f.oneOf(['tsv', 'json']).default('tsv'),
  }),
  rasterAdd: z.strictObject({ name: f.name, vintage: f.vintage, kind: f.oneOf(RASTER_KINDS), legend: file.optional(), crs: f.crs.optional(), replace: f.flag.optional() }),
  rasterDerive: body.derive.omit({ op: true }),
  runsResult: z.strictObject({ table: f.tableName.optional(), rollup: f.oneOf(ROLLUP_LEVELS).optional(), ...output }),
  serve: z.strictObject({ port: f.int(0, 65_535).optional() }),
  worker: z.strictObject({ concurrency: f.int(1, 64).default(1), minTaskMs: f.int(0, 3_600_000).optional() }),
}

export const args = {
  file,
  runId: f.runId,
  deriveOp: f.oneOf(['ndvi', 'fvc']),
  keyNameOrId: z.string().regex(/^[\p{L}\p{N}_.-]{1,64}$/u, { error: 'a key name or id' }),
}
