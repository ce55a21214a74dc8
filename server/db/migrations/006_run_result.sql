-- ecocensus schema v6: the results of a zonal run as one JSON document of
-- [unit id, key, value] entries instead of one jsonb row per unit and key. With 10⁴ units,
-- inserting and reading those rows took longer than the raster scan itself. Stored
-- uncompressed out of line (EXTERNAL): compressing megabytes of numbers costs more than
-- it saves. Existing zonal results are carried over.
CREATE TABLE run_result (
  run_id  bigint PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
  entries int NOT NULL,
  body    text NOT NULL
);

ALTER TABLE run_result ALTER COLUMN body SET STORAGE EXTERNAL;

INSERT INTO run_result (run_id, entries, body)
  SELECT run_id, count(*), json_agg(json_build_array(unit_id::text, key, v))::text
  FROM run_value GROUP BY run_id;

DROP TABLE run_value;
