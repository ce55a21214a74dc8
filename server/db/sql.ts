import fs from 'node:fs'

/** Loads a `.sql` file that sits next to the module that runs it (once, at import). */
export function loadSql(moduleUrl: string, file: string): string {
  return fs.readFileSync(new URL(file, moduleUrl), 'utf8')
}

/** Quotes an identifier that has already passed a whitelist. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"'
}
