-- ecocensus schema v3: rasters (table raster_layer: the name raster belongs to PostGIS raster
-- when postgis_raster is installed in the same database) (GeoTIFF files kept on disk, content-addressed by
-- checksum; derived rasters such as NDVI computed on read from their source) and
-- zonal statistics runs.

CREATE TABLE raster_layer (
  id           serial PRIMARY KEY,
  name         text NOT NULL,
  vintage      text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('categorical','continuous')),
  -- file in the raster store (sha256 of its bytes + .tif); for derived rasters the source's
  file         text NOT NULL,
  source_file  text NOT NULL,
  -- sha256 of the file, or of the derivation (source checksum + operation) for derived rasters
  checksum     text NOT NULL,
  crs          text NOT NULL,
  crs_proj4    text NOT NULL,
  width        integer NOT NULL,
  height       integer NOT NULL,
  bands        integer NOT NULL,
  sample_type  text NOT NULL,
  compression  text NOT NULL,
  tiled        boolean NOT NULL,
  block_width  integer NOT NULL,
  block_height integer NOT NULL,
  overviews    jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- GDAL geotransform [x0, dx/col, dx/row, y0, dy/col, dy/row]
  transform    jsonb NOT NULL,
  nodata       double precision,
  legend       jsonb,
  -- per band: valid pixel count, min, max, mean; categorical: pixel count per value
  band_stats   jsonb NOT NULL,
  -- null for a file; {op: 'ndvi', source, red, nir} or {op: 'fvc', source, soil, veg}
  derived      jsonb,
  -- lon/lat (EPSG:4490) box [w, s, e, n]
  extent       jsonb NOT NULL,
  report       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, vintage)
);

ALTER TABLE run DROP CONSTRAINT run_kind_check;
ALTER TABLE run ADD CONSTRAINT run_kind_check CHECK (kind IN ('coverage','change','zonal','zonal_change'));

-- Zonal results: per unit, one row per band, class or class transition (key), with the
-- statistics as JSON. Like run_sum, read only for done runs.
CREATE TABLE run_value (
  run_id  bigint NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  unit_id bigint NOT NULL,
  key     text NOT NULL,
  v       jsonb NOT NULL
);
CREATE INDEX run_value_run_idx ON run_value (run_id);
