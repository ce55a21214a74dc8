-- The lon/lat extent of each of the given layer versions ($1 layer ids).
SELECT layer_id AS id, ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
FROM (SELECT layer_id, ST_Extent(geom)::geometry AS e FROM feature WHERE layer_id = ANY ($1::int[]) GROUP BY layer_id) x
