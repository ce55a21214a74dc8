-- count-members.sql for the pairs (features $2, units $3, keys $4) the in-process count
-- could not decide (a vertex exactly on a cell edge): PostGIS tells whether they share area.
WITH pairs AS (
  SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS x(feature_id, unit_id, key)
),
hits AS (
  SELECT x.unit_id, x.key
  FROM pairs x
  JOIN feature f ON f.id = x.feature_id
  JOIN unit u ON u.id = x.unit_id
  WHERE ST_Relate(u.geom, f.geom, '2********')
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, 0, 0, count(*) FROM hits GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
