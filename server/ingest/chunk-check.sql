-- A chunk of a staged import (ingest_chunk, EPSG:4490 from binary COPY), checked once: each
-- invalid geometry is noted in ingest_issue with PostGIS's reason and whether its repair
-- (ST_MakeValid, polygonal parts) is empty. ST_IsValidDetail, unlike ST_IsValid, raises no
-- NOTICE per bad geometry. Returns the src_index of each invalid row (usually none), which
-- chunk-store.sql repairs.
WITH checked AS (
  SELECT src_index, geom, ST_IsValidDetail(geom) AS d FROM ingest_chunk
)
INSERT INTO ingest_issue (src_index, reason, dropped)
SELECT src_index, coalesce((d).reason, 'invalid'), ST_IsEmpty(ST_CollectionExtract(ST_MakeValid(geom), 3))
FROM checked
WHERE NOT (d).valid
RETURNING src_index
