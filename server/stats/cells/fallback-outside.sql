-- The area of the features of layer $2 of category $3 ('' stands for features without
-- one) lying outside every feature of layer $4, inside each unit $1: the plain PostGIS way,
-- for the few cells where the in-process measure declines (cells/transitions.ts). Overlays
-- snap to a grid of $5 degrees.
SELECT u.id::text AS unit_id,
       coalesce(ST_Area(ST_CollectionExtract(ST_Difference(
         (SELECT ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(u.geom, f.geom, $5), 3)), $5)
          FROM feature f WHERE f.layer_id = $2 AND f.geom && u.geom AND coalesce(f.category, '') = $3),
         coalesce((SELECT ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(u.geom, f.geom, $5), 3)), $5)
          FROM feature f WHERE f.layer_id = $4 AND f.geom && u.geom), ST_SetSRID('POLYGON EMPTY'::geometry, 4490)),
         $5), 3)::geography), 0) AS area_m2
FROM unit u
WHERE u.id = ANY($1::bigint[])
