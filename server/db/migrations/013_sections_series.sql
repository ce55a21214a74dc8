-- ecocensus schema v13: monitoring sections (points between an upstream and a downstream
-- unit) and their water-quality series, for cross-boundary watershed compensation
-- (server/watershed). Versioned like layers: a name and vintage identify one current
-- version; --replace retires it. Sections are points: they live apart from the polygon
-- feature table that every area engine reads.
CREATE TABLE section_set (
  id              serial PRIMARY KEY,
  name            text NOT NULL,
  vintage         text NOT NULL,
  source_file     text NOT NULL,
  source_checksum text NOT NULL,
  source_crs      text NOT NULL,
  unit_set        text,
  tolerance_m     double precision,
  section_count   integer NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text,
  retired_at      timestamptz,
  retired_by      text
);
CREATE UNIQUE INDEX section_set_current_idx ON section_set (name, vintage) WHERE retired_at IS NULL;

CREATE TABLE section_point (
  set_id       integer NOT NULL REFERENCES section_set(id) ON DELETE CASCADE,
  code         text NOT NULL,
  name         text,
  river        text,
  upstream     text NOT NULL,
  downstream   text NOT NULL,
  target_class integer NOT NULL CHECK (target_class BETWEEN 1 AND 5),
  water_body   text NOT NULL CHECK (water_body IN ('river', 'lake')),
  derived      text NOT NULL,
  attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
  geom         geometry(Point, 4490) NOT NULL,
  PRIMARY KEY (set_id, code)
);

CREATE TABLE series_set (
  id              serial PRIMARY KEY,
  name            text NOT NULL,
  vintage         text NOT NULL,
  section_set_id  integer NOT NULL REFERENCES section_set(id),
  source_file     text NOT NULL,
  source_checksum text NOT NULL,
  row_count       integer NOT NULL,
  first_at        timestamptz NOT NULL,
  last_at         timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text,
  retired_at      timestamptz,
  retired_by      text
);
CREATE UNIQUE INDEX series_set_current_idx ON series_set (name, vintage) WHERE retired_at IS NULL;

CREATE TABLE series_value (
  set_id       integer NOT NULL REFERENCES series_set(id) ON DELETE CASCADE,
  section_code text NOT NULL,
  at           timestamptz NOT NULL,
  indicator    text NOT NULL,
  value        double precision NOT NULL,
  flow_m3s     double precision,
  PRIMARY KEY (set_id, section_code, at, indicator)
);
