-- Tile $2/$3/$4 (the CTE q that every tile statement starts with): e its Web Mercator
-- envelope, res the size of one tile unit (extent 4096) in metres, eg the envelope plus a
-- 64-unit buffer in the stored CRS (EPSG:4490; a Mercator rectangle is a lon/lat rectangle),
-- px one display pixel (256 to a tile: 16 units) in Mercator metres, and px_m2 that pixel's
-- area on the ground at the tile's middle latitude (Mercator scales lengths by 1/cos φ).
-- __K__ (a constant, vector-tile.ts) coarsens a tile over the byte cap: simplification to
-- tol / 2 (tol = k tile units) and the small-feature pixel k display pixels wide.
SELECT e, res, res * __K__ AS tol, ST_Transform(ST_Expand(e, res * 64), 4490) AS eg, res * 16 * __K__ AS px,
       (res * 16 * __K__ * cos(radians(ST_Y(ST_Transform(ST_Centroid(e), 4490))))) ^ 2 AS px_m2
FROM (SELECT e, (ST_XMax(e) - ST_XMin(e)) / 4096 AS res FROM (SELECT ST_TileEnvelope($2, $3, $4) AS e) s) t
