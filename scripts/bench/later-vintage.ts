// A later vintage of a generated layer (county-gen.ts), as a resurvey finds it: of the
// features, by a fixed hash of their index, 4 % gone, 6 % given the layer's next class,
// 4 % moved ~15 m east (overlapping their neighbours), the rest as they were; written as
// the same layer name at `vintage`, its contacts found as an import finds them.
import type { Db } from '../../server/db/db.ts'
import { prepareLayer } from '../../server/stats/cells/read/contacts.ts'

export async function laterVintage(db: Db, layerId: number, vintage: string): Promise<{ id: number; features: number }> {
  const [src] = await db.query<{ name: string }>('SELECT name FROM layer WHERE id = $1', [layerId])
  await db.query('DELETE FROM layer WHERE name = $1 AND vintage = $2', [src!.name, vintage])
  const [layer] = await db.query<{ id: number }>(
    `INSERT INTO layer (name, kind, vintage, source_file, source_checksum, source_crs, category_field, feature_count, report)
     SELECT name, kind, $2, 'later-vintage', source_checksum || ':later:' || $2, source_crs, category_field, 0, '{}' FROM layer WHERE id = $1 RETURNING id`,
    [layerId, vintage])
  const [{ n }] = await db.query<{ n: number }>(
    `WITH cats AS (SELECT array_agg(DISTINCT category ORDER BY category) AS a FROM feature WHERE layer_id = $1),
     src AS (SELECT f.*, ((f.src_index::bigint * 2654435761) % 1000) / 1000.0 AS h FROM feature f WHERE f.layer_id = $1),
     ins AS (
       INSERT INTO feature (layer_id, src_index, attributes, category, geom, area_m2, zone)
       SELECT $2, s.src_index, s.attributes,
              CASE WHEN s.h < 0.06 THEN cats.a[1 + (array_position(cats.a, s.category) % cardinality(cats.a))] ELSE s.category END,
              CASE WHEN s.h >= 0.06 AND s.h < 0.10 THEN ST_Translate(s.geom, 0.00015, 0) ELSE s.geom END,
              CASE WHEN s.h >= 0.06 AND s.h < 0.10 THEN ST_Area(ST_Translate(s.geom, 0.00015, 0)::geography) ELSE s.area_m2 END,
              gk6_zone((s.box_x0 + s.box_x1) / 2 + CASE WHEN s.h >= 0.06 AND s.h < 0.10 THEN 0.00015 ELSE 0 END)
       FROM src s, cats WHERE NOT (s.h >= 0.10 AND s.h < 0.14)
       RETURNING 1)
     SELECT count(*)::int AS n FROM ins`, [layerId, layer!.id])
  await db.query('UPDATE layer SET feature_count = $2, zone_reach = (SELECT max(box_x1 - box_x0) / 2 FROM feature WHERE layer_id = $1) WHERE id = $1', [layer!.id, n])
  await db.query('ANALYZE feature')
  await prepareLayer(db, layer!.id)
  return { id: layer!.id, features: n }
}
