-- Change of a layer between two versions ($2 = from, $3 = to) over the units of set $1.
-- Each version is dissolved per unit; stable = from ∩ to, gained = to − from and
-- lost = from − to are formed on the dissolved features and clipped to the unit last.
-- The two vintages share most edges exactly; overlaying them in floating point needs
-- GEOS's exception-driven fallbacks, which PGlite-PostGIS cannot run (README, Limits),
-- so these overlays use fixed precision: a 1e-9° grid (≈ 0.1 mm), which moves areas by
-- less than perimeter × 0.1 mm. Areas ellipsoidal (GRS80).
WITH units AS (
  SELECT id, code, name, geom FROM unit WHERE set_id = $1
),
dissolved AS (
  SELECT u.id AS unit_id, f.layer_id, ST_UnaryUnion(ST_Collect(f.geom)) AS g
  FROM units u
  JOIN feature f ON f.layer_id IN ($2, $3) AND f.geom && u.geom AND ST_Intersects(u.geom, f.geom)
  GROUP BY u.id, f.layer_id
),
parts AS (
  SELECT u.code, u.name, u.geom AS ug, a.g AS ga, b.g AS gb,
         CASE WHEN a.g IS NOT NULL AND b.g IS NOT NULL THEN ST_Intersection(a.g, b.g, 1e-9) END AS g_stable,
         CASE WHEN b.g IS NULL THEN NULL WHEN a.g IS NULL THEN b.g ELSE ST_Difference(b.g, a.g, 1e-9) END AS g_gained,
         CASE WHEN a.g IS NULL THEN NULL WHEN b.g IS NULL THEN a.g ELSE ST_Difference(a.g, b.g, 1e-9) END AS g_lost
  FROM units u
  LEFT JOIN dissolved a ON a.unit_id = u.id AND a.layer_id = $2
  LEFT JOIN dissolved b ON b.unit_id = u.id AND b.layer_id = $3
)
SELECT p.code AS unit_code, p.name AS unit_name,
       coalesce(ST_Area(ST_CollectionExtract(ST_Intersection(p.ug, p.ga), 3)::geography), 0)::float8 AS from_m2,
       coalesce(ST_Area(ST_CollectionExtract(ST_Intersection(p.ug, p.gb), 3)::geography), 0)::float8 AS to_m2,
       coalesce(ST_Area(ST_CollectionExtract(ST_Intersection(p.ug, p.g_stable), 3)::geography), 0)::float8 AS stable_m2,
       coalesce(ST_Area(ST_CollectionExtract(ST_Intersection(p.ug, p.g_gained), 3)::geography), 0)::float8 AS gained_m2,
       coalesce(ST_Area(ST_CollectionExtract(ST_Intersection(p.ug, p.g_lost), 3)::geography), 0)::float8 AS lost_m2
FROM parts p
ORDER BY p.code
