// Alerts (alerts/alerts.ts) as exportable tables: the alerts, and their patches without
// geometry (the patches as GeoJSON: GET /api/alerts/{run}/patches, `alerts --patches FILE`).
// Per-unit properties (GeoJSON, GeoPackage, shapefile of the units): how many alerts and
// which rules.
import type { AlertsResult } from '../alerts/alerts.ts'
import type { Exportable } from './export.ts'

export const ALERT_COLUMNS = ['rule', 'rule_name', 'unit_code', 'unit_name', 'subject', 'from_vintage', 'to_vintage', 'measure', 'value', 'op', 'threshold', 'from_m2', 'to_m2', 'lost_m2', 'gained_m2', 'mean_from', 'mean_to', 'patches', 'patch_m2', 'source_run']
export const PATCH_COLUMNS = ['rule', 'unit_code', 'from_vintage', 'to_vintage', 'side', 'area_m2']
export const ALERT_TABLES = ['alerts', 'patches'] as const

export function alertsExport(r: AlertsResult, setId: number): Exportable {
  const patchRows = r.patches.features.map((f) => f.properties)
  return {
    tables: [
      // thresholds are per unit: an alert does not add up to a parent's
      { name: 'alerts', columns: ALERT_COLUMNS, rows: r.alerts, rollup: false },
      { name: 'patches', columns: PATCH_COLUMNS, rows: patchRows, rollup: false },
    ],
    result: { ...r, patches: undefined, patch_rows: patchRows } as unknown as Exportable['result'],
    setId,
    properties: () => {
      const out = new Map<string, Record<string, number | string | null>>()
      for (const a of r.alerts) {
        const p = out.get(a.unit_code) ?? out.set(a.unit_code, { alerts: 0, alert_rules: '' }).get(a.unit_code)!
        p.alerts = Number(p.alerts) + 1
        const rules = new Set(String(p.alert_rules).split(',').filter(Boolean)).add(a.rule)
        p.alert_rules = [...rules].join(',')
      }
      return out
    },
  }
}
