-- The units of set $1 near a monitoring section at ($2 lon, $3 lat, EPSG:4490): each unit whose
-- polygon lies within $4 metres, with the geodesic distance from the point to its boundary
-- and whether the point is inside it. The section sits on the boundary between the units
-- whose boundary distance is within the tolerance.
WITH p AS (SELECT ST_SetSRID(ST_MakePoint($2, $3), 4490) AS g)
SELECT u.code,
       ST_Distance(ST_Boundary(u.geom)::geography, p.g::geography) AS boundary_m,
       ST_Covers(u.geom, p.g) AS inside
FROM unit u, p
WHERE u.set_id = $1 AND u.geom && ST_Expand(p.g, 0.05) AND ST_DWithin(u.geom::geography, p.g::geography, $4)
ORDER BY boundary_m, u.code
