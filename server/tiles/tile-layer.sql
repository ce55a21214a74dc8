-- Features of one layer version that reach the tile (CTE q, tile-envelope.sql), as
-- (fid, props, g): clipped to the tile plus its buffer in the stored CRS (so a large polygon
-- is never reprojected whole), then in Web Mercator and simplified to half a tile unit
-- (zoom-dependent). $1 layer id.
SELECT f.id AS fid,
       jsonb_build_object('category', f.category, 'area_m2', f.area_m2) AS props,
       ST_Simplify(ST_Transform(ST_ClipByBox2D(f.geom, q.eg), 3857), q.res / 2) AS g
FROM feature f, q
WHERE f.layer_id = $1 AND f.geom && q.eg
