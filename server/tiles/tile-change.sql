-- Gained and lost area of a layer between two versions ($1 from, $5 to) inside the tile
-- (CTE q), as (fid, props, g): each version's features clipped to the tile and dissolved,
-- then differenced, on a precision grid of a quarter tile unit (robust overlay; finer than
-- what the tile can show). fid 1 = gained, 2 = lost.
WITH p AS (
  SELECT q.*, q.res / 4 / 111320.0 * cos(radians(ST_Y(ST_Centroid(q.eg)))) AS grid FROM q
), a AS (
  SELECT ST_Union(ST_ClipByBox2D(f.geom, q.eg), q.grid) AS g FROM feature f, p q WHERE f.layer_id = $1 AND f.geom && q.eg GROUP BY q.grid
), b AS (
  SELECT ST_Union(ST_ClipByBox2D(f.geom, q.eg), q.grid) AS g FROM feature f, p q WHERE f.layer_id = $5 AND f.geom && q.eg GROUP BY q.grid
), d AS (
  SELECT 1 AS fid, 'gained' AS change, CASE WHEN a.g IS NULL THEN b.g ELSE ST_Difference(b.g, a.g, q.grid) END AS g FROM p q, b LEFT JOIN a ON true
  UNION ALL
  SELECT 2, 'lost', CASE WHEN b.g IS NULL THEN a.g ELSE ST_Difference(a.g, b.g, q.grid) END FROM p q, a LEFT JOIN b ON true
)
SELECT d.fid, jsonb_build_object('change', d.change) AS props, ST_Simplify(ST_Transform(d.g, 3857), q.tol / 2) AS g
FROM d, q
WHERE d.g IS NOT NULL AND NOT ST_IsEmpty(d.g)
