// Catalogue versions are immutable. An import of a name (and vintage) that exists retires
// the current version and adds a new one; nothing an import does deletes a version, so a
// run that reads a version by id reads the same rows whatever happens to the catalogue
// meanwhile. Retired versions stay readable (history, and the runs that used them) until an
// admin purges them (purge.ts).
import type { Queryable } from '../db/db.ts'
import { Conflict } from '../errors.ts'

export type Catalogue = 'layer' | 'unit_set' | 'raster_layer' | 'indicator_set' | 'section_set' | 'series_set'

const LABEL: Record<Catalogue, string> = { layer: 'layer', unit_set: 'unit set', raster_layer: 'raster', indicator_set: 'indicators', section_set: 'sections', series_set: 'series' }

/** SQL that keeps only current versions (the alias's): every lookup by name uses it. */
export const CURRENT = 'retired_at IS NULL'

export interface Claim {
  /** the current version the import replaces (retired in the same transaction), if any */
  retiredId?: number
}

/**
 * Inside an import transaction: takes the name (and vintage) for this transaction, so that
 * a concurrent import of the same version is refused at once (409) rather than racing to a
 * unique-index failure; refuses an existing current version unless `replace`; with
 * `replace`, retires it. The new version is inserted by the caller in the same
 * transaction, so the catalogue shows the old version or the new one, never neither.
 */
export async function claimVersion(tx: Queryable, table: Catalogue, name: string, vintage: string | null, o: { replace?: boolean; actor?: string }): Promise<Claim> {
  const what = `${LABEL[table]} '${name}'${vintage === null ? '' : ` vintage ${vintage}`}`
  const [lock] = await tx.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS got', [`ecocensus:${table}:${name}@${vintage ?? ''}`])
  if (!lock!.got) throw new Conflict(`another import of ${what} is in progress; try again when it has finished`)
  const rows = vintage === null
    ? await tx.query<{ id: number }>(`SELECT id FROM ${table} WHERE name = $1 AND ${CURRENT}`, [name])
    : await tx.query<{ id: number }>(`SELECT id FROM ${table} WHERE name = $1 AND vintage = $2 AND ${CURRENT}`, [name, vintage])
  const current = rows[0]?.id
  if (current === undefined) return {}
  if (!o.replace) throw new Conflict(`${what} already exists; pass --replace to add a new version of it (the old one is kept in its history), or give another ${table === 'unit_set' ? '--set' : table === 'indicator_set' ? '--year' : '--vintage'}`)
  await tx.query(`UPDATE ${table} SET retired_at = now(), retired_by = $2 WHERE id = $1`, [current, o.actor ?? null])
  return { retiredId: current }
}
