-- Clip staged grid cells (grid_stage) to the units of set $2 and store them in set $1.
-- A cell inside one unit is kept whole; a cell on a boundary becomes its intersection
-- with the dissolved units it touches. The parent code is the unit holding the
-- largest part of the cell. Returns the number of cells stored.
WITH hits AS (
  SELECT c.code, c.geom AS cell, u.code AS parent, u.geom AS ugeom, ST_Covers(u.geom, c.geom) AS covered
  FROM grid_stage c
  JOIN unit u ON u.set_id = $2 AND u.geom && c.geom AND ST_Intersects(u.geom, c.geom)
),
cells AS (
  SELECT code,
         CASE WHEN bool_or(covered) THEN (array_agg(cell))[1]
              ELSE ST_CollectionExtract(ST_Intersection((array_agg(cell))[1], ST_UnaryUnion(ST_Collect(ugeom))), 3) END AS geom,
         CASE WHEN count(*) = 1 THEN (array_agg(parent))[1]
              ELSE (array_agg(parent ORDER BY ST_Area(ST_Intersection(cell, ugeom)) DESC))[1] END AS parent
  FROM hits
  GROUP BY code
),
ins AS (
  INSERT INTO unit (set_id, code, name, parent_code, attributes, geom, area_m2)
  SELECT $1, code, code, parent, '{}'::jsonb, ST_Multi(geom), ST_Area(geom::geography)
  FROM cells
  WHERE NOT ST_IsEmpty(geom) AND ST_Area(geom) > 0
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
