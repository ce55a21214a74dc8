-- Features of one layer version that reach the tile (CTE q, tile-envelope.sql), as
-- (fid, props, g), from the one scan of the tile's features (CTE t, tile-layer-scan.sql):
-- clipped to the tile plus its buffer in the stored CRS (so a large polygon is never
-- reprojected whole), then in Web Mercator and simplified to half a tile unit (q.tol / 2).
-- Features smaller than 2 × 2 display pixels on the ground are not drawn one by one (as tile
-- servers of the field reduce tiny polygons, e.g. tippecanoe): those whose bounding-box
-- centre lies in the tile are gathered into squares of 2 × 2 pixels, one per square, with
-- the category holding most of their area there, their summed area (m², whole) and count
-- (`merged`) and the share of the square they cover (`cover`, 0–1 to 0.01). At survey
-- density (~0.5 ha patches) that is zoom 11 and below. Ids of squares lie above 2⁴⁰. A tile
-- over the byte cap is made again with larger pixels and tolerance (q.px, q.tol: vector-tile.ts).
-- docs/tiles.md.
SELECT t.fid, t.props, t.g FROM t WHERE t.g IS NOT NULL
UNION ALL
SELECT (1::bigint << 40) + row_number() OVER (ORDER BY s.cx, s.cy) AS fid,
       jsonb_build_object('category', s.category, 'area_m2', round(s.area_m2), 'merged', s.n,
                          'cover', round(least(1, s.area_m2 / (4 * q.px_m2))::numeric, 2)) AS props,
       ST_MakeEnvelope(s.cx * 2 * q.px, s.cy * 2 * q.px, (s.cx + 1) * 2 * q.px, (s.cy + 1) * 2 * q.px, 3857) AS g
FROM q, (
  SELECT cx, cy, (array_agg(category ORDER BY a DESC, category))[1] AS category, sum(a) AS area_m2, sum(n)::int AS n
  FROM (
    SELECT floor(ST_X(t.m) / (2 * q.px)) AS cx, floor(ST_Y(t.m) / (2 * q.px)) AS cy, t.category,
           sum(t.area_m2) AS a, count(*) AS n
    FROM t, q
    WHERE t.m && q.e AND ST_X(t.m) < ST_XMax(q.e) AND ST_Y(t.m) < ST_YMax(q.e)
    GROUP BY 1, 2, 3
  ) per_category
  GROUP BY cx, cy
) s
