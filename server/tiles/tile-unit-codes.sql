-- Codes of the units of set $1 that reach the tile (CTE q) and lie in the scope $5 (as in
-- tile-units.sql), to pick their statistics.
SELECT u.code
FROM unit u, q
WHERE u.set_id = $1 AND u.geom && q.eg
  AND ($5::text[] IS NULL OR u.code LIKE ANY ($5::text[]) OR u.parent_code LIKE ANY ($5::text[]))
