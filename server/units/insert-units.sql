-- Staged administrative units (already repaired) into unit set $1; each keeps its
-- ellipsoidal area on GRS80. Returns the number stored.
WITH ins AS (
  INSERT INTO unit (set_id, code, name, parent_code, attributes, geom, area_m2)
  SELECT $1, tags->>'code', tags->>'name', tags->>'parent', attributes, geom, ST_Area(geom::geography)
  FROM ingest_clean
  WHERE NOT ST_IsEmpty(geom)
  ORDER BY src_index
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
