-- One step of building a union of sets as disjoint pieces: adds to key $3 the parts of
-- the pieces whose keys start with $2 that earlier steps (step < $4) do not cover yet.
-- A piece overlapping nothing is added whole; one covered by an earlier piece adds
-- nothing; otherwise its difference with the overlapping earlier pieces is added
-- (fixed precision $5 degrees).
WITH src AS (
  SELECT p.id, p.geom, p.area_m2 FROM run_piece p
  WHERE p.run_id = $1 AND left(p.key, length($2)) = $2
),
nb AS (
  SELECT s.id, bool_or(ST_Covers(u.geom, s.geom)) AS covered, ST_Collect(u.geom) AS ug
  FROM src s
  JOIN run_piece u ON u.run_id = $1 AND u.key = $3 AND u.step < $4 AND u.geom && s.geom
  WHERE ST_Relate(u.geom, s.geom, '2********')
  GROUP BY s.id
),
added AS (
  SELECT s.geom, s.area_m2 AS known
  FROM src s WHERE NOT EXISTS (SELECT 1 FROM nb WHERE nb.id = s.id)
  UNION ALL
  SELECT ST_CollectionExtract(ST_Difference(s.geom, ST_UnaryUnion(nb.ug, $5), $5), 3), NULL
  FROM src s JOIN nb ON nb.id = s.id
  WHERE NOT nb.covered
),
ins AS (
  INSERT INTO run_piece (run_id, key, step, geom, area_m2)
  SELECT $1, $3, $4, geom, coalesce(known, ST_Area(geom::geography)) FROM added WHERE NOT ST_IsEmpty(geom)
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
