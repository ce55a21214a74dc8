-- The units of a set with their geometry exactly as stored (little-endian WKB, CGCS2000)
-- and its box, for the GeoPackage and shapefile exports ($1 set id).
SELECT code, name, parent_code, area_m2, ST_AsBinary(geom, 'NDR') AS wkb,
       ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1, ST_YMax(geom) AS y1
FROM unit WHERE set_id = $1 ORDER BY code
