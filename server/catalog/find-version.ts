// `NAME` (its latest vintage) or `NAME@VINTAGE` → the current version, for the catalogues
// addressed that way besides layers: indicator sets, section sets and series.
import type { Queryable } from '../db/db.ts'
import { BadInput, NotFound } from '../errors.ts'
import { compareVintage } from './layer-select.ts'
import { CURRENT } from './versions.ts'

export interface FindVersionOptions {
  /** what the catalogue holds, in messages: 'indicators', 'sections', 'series' */
  what: string
  /** the word for a vintage in messages (indicator sets have years) */
  vintageWord?: string
  /** said after the known names when none matches */
  hint?: string
}

export async function findVersion<T extends { name: string; vintage: string }>(
  db: Queryable, table: 'indicator_set' | 'section_set' | 'series_set', columns: string, spec: string, o: FindVersionOptions,
): Promise<T> {
  const word = o.vintageWord ?? 'vintage'
  const m = /^([^@]+)(?:@(.+))?$/.exec(spec.trim())
  if (!m) throw new BadInput(`${o.what} '${spec}': write NAME or NAME@${word.toUpperCase()}`)
  const all = (await db.query<T>(`SELECT ${columns} FROM ${table} WHERE ${CURRENT} AND name = $1`, [m[1]])).sort((a, b) => compareVintage(a.vintage, b.vintage))
  const found = m[2] ? all.find((s) => s.vintage === m[2]) : all.at(-1)
  if (!found) {
    const names = (await db.query<{ name: string }>(`SELECT DISTINCT name FROM ${table} WHERE ${CURRENT} ORDER BY name`)).map((r) => r.name)
    throw new NotFound(all.length
      ? `${o.what} '${m[1]}' have no ${word} ${m[2]} (have ${all.map((s) => s.vintage).join(', ')})`
      : `no ${o.what} '${m[1]}' (known: ${names.join(', ') || 'none'}${o.hint ? `; ${o.hint}` : ''})`)
  }
  return found
}
