-- Measures run $1's pieces inside the units $2 (ids) and stores one sum per unit and
-- key. Pieces of one key are disjoint, so their areas inside a unit add up to the area
-- of their union inside it. Fast paths first: a piece inside the unit counts its stored
-- area, a piece covering the unit counts the unit's area; only pieces crossing the unit
-- boundary are clipped (fixed precision $3 degrees). Areas are ellipsoidal (GRS80),
-- ST_Area(geography). `features` counts single-feature pieces with area in the unit;
-- members of dissolved clusters are counted by count-members.sql.
-- (grid-measure.ts does the same for convex units in JavaScript; this is the path for
-- all other units.)
WITH units AS (
  SELECT id, geom, area_m2 FROM unit WHERE id = ANY($2::bigint[])
),
hits AS (
  SELECT u.id AS unit_id, p.key, p.feature_id, u.geom AS ug, u.area_m2 AS ua, p.geom AS pg, p.area_m2 AS pa
  FROM units u
  JOIN run_piece p ON p.run_id = $1 AND p.geom && u.geom
  WHERE ST_Intersects(u.geom, p.geom)
),
measured AS (
  SELECT unit_id, key, feature_id,
         CASE WHEN ST_Covers(ug, pg) THEN pa
              WHEN pg ~ ug AND ST_Covers(pg, ug) THEN ua
              ELSE ST_Area(ST_CollectionExtract(ST_Intersection(ug, pg, $3), 3)::geography) END AS area_m2
  FROM hits
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, sum(area_m2), count(*) FILTER (WHERE area_m2 > 0),
         count(*) FILTER (WHERE area_m2 > 0 AND feature_id IS NOT NULL)
  FROM measured GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
