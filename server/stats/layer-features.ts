// A layer's features read for the cell engine: EWKB from the database, parsed, oriented and
// projected (union-boundary.ts featureOf), whole or those whose boxes meet a box. The
// geometry comes as PostgreSQL prints it (hex EWKB text): measured, that arrives in ~60 %
// of the time of ST_AsBinary's bytea, whose hex text node-postgres decodes more slowly.
import type { Queryable } from '../db/db.ts'
import type { Laea } from './laea.ts'
import { featureOf, RingArena, type Feat } from './union-boundary.ts'

export interface FeatureRow { id: string; category: string | null; wkb: string | Uint8Array }

const WHOLE = 'SELECT id::text AS id, category, geom AS wkb FROM feature WHERE layer_id = $1 ORDER BY id'
const IN_BOX = 'SELECT id::text AS id, category, geom AS wkb FROM feature WHERE layer_id = $1 AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490) ORDER BY id'

/** The query for a layer's features (all, or those whose boxes meet `box`, lon/lat), sent now. */
export function queryFeatures(db: Queryable, layerId: number, box: readonly number[] | undefined, signal?: AbortSignal): Promise<FeatureRow[]> {
  return box ? db.query<FeatureRow>(IN_BOX, [layerId, ...box], { signal }) : db.query<FeatureRow>(WHOLE, [layerId], { signal })
}

/** Rows parsed into features; rows without area are left out. */
export function parseFeatures(rows: FeatureRow[], pr: Laea): Feat[] {
  const feats: Feat[] = []
  const arena = new RingArena()
  for (const r of rows) {
    const f = featureOf(r.id, r.category, r.wkb, pr, arena)
    if (f) feats.push(f)
  }
  return feats
}
