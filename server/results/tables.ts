// Coverage and change results as exportable tables. Column lists are the CSV contract
// of docs/design.md, with extra columns appended (never inserted) so that readers of the
// contract's columns keep working.
import type { ChangeResult } from '../stats/change.ts'
import type { CoverageResult, CoverageRow } from '../stats/coverage.ts'
import type { Exportable, Table } from './export.ts'
import type { ZonalResult } from '../raster/zonal.ts'

export const COVERAGE_COLUMNS = ['unit_code', 'unit_name', 'unit_area_m2', 'layer', 'vintage', 'area_m2', 'share', 'measure', 'category', 'features']
export const CHANGE_COLUMNS = ['unit_code', 'unit_name', 'layer', 'from_vintage', 'to_vintage', 'stable_m2', 'gained_m2', 'lost_m2', 'net_m2', 'from_m2', 'to_m2']
export const TRANSITION_COLUMNS = ['unit_code', 'unit_name', 'layer', 'from_vintage', 'to_vintage', 'from_class', 'to_class', 'area_m2']
export const TRANSITION_TOTAL_COLUMNS = ['layer', 'from_vintage', 'to_vintage', 'from_class', 'to_class', 'area_m2']
export const ACCOUNT_COLUMNS = ['unit_code', 'unit_name', 'layer', 'from_vintage', 'to_vintage', 'class', 'opening_m2', 'additions_m2', 'reductions_m2', 'net_change_m2', 'closing_m2']

export const CHANGE_TABLES = ['change', 'transitions', 'transition_totals', 'account'] as const

/** Property stem of a coverage row in GeoJSON: `forest@2023`, `forest@2023:0301`, `redline∩pa`, `ecological_space`. */
export function coverageLabel(r: CoverageRow): string {
  if (r.measure === 'union') return 'ecological_space'
  if (r.measure === 'overlap') return r.layer
  return `${r.layer}@${r.vintage}${r.measure === 'category' ? `:${r.category ?? ''}` : ''}`
}

export function coverageExport(r: CoverageResult, setId: number): Exportable {
  return {
    // feature counts are not additive over units: a feature crossing two counts once in their parent
    tables: [{ name: 'coverage', columns: COVERAGE_COLUMNS, rows: r.rows, rollup: { share: { ratio: ['area_m2', 'unit_area_m2'] }, features: 'drop', category: 'key' } }],
    result: r,
    setId,
    properties: (rows) => {
      const out = new Map<string, Record<string, number | string | null>>()
      for (const row of rows as CoverageRow[]) {
        const p = out.get(row.unit_code) ?? out.set(row.unit_code, {}).get(row.unit_code)!
        p[`${coverageLabel(row)}_m2`] = row.area_m2
        p[`${coverageLabel(row)}_share`] = row.share
      }
      return out
    },
  }
}

export function changeExport(r: ChangeResult, setId: number): Exportable {
  return {
    tables: [
      { name: 'change', columns: CHANGE_COLUMNS, rows: r.rows },
      { name: 'transitions', columns: TRANSITION_COLUMNS, rows: r.transitions, rollup: { from_class: 'key', to_class: 'key' } },
      { name: 'transition_totals', columns: TRANSITION_TOTAL_COLUMNS, rows: r.transitionTotals },
      { name: 'account', columns: ACCOUNT_COLUMNS, rows: r.account, rollup: { class: 'key' } },
    ],
    result: r,
    setId,
    properties: (rows) => {
      const out = new Map<string, Record<string, number | string | null>>()
      for (const row of rows as ChangeResult['rows']) {
        const { unit_code, unit_name: _n, ...rest } = row
        out.set(unit_code, rest)
      }
      return out
    },
  }
}

export const ZONAL_CATEGORICAL_COLUMNS = ['unit_code', 'unit_name', 'raster', 'vintage', 'class', 'area_m2', 'share', 'class_name', 'pixels']
export const ZONAL_CONTINUOUS_COLUMNS = ['unit_code', 'unit_name', 'raster', 'vintage', 'band', 'count', 'sum', 'mean', 'min', 'max', 'stddev', 'area_m2', 'nodata_m2']
export const ZONAL_HISTOGRAM_COLUMNS = ['unit_code', 'unit_name', 'raster', 'vintage', 'band', 'bin', 'lower', 'upper', 'area_m2']
export const RASTER_TRANSITION_COLUMNS = ['unit_code', 'unit_name', 'from_raster', 'from_vintage', 'to_raster', 'to_vintage', 'from_class', 'to_class', 'area_m2', 'share', 'from_name', 'to_name', 'changed']
export const RASTER_DIFFERENCE_COLUMNS = ['unit_code', 'unit_name', 'from_raster', 'from_vintage', 'to_raster', 'to_vintage', 'band', 'mean_from', 'mean_to', 'mean_diff', 'count_from', 'count_to']
export const ZONAL_TABLES = ['zonal', 'histogram', 'transitions', 'difference'] as const

export function zonalExport(r: ZonalResult, setId: number): Exportable {
  // class areas add up over units; means, minima and differences of means do not
  const share = { ratio: ['area_m2', 'unit_area_m2'] as [string, string] }
  const tables: Table[] = r.mode === 'categorical' ? [{ name: 'zonal', columns: ZONAL_CATEGORICAL_COLUMNS, rows: r.rows, rollup: { class: 'key', share } }]
    : r.mode === 'continuous' ? [{ name: 'zonal', columns: ZONAL_CONTINUOUS_COLUMNS, rows: r.rows, rollup: false }, { name: 'histogram', columns: ZONAL_HISTOGRAM_COLUMNS, rows: r.histogramRows, rollup: { band: 'key', bin: 'key', lower: 'key', upper: 'key' } }]
      : r.mode === 'transitions' ? [{ name: 'transitions', columns: RASTER_TRANSITION_COLUMNS, rows: r.rows, rollup: { from_class: 'key', to_class: 'key', share, changed: 'key' } }]
        : [{ name: 'difference', columns: RASTER_DIFFERENCE_COLUMNS, rows: r.rows, rollup: false }]
  return {
    tables,
    result: r,
    setId,
    properties: (rows) => {
      const out = new Map<string, Record<string, number | string | null>>()
      for (const row of rows as Record<string, unknown>[]) {
        const p = out.get(row.unit_code as string) ?? out.set(row.unit_code as string, {}).get(row.unit_code as string)!
        if (r.mode === 'categorical') {
          p[`class_${row.class}_m2`] = row.area_m2 as number
          p[`class_${row.class}_share`] = row.share as number
        } else if (r.mode === 'transitions') {
          p[`from_${row.from_class}_to_${row.to_class}_m2`] = row.area_m2 as number
        } else {
          for (const [k, v] of Object.entries(row)) if (typeof v === 'number' || v === null) p[k] = v as number | null
        }
      }
      return out
    },
  }
}
