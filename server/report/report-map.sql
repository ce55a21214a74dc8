-- The report's map of one unit ($1 set id, $2 code), in Web Mercator metres from the unit's
-- lower-left corner, as SVG path data (ST_AsSVG, absolute, y down): the unit's outline, then
-- the features of the layer versions $3 (ids) that reach it, clipped to a box around the
-- unit and simplified to $4 of its size. Small coordinates keep the drawing exact in
-- single-precision renderers; the drawing clips the features to the outline (clipPath).
WITH u AS (
  SELECT ST_Transform(geom, 3857) AS g, ST_Expand(geom::box2d, 0.01) AS near FROM unit WHERE set_id = $1 AND code = $2
), s AS (
  SELECT g, ST_XMin(g) AS x0, ST_YMin(g) AS y0, ST_XMax(g) AS x1, ST_YMax(g) AS y1, near,
         greatest(ST_XMax(g) - ST_XMin(g), ST_YMax(g) - ST_YMin(g)) * $4::float8 AS tol
  FROM u
)
SELECT 'unit' AS what, NULL::integer AS layer_id, ST_AsSVG(ST_Translate(ST_SimplifyPreserveTopology(s.g, s.tol), -s.x0, -s.y0), 0, 1) AS d,
       0::float8 AS x0, 0::float8 AS y0, s.x1 - s.x0 AS x1, s.y1 - s.y0 AS y1, (s.y0 + s.y1) / 2 AS ymid
FROM s
UNION ALL
SELECT 'layer', f.layer_id, ST_AsSVG(ST_Translate(ST_Simplify(ST_Transform(ST_ClipByBox2D(f.geom, s.near), 3857), s.tol, true), -s.x0, -s.y0), 0, 1), NULL, NULL, NULL, NULL, NULL
FROM s JOIN feature f ON f.geom && s.near
WHERE f.layer_id = ANY ($3::integer[])
