// CSV as the server writes it (server/results/csv.ts): a UTF-8 BOM, CRLF, quotes where needed,
// and formula-like text neutralised with a leading ' (numbers such as -5 left alone).
const FORMULA = /^[=+\-@\t\r]/
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** lines: arrays of cells, the first the header */
export function csvText(lines) {
  const cell = (x) => (typeof x === 'string' && FORMULA.test(x) && !NUMBER.test(x) ? `'${x}` : x)
  return '\ufeff' + lines.map((l) => l.map(cell).map((x) => (typeof x === 'string' && /[",\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x ?? '')).join(',')).join('\r\n')
}

