-- Measures run $1's pieces inside the units of set $2 with ids $3..$4 and stores one
-- sum per unit and key. Pieces of one key are disjoint, so their areas inside a unit
-- add up to the area of their union inside it. Fast paths first: a piece inside the
-- unit counts its stored area, a piece covering the unit counts the unit's area; only
-- pieces crossing the unit boundary are clipped (fixed precision $5 degrees).
-- Areas are ellipsoidal (GRS80), ST_Area(geography).
WITH units AS (
  SELECT id, geom, area_m2 FROM unit WHERE set_id = $2 AND id BETWEEN $3 AND $4
),
hits AS (
  SELECT u.id AS unit_id, p.key, u.geom AS ug, u.area_m2 AS ua, p.geom AS pg, p.area_m2 AS pa
  FROM units u
  JOIN run_piece p ON p.run_id = $1 AND p.geom && u.geom
  WHERE ST_Intersects(u.geom, p.geom)
),
measured AS (
  SELECT unit_id, key,
         CASE WHEN ST_Covers(ug, pg) THEN pa
              WHEN pg ~ ug AND ST_Covers(pg, ug) THEN ua
              ELSE ST_Area(ST_CollectionExtract(ST_Intersection(ug, pg, $5), 3)::geography) END AS area_m2
  FROM hits
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces)
  SELECT $1, unit_id, key, sum(area_m2), count(*) FROM measured GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
