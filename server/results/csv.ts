// CSV as finance staff open it: in Excel or WPS, by double-click. So every file starts with a
// UTF-8 byte-order mark (without it Excel reads Chinese as GBK mojibake), and text cells that
// a spreadsheet would run as a formula are neutralised (OWASP CSV injection): a cell
// beginning with =, +, -, @, TAB or CR gets a leading apostrophe, which Excel and WPS show as
// text and do not evaluate. Numbers are written as numbers; a text cell that is a plain
// decimal number (a code like '-1') is left as it is: no spreadsheet evaluates it.

export const BOM = '\uFEFF'

const FORMULA_START = /^[=+\-@\t\r]/
const NEEDS_QUOTES = /[",\r\n]/
const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

/** A text cell made safe to open in a spreadsheet. */
export function neutralise(s: string): string {
  return FORMULA_START.test(s) && !PLAIN_NUMBER.test(s) ? `'${s}` : s
}

/** RFC 4180 CSV: fields with comma, quote or newline are quoted; CRLF line ends; BOM first. */
export function toCsv(columns: string[], rows: object[]): string {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return ''
    // a number's text holds no comma, quote or line break
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : ''
    const s = neutralise(String(v))
    return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  return BOM + [columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => cell((r as Record<string, unknown>)[c])).join(','))].join('\r\n') + '\r\n'
}
