-- Units of set $1 that reach the tile (CTE q), as (fid, props, g) like tile-layer.sql. $5 is
-- a jsonb object code → statistics of the chosen run (an empty object without one). $6: the
-- region scope of the requesting key as LIKE patterns ('3410%'), NULL for every unit: a unit
-- is in scope when its code or its parent's code begins with a scope prefix.
SELECT u.id AS fid,
       jsonb_strip_nulls(jsonb_build_object('code', u.code, 'name', u.name, 'area_m2', u.area_m2)) || COALESCE($5::jsonb -> u.code, '{}'::jsonb) AS props,
       ST_Simplify(ST_Transform(ST_ClipByBox2D(u.geom, q.eg), 3857), q.tol / 2) AS g
FROM unit u, q
WHERE u.set_id = $1 AND u.geom && q.eg
  AND ($6::text[] IS NULL OR u.code LIKE ANY ($6::text[]) OR u.parent_code LIKE ANY ($6::text[]))
