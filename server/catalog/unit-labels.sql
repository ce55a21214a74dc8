-- A label point per unit of set $1: the centre of its largest inscribed circle (the pole of
-- inaccessibility, as cartographers place area labels), with the circle's radius so a client
-- can drop labels of units too small to hold one.
SELECT code, name, ST_X(c.center) AS x, ST_Y(c.center) AS y, c.radius
FROM unit u, LATERAL ST_MaximumInscribedCircle(u.geom) c
WHERE u.set_id = $1
ORDER BY code
