-- ecocensus schema v8: each feature's lon/lat box kept as numbers beside its geometry.
-- The cell engine reads boxes and stored areas first and the geometry only of features
-- that do not lie inside one cell (server/stats/cells/layer-split.ts); computed from the
-- geometry once, at insert, they cost nothing per run (ST_XMin & co. deserialise the
-- geometry: ~1.5 µs a feature, more than reading it).
ALTER TABLE feature
  ADD COLUMN box_x0 double precision GENERATED ALWAYS AS (ST_XMin(geom)) STORED,
  ADD COLUMN box_y0 double precision GENERATED ALWAYS AS (ST_YMin(geom)) STORED,
  ADD COLUMN box_x1 double precision GENERATED ALWAYS AS (ST_XMax(geom)) STORED,
  ADD COLUMN box_y1 double precision GENERATED ALWAYS AS (ST_YMax(geom)) STORED;
