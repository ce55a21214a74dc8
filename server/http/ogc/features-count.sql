-- How many features of a layer version the query matches ($1 layer id, $2..$5 bbox or NULL).
SELECT count(*)::int AS n
FROM feature f
WHERE f.layer_id = $1
  AND ($2::float8 IS NULL OR ST_Intersects(f.geom, ST_MakeEnvelope($2, $3, $4, $5, 4490)))
