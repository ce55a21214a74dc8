-- Flood regulation storage of a layer's water bodies per unit: each feature's storage
-- ($3: the feature's attribute holding capacity, or NULL) is shared among the units it
-- lies in by the ellipsoidal area of its part inside each unit.
-- $1 layer id, $2 unit set id, $3 attribute name or NULL
WITH f AS (
  SELECT id, geom, area_m2, CASE WHEN $3::text IS NULL THEN NULL ELSE attributes ->> $3::text END AS capacity
  FROM feature WHERE layer_id = $1
)
SELECT u.id::text AS unit,
       f.id::text AS feature,
       f.area_m2 AS feature_m2,
       ST_Area(geography(ST_Intersection(u.geom, f.geom))) AS inside_m2,
       f.capacity
FROM unit u
JOIN f ON u.geom && f.geom AND ST_Intersects(u.geom, f.geom)
WHERE u.set_id = $2
ORDER BY u.id, f.id
