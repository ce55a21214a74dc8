-- Embedded database (its PostGIS has no ST_AsMVT): the tile's features (the CTE f, from one
-- of tile-*.sql) in tile coordinates (0..4096, y down; q the tile, tile-envelope.sql),
-- snapped to the integer grid and made valid by structure (exterior rings minus holes; the
-- default linework method can fill what snapping pinched), as WKB polygons for the JS encoder.
SELECT m.fid::text AS fid, m.props, ST_AsBinary(m.geom) AS wkb
FROM (
  SELECT f.fid, f.props,
         ST_CollectionExtract(ST_MakeValid(ST_SnapToGrid(ST_Affine(f.g, 1 / q.res, 0, 0, -1 / q.res, -ST_XMin(q.e) / q.res, ST_YMax(q.e) / q.res), 1), 'method=structure'), 3) AS geom
  FROM f, q
  OFFSET 0 -- the subquery whole, so the filter does not compute each geometry again
) m
WHERE NOT ST_IsEmpty(m.geom)
ORDER BY m.fid
