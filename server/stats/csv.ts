/** RFC 4180 CSV: fields with comma, quote or newline are quoted; CRLF line ends. */
export function toCsv(columns: string[], rows: object[]): string {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return ''
    const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v)
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell((r as Record<string, unknown>)[c])).join(','))].join('\r\n') + '\r\n'
}

export const COVERAGE_COLUMNS = ['unit_code', 'unit_name', 'unit_area_m2', 'layer', 'vintage', 'area_m2', 'share']

export const CHANGE_COLUMNS = ['unit_code', 'unit_name', 'layer', 'from_vintage', 'to_vintage', 'stable_m2', 'gained_m2', 'lost_m2', 'net_m2']

/** A statistics result as the CLI and the API return it: CSV rows of `columns`, or the whole result as JSON. */
export function renderTable(format: 'csv' | 'json', columns: string[], result: { rows: object[] }): string {
  return format === 'json' ? JSON.stringify(result, null, 2) + '\n' : toCsv(columns, result.rows)
}
