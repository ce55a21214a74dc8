-- Measures run $1's shapes inside the units $2 (ids) in PostGIS and stores one sum per
-- unit and key. The shapes: the pieces of the work table, and the features of the layers
-- measured in place ($4 layer ids, $5 keys, $6 whether the key is followed by the
-- category; members of dissolved clusters under those keys skipped). Shapes of one key
-- are disjoint, so their areas inside a unit add up to the area of their union inside it.
-- Fast paths first: a shape inside the unit counts its stored area, a shape covering the
-- unit the unit's area; only shapes crossing the unit boundary are clipped (fixed
-- precision $3 degrees). Areas are ellipsoidal (GRS80), ST_Area(geography). `features`
-- counts single-feature shapes with area in the unit; members of dissolved clusters are
-- counted by count-members.sql.
-- (measure-units.ts does the same in-process for small simple units; this is the path
-- for all other units.)
WITH units AS (
  SELECT id, geom, area_m2 FROM unit WHERE id = ANY($2::bigint[])
),
inplace AS (
  SELECT * FROM unnest($4::int[], $5::text[], $6::boolean[]) AS l(layer_id, key, by_category)
),
hits AS (
  SELECT u.id AS unit_id, p.key, p.feature_id IS NOT NULL AS single, u.geom AS ug, u.area_m2 AS ua, p.geom AS pg, p.area_m2 AS pa
  FROM units u
  JOIN run_piece p ON p.run_id = $1 AND p.geom && u.geom
  WHERE ST_Intersects(u.geom, p.geom)
  UNION ALL
  SELECT u.id, CASE WHEN l.by_category THEN l.key || coalesce(f.category, '') ELSE l.key END, true,
         u.geom, u.area_m2, f.geom, f.area_m2
  FROM inplace l
  JOIN units u ON true
  JOIN feature f ON f.layer_id = l.layer_id AND f.geom && u.geom
  WHERE ST_Intersects(u.geom, f.geom)
    AND NOT EXISTS (SELECT 1 FROM run_member m WHERE m.run_id = $1 AND m.feature_id = f.id AND left(m.key, length(l.key)) = l.key)
),
measured AS (
  SELECT unit_id, key, single,
         CASE WHEN ST_Covers(ug, pg) THEN pa
              WHEN pg ~ ug AND ST_Covers(pg, ug) THEN ua
              ELSE ST_Area(ST_CollectionExtract(ST_Intersection(ug, pg, $3), 3)::geography) END AS area_m2
  FROM hits
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, sum(area_m2), count(*) FILTER (WHERE area_m2 > 0),
         count(*) FILTER (WHERE area_m2 > 0 AND single)
  FROM measured GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
