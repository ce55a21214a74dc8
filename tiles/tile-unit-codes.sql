-- Codes of the units of set $1 that reach the tile (CTE q), to pick their statistics.
SELECT u.code
FROM unit u, q
WHERE u.set_id = $1 AND u.geom && q.eg
