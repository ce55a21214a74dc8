-- The area shared by the features of layer $2 of category $3 and those of layer $4 of
-- category $5 ('' stands for features without one) inside each unit $1: the plain PostGIS
-- way, for the few cells where the in-process measure of a transition declines
-- (cells/measure.ts, cells/transitions.ts). Overlays snap to a grid of $6 degrees.
SELECT u.id::text AS unit_id,
       coalesce(ST_Area(ST_CollectionExtract(ST_Intersection(
         (SELECT ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(u.geom, f.geom, $6), 3)), $6)
          FROM feature f WHERE f.layer_id = $2 AND f.geom && u.geom AND coalesce(f.category, '') = $3),
         (SELECT ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(u.geom, f.geom, $6), 3)), $6)
          FROM feature f WHERE f.layer_id = $4 AND f.geom && u.geom AND coalesce(f.category, '') = $5),
         $6), 3)::geography), 0) AS area_m2
FROM unit u
WHERE u.id = ANY($1::bigint[])
