-- clip-pairs.sql for features measured in place: areas of the pairs (features $2,
-- units $3, keys $4; same length) the in-process path declined, added to run $1's sums.
WITH pairs AS (
  SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS x(feature_id, unit_id, key)
),
measured AS (
  SELECT x.unit_id, x.key, ST_Area(ST_CollectionExtract(ST_Intersection(u.geom, f.geom, $5), 3)::geography) AS area_m2
  FROM pairs x
  JOIN feature f ON f.id = x.feature_id
  JOIN unit u ON u.id = x.unit_id
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, sum(area_m2), count(*) FILTER (WHERE area_m2 > 0), count(*) FILTER (WHERE area_m2 > 0)
  FROM measured GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
