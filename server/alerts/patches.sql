-- The ground of a unit ($1 unit id) in one layer version ($2) and not in another ($3): lost
-- ground when $2 is the earlier vintage, gained when it is the later. One row per polygon
-- (ST_Dump) of at least $4 m² (ellipsoidal), largest first, at most $5 of them.
-- Overlays on a fixed grid of $6 degrees (GEOS OverlayNG snap-rounding): the floating
-- overlay fails on nearly identical versions (an unchanged patch digitised twice) in the
-- embedded database's GEOS; 1e-10° is ~0.01 mm.
WITH u AS (SELECT geom FROM unit WHERE id = $1),
a AS (SELECT ST_Union(ST_Intersection(f.geom, u.geom, $6), $6) AS g FROM feature f, u WHERE f.layer_id = $2 AND f.geom && u.geom AND ST_Intersects(f.geom, u.geom)),
b AS (SELECT ST_Union(f.geom, $6) AS g FROM feature f, u WHERE f.layer_id = $3 AND f.geom && u.geom AND ST_Intersects(f.geom, u.geom)),
d AS (SELECT (ST_Dump(ST_CollectionExtract(CASE WHEN b.g IS NULL THEN a.g ELSE ST_Difference(a.g, b.g, $6) END, 3))).geom AS g FROM a, b WHERE a.g IS NOT NULL),
m AS (SELECT g, ST_Area(g::geography) AS area_m2 FROM d)
SELECT ST_AsGeoJSON(g, 10) AS gj, area_m2 FROM m WHERE area_m2 >= $4 ORDER BY area_m2 DESC LIMIT $5
