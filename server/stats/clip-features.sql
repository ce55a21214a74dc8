-- clip-sums.sql for the features of layer $3 measured in place (they overlap nothing, so
-- they are pieces as stored; members of run $1's dissolved clusters under these keys are skipped): their
-- areas inside the units $2 (ids), keyed $4, or $4 || category when $5.
WITH units AS (
  SELECT id, geom, area_m2 FROM unit WHERE id = ANY($2::bigint[])
),
hits AS (
  SELECT u.id AS unit_id, CASE WHEN $5::boolean THEN $4 || coalesce(f.category, '') ELSE $4 END AS key,
         u.geom AS ug, u.area_m2 AS ua, f.geom AS pg, f.area_m2 AS pa
  FROM units u
  JOIN feature f ON f.layer_id = $3 AND f.geom && u.geom
  WHERE ST_Intersects(u.geom, f.geom)
    AND NOT EXISTS (SELECT 1 FROM run_member m WHERE m.run_id = $1 AND m.feature_id = f.id AND left(m.key, length($4)) = $4)
),
measured AS (
  SELECT unit_id, key,
         CASE WHEN ST_Covers(ug, pg) THEN pa
              WHEN pg ~ ug AND ST_Covers(pg, ug) THEN ua
              ELSE ST_Area(ST_CollectionExtract(ST_Intersection(ug, pg, $6), 3)::geography) END AS area_m2
  FROM hits
),
ins AS (
  INSERT INTO run_sum (run_id, unit_id, key, area_m2, pieces, features)
  SELECT $1, unit_id, key, sum(area_m2), count(*) FILTER (WHERE area_m2 > 0), count(*) FILTER (WHERE area_m2 > 0)
  FROM measured GROUP BY unit_id, key
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
