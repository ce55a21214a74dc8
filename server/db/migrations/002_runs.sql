-- ecocensus schema v2: statistics runs with their parameters, exact input versions,
-- progress and results, and the engine's work table of disjoint pieces.

-- The engine pages through a layer's features in id order.
CREATE INDEX feature_layer_id_idx ON feature (layer_id, id);

-- One computation. input_key hashes kind + parameters + input versions: a done run with
-- the same key holds the same answer and can be reused.
CREATE TABLE run (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('coverage','change')),
  params      jsonb NOT NULL,
  inputs      jsonb NOT NULL,
  input_key   text NOT NULL,
  status      text NOT NULL CHECK (status IN ('running','done','failed','cancelled')),
  progress    double precision NOT NULL DEFAULT 0,
  stage       text,
  cancel_requested boolean NOT NULL DEFAULT false,
  error       text,
  meta        jsonb,
  row_count   integer,
  created_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  elapsed_ms  double precision
);
CREATE INDEX run_input_key_idx ON run (input_key) WHERE status = 'done';

-- The result: per unit, sums keyed by what they measure. Readers read the sums of done
-- runs only, so a result appears whole or not at all.
CREATE TABLE run_sum (
  run_id   bigint NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  unit_id  bigint NOT NULL,
  key      text NOT NULL,
  area_m2  double precision NOT NULL,
  pieces   integer NOT NULL,
  -- features sharing area with the unit (layer and category keys)
  features integer NOT NULL DEFAULT 0
);
CREATE INDEX run_sum_run_idx ON run_sum (run_id);

-- Pieces of a running computation: polygons that are pairwise disjoint within one key,
-- so that their areas add. Deleted when the run ends.
CREATE TABLE run_piece (
  id       bigserial PRIMARY KEY,
  run_id   bigint NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  key      text NOT NULL,
  step     integer NOT NULL DEFAULT 0,
  -- the feature this piece is, when it is one feature as stored (no overlaps)
  feature_id bigint,
  geom     geometry(Geometry, 4490) NOT NULL,
  area_m2  double precision NOT NULL
);
CREATE INDEX run_piece_key_idx ON run_piece (run_id, key);
CREATE INDEX run_piece_geom_idx ON run_piece USING gist (geom);

-- Features dissolved into a cluster piece, so that feature counts per unit stay exact.
CREATE TABLE run_member (
  run_id     bigint NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  key        text NOT NULL,
  feature_id bigint NOT NULL
);
CREATE INDEX run_member_run_idx ON run_member (run_id, feature_id);
