// A watershed settlement as exportable tables (docs/watershed.md): the ledger (two entries per
// agreement that sum to zero), the evaluation per section, the indicators' period means and
// classes, the months, the explanation. Sections are points, not a unit set: no GeoJSON.
import { BadInput } from '../errors.ts'
import type { SettlementResult } from '../watershed/settle.ts'
import type { Exportable } from './export.ts'

export const SETTLEMENT_TABLES = ['ledger', 'evaluation', 'indicators', 'months', 'explanation'] as const

export function settlementExport(r: SettlementResult): Exportable {
  return {
    tables: [
      { name: 'ledger', columns: ['agreement', 'template', 'section_code', 'period', 'unit_code', 'role', 'counterpart', 'amount_yuan'], rows: r.ledger, rollup: false },
      { name: 'evaluation', columns: ['section_code', 'section_name', 'river', 'upstream', 'downstream', 'period', 'target_class', 'class', 'compliant', 'deciding', 'samples'], rows: r.evaluation, rollup: false },
      { name: 'indicators', columns: ['section_code', 'period', 'indicator', 'name', 'mean', 'unit', 'class', 'target_limit', 'exceedance'], rows: r.indicators, rollup: false },
      { name: 'months', columns: ['section_code', 'month', 'class', 'flow_m3s', 'samples'], rows: r.months, rollup: false },
      { name: 'explanation', columns: ['agreement', 'section_code', 'line', 'zh', 'en'], rows: r.explanation, rollup: false },
    ],
    result: r,
    setId: 0,
    properties: () => { throw new BadInput('a settlement is a table of sections and units, not a unit set: ask for csv, json or xlsx') },
  }
}
