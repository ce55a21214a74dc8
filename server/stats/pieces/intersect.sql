-- Intersects two sets of run $1's pieces: keys starting with $2 and keys starting
-- with $3. Pieces within each set are disjoint, so the intersections are too. The
-- new key is $4 || (rest of the first key) || U+001F || (rest of the second key).
-- A piece covering the other contributes the other whole, with its known area; only
-- pieces that cross are overlaid (fixed precision $5 degrees).
WITH pairs AS (
  SELECT a.key AS ka, b.key AS kb, a.geom AS ga, b.geom AS gb, a.area_m2 AS aa, b.area_m2 AS ab
  FROM run_piece a
  JOIN run_piece b ON b.run_id = $1 AND left(b.key, length($3)) = $3 AND a.geom && b.geom
  WHERE a.run_id = $1 AND left(a.key, length($2)) = $2
    AND ST_Relate(a.geom, b.geom, '2********')
),
cut AS (
  SELECT $4 || substr(ka, length($2) + 1) || chr(31) || substr(kb, length($3) + 1) AS key,
         CASE WHEN ST_Covers(ga, gb) THEN gb
              WHEN ST_Covers(gb, ga) THEN ga
              ELSE ST_CollectionExtract(ST_Intersection(ga, gb, $5), 3) END AS geom,
         CASE WHEN ST_Covers(ga, gb) THEN ab
              WHEN ST_Covers(gb, ga) THEN aa END AS known
  FROM pairs
),
ins AS (
  INSERT INTO run_piece (run_id, key, geom, area_m2)
  SELECT $1, key, geom, coalesce(known, ST_Area(geom::geography)) FROM cut WHERE NOT ST_IsEmpty(geom)
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
