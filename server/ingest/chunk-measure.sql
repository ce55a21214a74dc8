-- The ellipsoidal areas (GRS80) of a chunk of a staged import, measured on a second
-- connection (PostgreSQL) while the import's own connection checks this chunk and stores
-- the one before: the areas are most of the server's work on a chunk. One row of arrays in
-- src_index order. chunk-store.sql measures the rows it repairs itself.
SELECT array_agg(src_index ORDER BY src_index) AS idx,
       array_agg(ST_Area(geom::geography) ORDER BY src_index) AS area
FROM ingest_check
