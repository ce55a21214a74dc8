-- The ground of one unit that any programme covers, cut into faces that each programme's
-- features cover wholly or not at all: every selected feature is clipped to the unit, all
-- their boundaries are noded together (ST_Union of the rings) and polygonized; a face's
-- members are the features covering a point inside it. Every figure of the ledger is a sum
-- of these faces' ellipsoidal areas (ST_Area on geography, GRS80), so exclusive areas,
-- double-counted areas and payees add up exactly.
-- $1 unit id; per programme ($2 index, $3 layer version, $4 categories as a JSON array or
-- null, $5 ownership attribute, $6 its values as a JSON array, $7 payee attribute); $8 the
-- overlay's fixed precision in degrees (stats/sums.ts OVERLAY_GRID).
WITH u AS (
  SELECT geom FROM unit WHERE id = $1
), p AS (
  SELECT * FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS p(prog, layer_id, cats, own_field, owns, payee_field)
), sel AS (
  SELECT p.prog, f.id AS fid, f.category,
         CASE WHEN p.payee_field IS NULL THEN NULL ELSE f.attributes ->> p.payee_field END AS payee,
         ST_CollectionExtract(CASE WHEN ST_CoveredBy(f.geom, u.geom) THEN f.geom ELSE ST_Intersection(f.geom, u.geom, $8) END, 3) AS g
  FROM p CROSS JOIN u
  JOIN feature f ON f.layer_id = p.layer_id AND f.geom && u.geom AND ST_Intersects(f.geom, u.geom)
  WHERE (p.cats IS NULL OR f.category IN (SELECT jsonb_array_elements_text(p.cats::jsonb)))
    AND (p.own_field IS NULL OR f.attributes ->> p.own_field IN (SELECT jsonb_array_elements_text(p.owns::jsonb)))
), kept AS (
  SELECT * FROM sel WHERE NOT ST_IsEmpty(g)
), faces AS (
  SELECT (ST_Dump(ST_Polygonize(b))).geom AS face
  FROM (SELECT ST_UnaryUnion(ST_Collect(ST_Boundary(g)), $8) AS b FROM kept) l
  WHERE b IS NOT NULL
), pts AS MATERIALIZED (
  -- computed once: inlined, the planner would polygonize again for every feature it joins
  SELECT row_number() OVER () AS n, ST_PointOnSurface(face) AS pt, ST_Area(face::geography) AS area FROM faces
)
SELECT pts.n::int AS n, pts.area,
       array_agg(kept.prog ORDER BY kept.prog, kept.fid) AS progs,
       array_agg(kept.fid::text ORDER BY kept.prog, kept.fid) AS fids,
       array_agg(kept.category ORDER BY kept.prog, kept.fid) AS categories,
       array_agg(kept.payee ORDER BY kept.prog, kept.fid) AS payees
FROM pts JOIN kept ON kept.g && pts.pt AND ST_Intersects(kept.g, pts.pt)
GROUP BY pts.n, pts.area
