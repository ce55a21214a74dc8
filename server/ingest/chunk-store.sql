-- A checked chunk on to the import's sink: the rows whose src_index is in the INVALID
-- parameter (int[]) repaired with ST_MakeValid keeping their polygonal parts, the others
-- as they came, each with its ellipsoidal area (GRS80): measured by chunk-measure.sql on
-- another connection and passed in (the MEASURED variant), or computed here. The sink
-- (ingest-layer.ts, units/import-units.ts) reads `fixed` and returns area_m2 per row
-- stored; this returns their number and total area.
WITH repaired AS (
  SELECT src_index, attributes, tags,
         CASE WHEN src_index = ANY(/*INVALID*/::int[]) THEN ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3)) ELSE geom END AS geom
  FROM ingest_chunk
),
fixed AS (
  /*FIXED*/
),
stored AS (
  /*SINK*/
)
SELECT count(*)::int AS n, coalesce(sum(area_m2), 0)::float8 AS area FROM stored
