-- Pairs of features of layer $1 whose interiors overlap (sharing an edge is not
-- overlapping: such neighbours' areas simply add). Each pair once, with both categories
-- so that the caller can tell overlaps inside a category from overlaps across them.
SELECT a.id::text AS a, b.id::text AS b, a.category AS ca, b.category AS cb
FROM feature a
JOIN feature b ON b.layer_id = $1 AND a.geom && b.geom AND a.id < b.id
WHERE a.layer_id = $1
  AND ST_Relate(a.geom, b.geom, '2********')
