// A layer's history: every version ever imported under its name, current and retired, and
// the one way to delete retired versions (purge), which an admin asks for explicitly.
import type { Db, Queryable } from '../db/db.ts'
import { BadInput, Conflict, NotFound } from '../errors.ts'

export interface LayerVersionRow {
  id: number
  name: string
  vintage: string
  kind: string
  feature_count: number
  source_file: string
  source_checksum: string
  created_at: string
  created_by: string | null
  retired_at: string | null
  retired_by: string | null
  status: 'current' | 'retired'
  /** runs that read this version */
  runs: number
}

/** Every version of layer `name` (all vintages), oldest first within a vintage. */
export async function layerHistory(db: Queryable, name: string): Promise<LayerVersionRow[]> {
  const rows = await db.query<LayerVersionRow>(
    `SELECT l.id, l.name, l.vintage, l.kind, l.feature_count, l.source_file, l.source_checksum,
            l.created_at::text AS created_at, l.created_by, l.retired_at::text AS retired_at, l.retired_by,
            CASE WHEN l.retired_at IS NULL THEN 'current' ELSE 'retired' END AS status,
            (SELECT count(*)::int FROM run r WHERE ${RUN_USES_LAYER}) AS runs
     FROM layer l WHERE l.name = $1 ORDER BY l.vintage, l.id`, [name])
  if (!rows.length) throw new NotFound(`no layer '${name}' has ever been imported`)
  return rows
}

// a run reads a layer version when its inputs name the id: coverage inputs.layers[].id,
// change inputs.from.id / inputs.to.id
const RUN_USES_LAYER = `r.kind IN ('coverage', 'change') AND (
  r.inputs->'layers' @> jsonb_build_array(jsonb_build_object('id', l.id))
  OR (r.inputs->'from'->>'id')::int = l.id OR (r.inputs->'to'->>'id')::int = l.id)`

export interface PurgeReport {
  purged: { id: number; name: string; vintage: string; features: number }[]
  /** done, failed or cancelled runs that read a purged version: deleted with it */
  runsDeleted: number[]
}

/**
 * Deletes retired versions of layer `name` (those of `vintage`, or the one `id`), with the
 * runs that read them. A current version is never purged (replace it first); a version a
 * running run reads is refused (409) until that run ends.
 */
export async function purgeLayer(db: Db, name: string, o: { vintage?: string; id?: number }): Promise<PurgeReport> {
  return db.transaction(async (tx) => {
    const versions = await tx.query<{ id: number; vintage: string; feature_count: number; retired_at: string | null }>(
      'SELECT id, vintage, feature_count, retired_at::text AS retired_at FROM layer WHERE name = $1 ORDER BY id FOR UPDATE', [name])
    if (!versions.length) throw new NotFound(`no layer '${name}'`)
    const chosen = versions.filter((v) => (o.id === undefined || v.id === o.id) && (o.vintage === undefined || v.vintage === o.vintage))
    if (o.id !== undefined && !chosen.length) throw new NotFound(`layer '${name}' has no version with id ${o.id}${o.vintage ? ` in vintage ${o.vintage}` : ''} (ids: ${versions.map((v) => v.id).join(', ')})`)
    if (o.id !== undefined && chosen[0]!.retired_at === null) throw new BadInput(`layer '${name}' version ${o.id} is current; only retired versions can be purged (import a replacement first)`)
    const retired = chosen.filter((v) => v.retired_at !== null)
    if (!retired.length) return { purged: [], runsDeleted: [] }
    const ids = retired.map((v) => v.id)
    const users = await tx.query<{ id: number; status: string }>(
      `SELECT r.id::int AS id, r.status FROM run r JOIN layer l ON l.id = ANY($1::int[]) WHERE ${RUN_USES_LAYER} ORDER BY r.id`, [ids])
    const running = users.filter((u) => u.status === 'running')
    if (running.length) throw new Conflict(`run(s) ${running.map((r) => r.id).join(', ')} are reading a version to purge; wait for them to end or cancel them`)
    const runIds = [...new Set(users.map((u) => u.id))]
    if (runIds.length) await tx.query('DELETE FROM run WHERE id = ANY($1::bigint[])', [runIds])
    // the features first, by hand: a feature table with partitions on other servers has no
    // foreign key to cascade from the layer (migration 018, docs/scale.md)
    await tx.query('DELETE FROM feature WHERE layer_id = ANY($1::int[])', [ids])
    await tx.query('DELETE FROM layer WHERE id = ANY($1::int[])', [ids])
    return { purged: retired.map((v) => ({ id: v.id, name, vintage: v.vintage, features: v.feature_count })), runsDeleted: runIds }
  })
}
