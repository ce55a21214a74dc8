-- Features of run $1's dissolved clusters sharing area with each of the units $2 (ids),
-- per key; added to the counts of single-feature pieces when sums are read.
WITH units AS (
  SELECT id, geom FROM unit WHERE id = ANY($2::bigint[])
),
hits AS (
  SELECT u.id AS unit_id, m.key
  FROM run_member m
  JOIN feature f ON f.id = m.feature_id
  JOIN units u ON f.geom && u.geom
  -- cheap prepared-geometry tests first (the feature repeats across units); the full
  -- relate only for features crossing the unit boundary
  WHERE m.run_id = $1 AND ST_Intersects(f.geom, u.geom)
    AND (ST_Covers(f.geom, u.geom) OR ST_Relate(u.geom, f.geom, '2********'))
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, 0, 0, count(*) FROM hits GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
