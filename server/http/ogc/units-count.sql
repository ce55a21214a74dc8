-- How many units of a set the query matches ($1 set id, $2..$5 bbox or NULL, $6 codes in scope or NULL).
SELECT count(*)::int AS n
FROM unit u
WHERE u.set_id = $1
  AND ($2::float8 IS NULL OR ST_Intersects(u.geom, ST_MakeEnvelope($2, $3, $4, $5, 4490)))
  AND ($6::text[] IS NULL OR u.code = ANY ($6))
