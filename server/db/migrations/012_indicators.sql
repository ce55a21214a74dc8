-- ecocensus schema v12: non-area indicators per unit (population, EQI, performance score,
-- fiscal gap, damaging-industry output …), imported from tables. Versioned like layers: a
-- name and year identify one current version; --replace retires it and adds a new one.
CREATE TABLE indicator_set (
  id              serial PRIMARY KEY,
  name            text NOT NULL,
  vintage         text NOT NULL,
  unit_set        text NOT NULL,
  unit_set_id     integer NOT NULL,
  source_file     text NOT NULL,
  source_checksum text NOT NULL,
  row_count       integer NOT NULL,
  indicators      jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text,
  retired_at      timestamptz,
  retired_by      text
);
CREATE UNIQUE INDEX indicator_set_current_idx ON indicator_set (name, vintage) WHERE retired_at IS NULL;

CREATE TABLE indicator_value (
  set_id    integer NOT NULL REFERENCES indicator_set(id) ON DELETE CASCADE,
  unit_code text NOT NULL,
  indicator text NOT NULL,
  value     double precision NOT NULL,
  PRIMARY KEY (set_id, unit_code, indicator)
);
