// GDAL's command-line tools (Debian gdal-bin) as independent readers in tests, and the CSV
// they write.
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'

/** Whether ogrinfo runs here; CI must have it. */
export function haveGdal(what: string): boolean {
  const ok = spawnSync('ogrinfo', ['--version'], { encoding: 'utf8' }).status === 0
  if (!ok && process.env.CI) throw new Error(`ogrinfo (Debian gdal-bin) is needed by ${what}; .ci/run installs it`)
  return ok
}

/** ogrinfo/ogr2ogr, asynchronously (a server they talk to may run in this process); stdout, failing loudly. */
export async function gdalTool(tool: string, args: string[]): Promise<string> {
  try {
    return (await promisify(execFile)(tool, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26 })).stdout
  } catch (e) {
    throw new Error(`${tool} ${args.join(' ')}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`)
  }
}

/** CSV (RFC 4180 quoting) as rows of cells. */
export function csvRows(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = [], cell = '', quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++ } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(cell); cell = '' } else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = '' } else if (c !== '\r') cell += c
  }
  if (cell || row.length) { row.push(cell); rows.push(row) }
  return rows
}

/** CSV as records keyed by its header (a BOM dropped). */
export function csvRecords(text: string): Record<string, string>[] {
  const [head, ...lines] = csvRows(text)
  return lines.filter((l) => l.length > 1).map((l) => Object.fromEntries(head!.map((h, i) => [h.replace(/^\ufeff/, ''), l[i]!])))
}
