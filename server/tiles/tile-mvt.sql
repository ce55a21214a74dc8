-- PostGIS: the tile's features (the CTE f, from one of tile-*.sql) encoded by ST_AsMVT.
-- q the tile (tile-envelope.sql), __LAYER__ the MVT layer name (a constant). Extent 4096,
-- buffer 64 (as the embedded encoder). OFFSET 0 keeps the subquery whole: pulled up, the
-- planner copies ST_AsMVTGeom into the filter and computes every feature's geometry twice
-- (1.66x on a z8 tile of the sample's farmland, byte-identical).
SELECT ST_AsMVT(m, __LAYER__, 4096, 'geom', 'fid') AS mvt
FROM (
  SELECT f.fid, f.props, ST_AsMVTGeom(f.g, q.e, 4096, 64, true) AS geom FROM f, q
  OFFSET 0
) m
WHERE m.geom IS NOT NULL
