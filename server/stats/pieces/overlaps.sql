-- Of the candidate pairs ($1, $2: feature ids) the in-process test could not decide
-- (feature-overlaps.ts: one boundary lying wholly on the other's), those whose interiors
-- overlap, with both categories.
SELECT a.id::text AS a, b.id::text AS b, a.category AS ca, b.category AS cb
FROM unnest($1::bigint[], $2::bigint[]) AS x(a, b)
JOIN feature a ON a.id = x.a
JOIN feature b ON b.id = x.b
WHERE ST_Relate(a.geom, b.geom, '2********')
