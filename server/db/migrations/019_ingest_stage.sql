-- An import whose files are staged by worker processes (docs/scale.md, ingest/stage-parts.ts):
-- an import distributed over the workers is a run of kind 'ingest' (progress, cancel, the
-- workers who staged each file, as any distributed run), and each worker stages its file's
-- checked, repaired and measured features here, one part at a time: the part's rows are
-- replaced whole under a lock of (run, part), so a part staged twice (its first worker was
-- presumed dead but finished) is there once. The run's last step moves every part's rows
-- into the layer in one transaction and deletes them; a run that fails leaves none.
ALTER TABLE run DROP CONSTRAINT run_kind_check;
ALTER TABLE run ADD CONSTRAINT run_kind_check CHECK (kind IN ('coverage','change','zonal','zonal_change','gep','compensation','settlement','alerts','ingest'));

CREATE TABLE ingest_stage (
  run_id     bigint NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  part       integer NOT NULL,
  src_index  integer NOT NULL,
  attributes jsonb NOT NULL,
  tags       jsonb NOT NULL,
  geom       geometry NOT NULL,
  area_m2    double precision NOT NULL
);
CREATE INDEX ingest_stage_run_part ON ingest_stage (run_id, part);
