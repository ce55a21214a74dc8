-- Units of set $1 that reach tile $2/$3/$4, as (fid, props, g) like tile-layer.sql. $5 is a
-- jsonb object code → statistics of the chosen run (an empty object without one).
WITH t AS (
  SELECT e, ST_Expand(e, (ST_XMax(e) - ST_XMin(e)) * 64.0 / 4096) AS eb, (ST_XMax(e) - ST_XMin(e)) / 4096 AS res
  FROM (SELECT ST_TileEnvelope($2, $3, $4) AS e) s
), q AS (
  SELECT res, ST_Transform(eb, 4490) AS eg FROM t
)
SELECT u.id AS fid,
       jsonb_strip_nulls(jsonb_build_object('code', u.code, 'name', u.name, 'area_m2', u.area_m2)) || COALESCE($5::jsonb -> u.code, '{}'::jsonb) AS props,
       ST_Simplify(ST_Transform(ST_ClipByBox2D(u.geom, q.eg), 3857), q.res / 2) AS g
FROM unit u, q
WHERE u.set_id = $1 AND u.geom && q.eg
