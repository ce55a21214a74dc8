-- Embedded database (its PostGIS has no ST_AsMVT): the tile's features (the CTE f, from one
-- of tile-*.sql) in tile coordinates (0..4096, y down), snapped to the integer grid and made
-- valid by structure (exterior rings minus holes; the default linework method can fill what
-- snapping pinched), as WKB polygons for the JS encoder. $2/$3/$4 tile.
SELECT m.fid::text AS fid, m.props, ST_AsBinary(m.geom) AS wkb
FROM (
  SELECT f.fid, f.props,
         ST_CollectionExtract(ST_MakeValid(ST_SnapToGrid(ST_Affine(f.g, s.k, 0, 0, -s.k, -ST_XMin(s.e) * s.k, ST_YMax(s.e) * s.k), 1), 'method=structure'), 3) AS geom
  FROM f, (SELECT e, 4096 / (ST_XMax(e) - ST_XMin(e)) AS k FROM (SELECT ST_TileEnvelope($2, $3, $4) AS e) t) s
) m
WHERE NOT ST_IsEmpty(m.geom)
ORDER BY m.fid
