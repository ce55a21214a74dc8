-- Move repaired, non-empty geometries of the staged import into layer $1, with each
-- feature's ellipsoidal area (GRS80, the CGCS2000 ellipsoid) kept for reference.
-- Returns the number of features and their total area.
WITH ins AS (
  INSERT INTO feature (layer_id, src_index, attributes, category, geom, area_m2)
  SELECT $1, src_index, attributes, tags->>'category', geom, ST_Area(geom::geography)
  FROM ingest_clean
  WHERE NOT ST_IsEmpty(geom)
  ORDER BY src_index
  RETURNING area_m2
)
SELECT count(*)::int AS n, coalesce(sum(area_m2), 0)::float8 AS area FROM ins
