-- ecocensus schema v9: catalogue versions are immutable, every write is audited, keys may
-- be limited to regions, and the server remembers that it has been keyed.
--
-- A layer, unit set or raster version is never changed or deleted by an import: --replace
-- retires the current version (retired_at) and adds a new one. A run reads its inputs by
-- id, so what it reads cannot change under it; a retired version stays readable for the
-- runs and results that refer to it. Only `ecocensus layers purge` (admin, audited)
-- deletes retired versions. At most one current version per name (and vintage).
ALTER TABLE layer ADD COLUMN created_by text;
ALTER TABLE layer ADD COLUMN retired_at timestamptz;
ALTER TABLE layer ADD COLUMN retired_by text;
ALTER TABLE layer DROP CONSTRAINT layer_name_vintage_key;
CREATE UNIQUE INDEX layer_current_idx ON layer (name, vintage) WHERE retired_at IS NULL;

ALTER TABLE unit_set ADD COLUMN created_by text;
ALTER TABLE unit_set ADD COLUMN retired_at timestamptz;
ALTER TABLE unit_set ADD COLUMN retired_by text;
ALTER TABLE unit_set DROP CONSTRAINT unit_set_name_key;
CREATE UNIQUE INDEX unit_set_current_idx ON unit_set (name) WHERE retired_at IS NULL;

ALTER TABLE raster_layer ADD COLUMN created_by text;
ALTER TABLE raster_layer ADD COLUMN retired_at timestamptz;
ALTER TABLE raster_layer ADD COLUMN retired_by text;
ALTER TABLE raster_layer DROP CONSTRAINT raster_layer_name_vintage_key;
CREATE UNIQUE INDEX raster_layer_current_idx ON raster_layer (name, vintage) WHERE retired_at IS NULL;

ALTER TABLE run ADD COLUMN created_by text;

-- The audit trail: who (key id and name, or cli:<os user>), when, what, with which inputs,
-- and how it ended. Written by the HTTP shell and the CLI, never updated.
CREATE TABLE audit (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  actor     text NOT NULL,
  key_id    integer,
  action    text NOT NULL,
  target    text,
  inputs    jsonb NOT NULL DEFAULT '{}'::jsonb,
  outcome   text NOT NULL,
  status    integer,
  detail    jsonb
);
CREATE INDEX audit_at_idx ON audit (at);
CREATE INDEX audit_actor_idx ON audit (actor, at);

-- Regions a key is limited to: GB/T 2260 code prefixes ('34' a province, '3410' a city,
-- '341024' a county); NULL = everywhere.
ALTER TABLE api_key ADD COLUMN scopes text[];

-- Server-wide switches that outlive keys: 'keyed' is set when the first key is added, so
-- that revoking every key does not reopen the server (fail closed); only `ecocensus keys
-- open` (audited) clears it.
CREATE TABLE server_flag (
  name  text PRIMARY KEY,
  value text NOT NULL,
  set_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO server_flag (name, value) SELECT 'keyed', 'true' WHERE EXISTS (SELECT 1 FROM api_key);
