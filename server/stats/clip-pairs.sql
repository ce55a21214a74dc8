-- Areas of chosen piece × unit pairs (pieces $2, units $3, same length) of run $1, for
-- pairs the JavaScript path declined (a piece vertex exactly on a cell edge): PostGIS
-- overlays them (fixed precision $4 degrees), and the sums are added to the others.
WITH pairs AS (
  SELECT * FROM unnest($2::bigint[], $3::bigint[]) AS x(piece_id, unit_id)
),
measured AS (
  SELECT x.unit_id, p.key, p.feature_id,
         ST_Area(ST_CollectionExtract(ST_Intersection(u.geom, p.geom, $4), 3)::geography) AS area_m2
  FROM pairs x
  JOIN run_piece p ON p.id = x.piece_id AND p.run_id = $1
  JOIN unit u ON u.id = x.unit_id
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, sum(area_m2), count(*) FILTER (WHERE area_m2 > 0),
         count(*) FILTER (WHERE area_m2 > 0 AND feature_id IS NOT NULL)
  FROM measured GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
