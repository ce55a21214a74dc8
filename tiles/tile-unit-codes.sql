-- Codes of the units of set $1 that reach tile $2/$3/$4 (to pick their statistics).
SELECT u.code
FROM unit u, (SELECT ST_Transform(ST_Expand(e, (ST_XMax(e) - ST_XMin(e)) * 64.0 / 4096), 4490) AS eg FROM (SELECT ST_TileEnvelope($2, $3, $4) AS e) s) q
WHERE u.set_id = $1 AND u.geom && q.eg
