-- The sink of a layer import (chunk-store.sql): the chunk's repaired, non-empty geometries into
-- layer $1, each with its ellipsoidal area (GRS80, the CGCS2000 ellipsoid) kept for reference,
-- in the partition of its box centre's zone (migration 018).
INSERT INTO feature (layer_id, src_index, attributes, category, geom, area_m2, zone)
SELECT $1, src_index, attributes, tags->>'category', geom, area_m2, gk6_zone((ST_XMin(geom) + ST_XMax(geom)) / 2)
FROM fixed
WHERE NOT ST_IsEmpty(geom)
ORDER BY src_index
RETURNING area_m2
