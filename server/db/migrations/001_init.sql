-- ecocensus schema v1: versioned layers of polygon features, unit sets, all
-- geometry in CGCS2000 geographic coordinates (EPSG:4490).

-- A layer version: name + vintage identify it; a new vintage never overwrites an old one.
CREATE TABLE layer (
  id              serial PRIMARY KEY,
  name            text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('redline','protected_area','forest','wetland','farmland','grassland','water','other')),
  vintage         text NOT NULL,
  source_file     text NOT NULL,
  source_checksum text NOT NULL,
  source_crs      text NOT NULL,
  category_field  text,
  feature_count   integer NOT NULL,
  report          jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, vintage)
);

CREATE TABLE feature (
  id         bigserial PRIMARY KEY,
  layer_id   integer NOT NULL REFERENCES layer(id) ON DELETE CASCADE,
  src_index  integer NOT NULL,
  attributes jsonb NOT NULL,
  category   text,
  geom       geometry(MultiPolygon, 4490) NOT NULL,
  area_m2    double precision NOT NULL
);
CREATE INDEX feature_layer_idx ON feature (layer_id);
CREATE INDEX feature_geom_idx ON feature USING gist (geom);

-- Administrative unit sets or generated grids.
CREATE TABLE unit_set (
  id              serial PRIMARY KEY,
  name            text NOT NULL UNIQUE,
  kind            text NOT NULL CHECK (kind IN ('admin','grid')),
  params          jsonb NOT NULL,
  source_file     text,
  source_checksum text,
  source_crs      text,
  unit_count      integer NOT NULL,
  report          jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE unit (
  id          bigserial PRIMARY KEY,
  set_id      integer NOT NULL REFERENCES unit_set(id) ON DELETE CASCADE,
  code        text NOT NULL,
  name        text,
  parent_code text,
  attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  geom        geometry(MultiPolygon, 4490) NOT NULL,
  area_m2     double precision NOT NULL,
  UNIQUE (set_id, code)
);
CREATE INDEX unit_set_idx ON unit (set_id);
CREATE INDEX unit_geom_idx ON unit USING gist (geom);
