-- One page of a layer version's features for OGC API - Features: $1 layer id, $2..$5 the
-- bbox (CRS84 degrees; NULL = all), $6 limit, $7 offset, $8 true = CGCS2000 axis order
-- (latitude, longitude), $9 one feature id or NULL. Ordered by id so pages never overlap.
SELECT f.id, f.attributes, f.category, f.area_m2,
       ST_AsGeoJSON(CASE WHEN $8 THEN ST_FlipCoordinates(f.geom) ELSE f.geom END, 9) AS gj
FROM feature f
WHERE f.layer_id = $1
  AND ($2::float8 IS NULL OR ST_Intersects(f.geom, ST_MakeEnvelope($2, $3, $4, $5, 4490)))
  AND ($9::bigint IS NULL OR f.id = $9)
ORDER BY f.id
LIMIT $6 OFFSET $7
