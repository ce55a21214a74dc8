import type { Queryable } from '../db/db.ts'
import { NotFound } from '../errors.ts'
import { claimVersion, CURRENT } from '../catalog/versions.ts'

/** Inside an import transaction: refuses an existing name unless replacing, then retires the
 *  current version (kept for the runs that used it); true when it replaced one. */
export async function claimUnitSetName(tx: Queryable, name: string, replace?: boolean, actor?: string): Promise<boolean> {
  return (await claimVersion(tx, 'unit_set', name, null, { replace, actor })).retiredId !== undefined
}

/** The current version of the unit set `name`. */
export async function unitSetId(db: Queryable, name: string): Promise<number> {
  const rows = await db.query<{ id: number }>(`SELECT id FROM unit_set WHERE name = $1 AND ${CURRENT}`, [name])
  if (!rows.length) {
    const known = (await db.query<{ name: string }>(`SELECT name FROM unit_set WHERE ${CURRENT} ORDER BY name`)).map((r) => r.name)
    throw new NotFound(`no unit set '${name}' (known: ${known.join(', ') || 'none'})`)
  }
  return rows[0]!.id
}

/** The identity of a unit set's current version, as runs record it among their inputs. */
export interface UnitSetVersion {
  id: number
  name: string
  unit_count: number
  created_at: string
}

export async function unitSetVersion(db: Queryable, name: string): Promise<UnitSetVersion> {
  const id = await unitSetId(db, name)
  const [set] = await db.query<UnitSetVersion>('SELECT id, name, unit_count, created_at::text AS created_at FROM unit_set WHERE id = $1', [id])
  return set!
}
