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
