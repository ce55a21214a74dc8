-- The one scan of a layer's features in the tile (CTE t, read by tile-layer.sql): a feature
-- of at least 2 × 2 display pixels on the ground as its props and tile geometry g; a smaller
-- one as its category, area and bounding-box centre m in Web Mercator (g NULL). $1 layer id.
SELECT f.id AS fid, f.category, f.area_m2,
       CASE WHEN f.area_m2 >= 4 * q.px_m2 THEN jsonb_build_object('category', f.category, 'area_m2', f.area_m2) END AS props,
       CASE WHEN f.area_m2 >= 4 * q.px_m2 THEN ST_Simplify(ST_Transform(ST_ClipByBox2D(f.geom, q.eg), 3857), q.tol / 2) END AS g,
       CASE WHEN f.area_m2 < 4 * q.px_m2 THEN ST_Transform(ST_SetSRID(ST_MakePoint((ST_XMin(f.geom) + ST_XMax(f.geom)) / 2,
                                                                                  (ST_YMin(f.geom) + ST_YMax(f.geom)) / 2), 4490), 3857) END AS m
FROM feature f, q
WHERE f.layer_id = $1 AND f.geom && q.eg
  -- only the feature table's zones such features can lie in (migration 018, db/feature-zones.ts)
  AND f.zone BETWEEN (SELECT gk6_zone(ST_XMin(eg) - coalesce((SELECT zone_reach FROM layer WHERE id = $1), 360)) FROM q)
                 AND (SELECT gk6_zone(ST_XMax(eg) + coalesce((SELECT zone_reach FROM layer WHERE id = $1), 360)) FROM q)
