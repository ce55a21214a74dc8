import type { Queryable } from '../db/db.ts'
import { Conflict, NotFound } from '../errors.ts'

/** Inside an import transaction: refuses an existing name unless replacing, then frees it. */
export async function claimUnitSetName(tx: Queryable, name: string, replace?: boolean): Promise<boolean> {
  const existing = await tx.query('SELECT id FROM unit_set WHERE name = $1', [name])
  if (existing.length && !replace) throw new Conflict(`unit set '${name}' already exists; pass --replace to overwrite it, or choose another --set`)
  if (existing.length) await tx.query('DELETE FROM unit_set WHERE name = $1', [name])
  return existing.length > 0
}

export async function unitSetId(db: Queryable, name: string): Promise<number> {
  const rows = await db.query<{ id: number }>('SELECT id FROM unit_set WHERE name = $1', [name])
  if (!rows.length) {
    const known = (await db.query<{ name: string }>('SELECT name FROM unit_set ORDER BY name')).map((r) => r.name)
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
