-- One page of a unit set's units for OGC API - Features: $1 set id, $2..$5 the bbox (CRS84
-- degrees; NULL = all), $6 limit, $7 offset, $8 true = CGCS2000 axis order (latitude,
-- longitude), $9 one unit code or NULL, $10 the codes a key limited to regions may see
-- (NULL = all). Ordered by code so pages never overlap.
SELECT u.code, u.name, u.parent_code, u.attributes, u.area_m2,
       ST_AsGeoJSON(CASE WHEN $8 THEN ST_FlipCoordinates(u.geom) ELSE u.geom END, 9) AS gj
FROM unit u
WHERE u.set_id = $1
  AND ($2::float8 IS NULL OR ST_Intersects(u.geom, ST_MakeEnvelope($2, $3, $4, $5, 4490)))
  AND ($9::text IS NULL OR u.code = $9)
  AND ($10::text[] IS NULL OR u.code = ANY ($10))
ORDER BY u.code
LIMIT $6 OFFSET $7
