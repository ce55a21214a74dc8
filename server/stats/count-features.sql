-- Features of layers $5 touching each unit of set $2 with ids $3..$4, per layer and,
-- for the layers in $6, per category. Stored as run $1's sums with key
-- 'N:<layer id>:' per layer and 'M:<layer id>:<category>' per category (area 0,
-- count in pieces; a missing category is '').
WITH units AS (
  SELECT id, geom FROM unit WHERE set_id = $2 AND id BETWEEN $3 AND $4
),
hits AS (
  SELECT u.id AS unit_id, f.layer_id, f.category
  FROM units u
  JOIN feature f ON f.layer_id = ANY($5::int[]) AND f.geom && u.geom
  WHERE ST_Intersects(u.geom, f.geom)
),
keyed AS (
  SELECT unit_id, 'N:' || layer_id || ':' AS key FROM hits
  UNION ALL
  SELECT unit_id, 'M:' || layer_id || ':' || coalesce(category, '') FROM hits WHERE layer_id = ANY($6::int[])
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces)
  SELECT $1, unit_id, key, 0, count(*) FROM keyed GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
