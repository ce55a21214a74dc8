// Keys limited to regions, as GeoServer's GeoFence limits a user to an area: a scope is a
// list of GB/T 2260 code prefixes ('34' a province, '3410' a city, '341024' a county). A unit
// is in scope when its code, or its parent's code (grid cells clipped to counties carry the
// county as parent), begins with one of them. A scoped key sees and exports only units in
// scope; sets with none are refused (403); results that sum over units outside the scope
// (set-wide totals, allocations over a set that is not wholly in scope) are withheld.
import type { Queryable } from '../db/db.ts'
import { AppError, BadInput } from '../errors.ts'
import type { Exportable } from '../results/export.ts'

export class Forbidden extends AppError {
  override readonly status = 403
  override readonly code = 'forbidden'
}

const PREFIX = /^[0-9]{2,12}$/

/** '34,3410' → ['34', '3410']; digits only, 2–12 of them. */
export function parseScopes(text: string): string[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean)
  if (!list.length) throw new BadInput('--scope: give one or more GB/T 2260 code prefixes, e.g. 341024 or 3410,3411')
  for (const p of list) if (!PREFIX.test(p)) throw new BadInput(`--scope '${p}': a GB/T 2260 code prefix is 2 to 12 digits (34 a province, 3410 a city, 341024 a county)`)
  return [...new Set(list)]
}

/** LIKE patterns of a scope (prefixes are digits: nothing to escape). */
export function scopePatterns(scopes: string[]): string[] {
  return scopes.map((p) => `${p}%`)
}

export function inScope(scopes: string[], code: string | null | undefined, parent?: string | null): boolean {
  return scopes.some((p) => (code ?? '').startsWith(p) || (parent ?? '').startsWith(p))
}

/** Codes of the units of set `setId` in scope, and how many units the set has. */
export async function unitsInScope(db: Queryable, setId: number, scopes: string[]): Promise<{ codes: Set<string>; total: number }> {
  const rows = await db.query<{ code: string; inside: boolean }>(
    'SELECT code, (code LIKE ANY ($2::text[]) OR coalesce(parent_code, \'\') LIKE ANY ($2::text[])) AS inside FROM unit WHERE set_id = $1',
    [setId, scopePatterns(scopes)])
  return { codes: new Set(rows.filter((r) => r.inside).map((r) => r.code)), total: rows.length }
}

/** Refuses (403) a set with no unit in scope; with `whole`, a set not wholly in scope. */
export async function checkSetInScope(db: Queryable, setId: number, setName: string, scopes: string[], whole = false): Promise<Set<string>> {
  const { codes, total } = await unitsInScope(db, setId, scopes)
  if (!codes.size) throw new Forbidden(`unit set '${setName}' has no unit within this key's regions (${scopes.join(', ')})`)
  if (whole && codes.size < total) throw new Forbidden(`unit set '${setName}' reaches beyond this key's regions (${scopes.join(', ')}: ${codes.size} of ${total} units); an allocation over it needs a key for every unit`)
  return codes
}

/**
 * The part of a result a scoped key may see: rows of units in `codes`; tables without a
 * unit_code column (totals over the whole set) and result arrays of such rows are left out.
 */
export function scopeExportable(x: Exportable, codes: Set<string>): Exportable {
  const keep = (rows: object[]) => rows.filter((r) => codes.has(String((r as { unit_code?: unknown }).unit_code)))
  const tables = x.tables.filter((t) => t.columns.includes('unit_code')).map((t) => ({ ...t, rows: keep(t.rows) }))
  const result: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(x.result)) {
    if (!Array.isArray(v) || !v.length || typeof v[0] !== 'object' || v[0] === null) result[k] = v
    else if ('unit_code' in (v[0] as object)) result[k] = keep(v as object[])
  }
  result.scope = { units: codes.size, note: 'rows limited to the units within the key\'s regions; set-wide totals left out' }
  return { ...x, tables, result: result as Exportable['result'], scope: codes }
}
