-- Parse the staged GeoJSON (already EPSG:4490 lon/lat), record validity, repair what is
-- invalid with ST_MakeValid and keep only its polygonal parts. ST_IsValidDetail, unlike
-- ST_IsValid, raises no NOTICE per bad geometry. Returns the number of rows cleaned.
WITH parsed AS (
  SELECT src_index, attributes, tags, ST_SetSRID(ST_GeomFromGeoJSON(gj), 4490) AS g
  FROM ingest_stage
),
checked AS (
  SELECT src_index, attributes, tags, g, ST_IsValidDetail(g) AS d FROM parsed
),
ins AS (
  INSERT INTO ingest_clean (src_index, attributes, tags, was_valid, reason, geom)
  SELECT src_index, attributes, tags, (d).valid, (d).reason,
         ST_Multi(CASE WHEN (d).valid THEN g ELSE ST_CollectionExtract(ST_MakeValid(g), 3) END)
  FROM checked
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
