// Display names of layers (layer_label): set by `ecocensus layers label NAME --zh … --en …`,
// read wherever a layer is shown to people; a layer without one is named by its kind.
import type { Queryable } from '../db/db.ts'
import { NotFound } from '../errors.ts'
import { CURRENT } from './versions.ts'

export async function setLayerLabel(db: Queryable, name: string, o: { zh?: string; en?: string }, actor?: string): Promise<{ name: string; name_zh: string | null; name_en: string | null }> {
  const [known] = await db.query(`SELECT 1 FROM layer WHERE name = $1 AND ${CURRENT} LIMIT 1`, [name])
  if (!known) throw new NotFound(`layer '${name}' is not in the catalogue`)
  const [row] = await db.query<{ name: string; name_zh: string | null; name_en: string | null }>(
    `INSERT INTO layer_label (name, name_zh, name_en, updated_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO UPDATE SET name_zh = COALESCE($2, layer_label.name_zh), name_en = COALESCE($3, layer_label.name_en), updated_at = now(), updated_by = $4
     RETURNING name, name_zh, name_en`,
    [name, o.zh ?? null, o.en ?? null, actor ?? null],
  )
  return row!
}

