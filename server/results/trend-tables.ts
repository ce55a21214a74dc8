// A trend (stats/trend.ts) as exportable tables: areas per vintage, intervals with rates, and
// the intervals summed over the units. GeoJSON/GeoPackage/shapefile properties per unit: the
// layer's area and share at each vintage and each interval's net change and relative rate.
import type { TrendResult } from '../stats/trend.ts'
import type { Exportable } from './export.ts'

export const TREND_AREA_COLUMNS = ['unit_code', 'unit_name', 'unit_area_m2', 'layer', 'category', 'vintage', 'year', 'area_m2', 'share']
export const TREND_INTERVAL_COLUMNS = ['unit_code', 'unit_name', 'layer', 'category', 'from_vintage', 'to_vintage', 'years', 'from_m2', 'to_m2', 'net_m2', 'gained_m2', 'lost_m2', 'rate_m2_per_year', 'rate_pct_per_year']
export const TREND_TOTAL_COLUMNS = TREND_INTERVAL_COLUMNS.filter((c) => c !== 'unit_code' && c !== 'unit_name')
export const TREND_TABLES = ['areas', 'intervals', 'totals'] as const

const pct = (r: Record<string, unknown>) => {
  const from = Number(r.from_m2), net = Number(r.net_m2), years = Number(r.years)
  return from > 0 && years > 0 ? (net / from / years) * 100 : null
}

export function trendExport(r: TrendResult, setId: number): Exportable {
  return {
    tables: [
      { name: 'areas', columns: TREND_AREA_COLUMNS, rows: r.areas, rollup: { category: 'key', year: 'key', share: { ratio: ['area_m2', 'unit_area_m2'] } } },
      {
        name: 'intervals', columns: TREND_INTERVAL_COLUMNS, rows: r.intervals,
        rollup: { category: 'key', years: 'key', rate_m2_per_year: { fn: (x) => Number(x.net_m2) / Number(x.years) }, rate_pct_per_year: { fn: pct } },
      },
      { name: 'totals', columns: TREND_TOTAL_COLUMNS, rows: r.totals },
    ],
    result: r as unknown as Exportable['result'],
    setId,
    properties: () => {
      const out = new Map<string, Record<string, number | string | null>>()
      const of = (code: string) => out.get(code) ?? out.set(code, {}).get(code)!
      for (const a of r.areas) {
        if (a.category !== null) continue
        of(a.unit_code)[`${a.layer}@${a.vintage}_m2`] = a.area_m2
        of(a.unit_code)[`${a.layer}@${a.vintage}_share`] = a.share
      }
      for (const i of r.intervals) {
        if (i.category !== null) continue
        of(i.unit_code)[`${i.layer}_${i.from_vintage}_${i.to_vintage}_net_m2`] = i.net_m2
        of(i.unit_code)[`${i.layer}_${i.from_vintage}_${i.to_vintage}_pct_per_year`] = i.rate_pct_per_year
      }
      return out
    },
  }
}
