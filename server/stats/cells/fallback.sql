-- The area of the union of the features of layers $2 (only those of category $3 unless it
-- is null; '' stands for features without one) inside each unit $1, and how many of those
-- features share area with it: the plain PostGIS way, for the few cells the in-process
-- measure declines (a vertex within 1e-12° of a cell edge, see cells/measure.ts).
-- Overlays snap to a grid of $4 degrees, as everywhere in the engine.
SELECT u.id::text AS unit_id,
       coalesce(ST_Area(ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(u.geom, f.geom, $4), 3)), $4)::geography), 0) AS area_m2,
       (count(*) FILTER (WHERE ST_Relate(u.geom, f.geom, '2********')))::int AS features
FROM unit u
JOIN feature f ON f.layer_id = ANY($2::int[]) AND f.geom && u.geom
  AND ($3::text IS NULL OR coalesce(f.category, '') = $3)
WHERE u.id = ANY($1::bigint[])
GROUP BY u.id
