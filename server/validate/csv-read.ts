/** RFC 4180 CSV text → rows of fields (quoted fields with commas, quotes and newlines; BOM dropped). */
export function toCsvRows(text: string): string[][] {
  return toCsvLines(text).rows
}

/** toCsvRows, with the line of the file each row starts on (blank lines are skipped, not counted as rows). */
export function toCsvLines(text: string): { rows: string[][]; lines: number[] } {
  const s = text.replace(/^\ufeff/, '')
  const rows: string[][] = []
  const lines: number[] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  let line = 1
  let start = 1
  const end = () => {
    if (!(row.length === 1 && row[0] === '')) { rows.push(row); lines.push(start) }
    row = []
    field = ''
  }
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') { field += '"'; i++ }
      else if (ch === '"') quoted = false
      else {
        if (ch === '\n') line++
        field += ch
      }
    } else if (ch === '"' && field === '') quoted = true
    else if (ch === ',') { row.push(field); field = '' }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++
      row.push(field)
      end()
      line++
      start = line
    } else field += ch
  }
  if (field !== '' || row.length) { row.push(field); end() }
  return { rows, lines }
}
