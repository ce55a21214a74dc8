-- The sink of a unit import (ingest/chunk-store.sql): the chunk's repaired, non-empty units into
-- unit set $1; each keeps its ellipsoidal area on GRS80.
INSERT INTO unit (set_id, code, name, parent_code, attributes, geom, area_m2)
SELECT $1, tags->>'code', tags->>'name', tags->>'parent', attributes, geom, area_m2
FROM fixed
WHERE NOT ST_IsEmpty(geom)
ORDER BY src_index
RETURNING area_m2
