-- Areas of chosen shape × unit pairs of run $1 that the in-process path declined (a
-- vertex exactly on a cell edge): $2 ids (of run_piece rows, or of features where $5 is
-- true), $3 units, $4 keys, all of one length. PostGIS overlays them (fixed precision $6
-- degrees) and the sums are added to the others.
WITH pairs AS (
  SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::boolean[]) AS x(id, unit_id, key, from_feature)
),
shapes AS (
  SELECT x.unit_id, x.key, p.feature_id IS NOT NULL AS single, p.geom
  FROM pairs x JOIN run_piece p ON NOT x.from_feature AND p.id = x.id AND p.run_id = $1
  UNION ALL
  SELECT x.unit_id, x.key, true, f.geom
  FROM pairs x JOIN feature f ON x.from_feature AND f.id = x.id
),
measured AS (
  SELECT s.unit_id, s.key, s.single, ST_Area(ST_CollectionExtract(ST_Intersection(u.geom, s.geom, $6), 3)::geography) AS area_m2
  FROM shapes s JOIN unit u ON u.id = s.unit_id
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, sum(area_m2), count(*) FILTER (WHERE area_m2 > 0),
         count(*) FILTER (WHERE area_m2 > 0 AND single)
  FROM measured GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
