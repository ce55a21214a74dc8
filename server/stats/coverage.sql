-- Coverage of layer versions $2 (int[]) over the units of set $1.
-- Per unit and layer: the features touching the unit are dissolved first (so that
-- overlapping features count once), then intersected with the unit; the area is
-- ellipsoidal on GRS80 via ST_Area(geography). Units a layer misses get 0.
-- (Dissolving features before clipping is also the robust order: unioning the clipped
-- pieces, which share the unit's boundary, has raised GEOS TopologyExceptions.)
WITH units AS (
  SELECT id, code, name, geom, area_m2 FROM unit WHERE set_id = $1
),
layers AS (
  SELECT id, name, vintage FROM layer WHERE id = ANY($2::int[])
),
hits AS (
  SELECT u.id AS unit_id, f.layer_id, f.geom, ST_Covers(f.geom, u.geom) AS covers
  FROM units u
  JOIN feature f ON f.layer_id = ANY($2::int[]) AND f.geom && u.geom AND ST_Intersects(u.geom, f.geom)
),
merged AS (
  SELECT unit_id, layer_id, count(*) AS features, bool_or(covers) AS covers,
         CASE WHEN bool_or(covers) THEN NULL ELSE ST_UnaryUnion(ST_Collect(geom)) END AS g
  FROM hits
  GROUP BY unit_id, layer_id
),
flat AS (
  -- a feature covering the whole unit: the answer is the unit's own area, no clipping
  SELECT m.unit_id, m.layer_id, m.features,
         CASE WHEN m.covers THEN u.area_m2
              ELSE ST_Area(ST_CollectionExtract(ST_Intersection(u.geom, m.g), 3)::geography) END AS area_m2
  FROM merged m
  JOIN units u ON u.id = m.unit_id
)
SELECT u.code AS unit_code, u.name AS unit_name, u.area_m2 AS unit_area_m2,
       l.name AS layer, l.vintage, l.id AS layer_id,
       coalesce(f.area_m2, 0)::float8 AS area_m2,
       coalesce(f.features, 0)::int AS features
FROM units u
CROSS JOIN layers l
LEFT JOIN flat f ON f.unit_id = u.id AND f.layer_id = l.id
ORDER BY u.code, l.name, l.vintage
