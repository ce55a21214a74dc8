-- The feature table partitioned by a coarse spatial key (docs/scale.md): zone, the 6°
-- Gauss-Krüger zone (CGCS2000: zone n spans 6n−6 … 6n °E, central meridian 6n−3) of the
-- feature's box centre. One partition per zone over China (13 … 23) and a default one for
-- the rest. A province lies in one or two zones, so its features sit in one or two
-- partitions: each partition has its own indexes (built, vacuumed and backed up on its
-- own), and a partition can move to another server as a postgres_fdw foreign table
-- without a change to any query (docs/scale.md). Reads of a box prune to the zones a
-- feature meeting the box can lie in: its centre is at most layer.zone_reach (half the
-- widest feature's box, degrees) from the box.
--
-- No unique index on the parent: PostgreSQL cannot attach a foreign table to a table with
-- one; ids stay unique because one sequence gives them. feature_contact loses its foreign
-- key to feature (a foreign key needs such an index); its rows go with their layer. The
-- key to layer (feature_layer_fk) stays for one server; moving a zone away drops it (a
-- foreign table cannot have one), and a purge deletes a layer's features itself.

CREATE FUNCTION gk6_zone(lon double precision) RETURNS smallint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT (floor(lon / 6) + 1)::smallint';

ALTER TABLE layer ADD COLUMN zone_reach double precision;

ALTER TABLE feature_contact DROP CONSTRAINT IF EXISTS feature_contact_feature_id_fkey;
ALTER TABLE feature RENAME TO feature_unzoned;
ALTER SEQUENCE feature_id_seq OWNED BY NONE;

CREATE TABLE feature (
  id         bigint NOT NULL DEFAULT nextval('feature_id_seq'),
  layer_id   integer NOT NULL CONSTRAINT feature_layer_fk REFERENCES layer(id) ON DELETE CASCADE,
  src_index  integer NOT NULL,
  attributes jsonb NOT NULL,
  category   text,
  geom       geometry(MultiPolygon, 4490) NOT NULL,
  area_m2    double precision NOT NULL,
  box_x0     double precision GENERATED ALWAYS AS (ST_XMin(geom)) STORED,
  box_y0     double precision GENERATED ALWAYS AS (ST_YMin(geom)) STORED,
  box_x1     double precision GENERATED ALWAYS AS (ST_XMax(geom)) STORED,
  box_y1     double precision GENERATED ALWAYS AS (ST_YMax(geom)) STORED,
  zone       smallint NOT NULL
) PARTITION BY RANGE (zone);

CREATE TABLE feature_z13 PARTITION OF feature FOR VALUES FROM (13) TO (14);
CREATE TABLE feature_z14 PARTITION OF feature FOR VALUES FROM (14) TO (15);
CREATE TABLE feature_z15 PARTITION OF feature FOR VALUES FROM (15) TO (16);
CREATE TABLE feature_z16 PARTITION OF feature FOR VALUES FROM (16) TO (17);
CREATE TABLE feature_z17 PARTITION OF feature FOR VALUES FROM (17) TO (18);
CREATE TABLE feature_z18 PARTITION OF feature FOR VALUES FROM (18) TO (19);
CREATE TABLE feature_z19 PARTITION OF feature FOR VALUES FROM (19) TO (20);
CREATE TABLE feature_z20 PARTITION OF feature FOR VALUES FROM (20) TO (21);
CREATE TABLE feature_z21 PARTITION OF feature FOR VALUES FROM (21) TO (22);
CREATE TABLE feature_z22 PARTITION OF feature FOR VALUES FROM (22) TO (23);
CREATE TABLE feature_z23 PARTITION OF feature FOR VALUES FROM (23) TO (24);
CREATE TABLE feature_zother PARTITION OF feature DEFAULT;

INSERT INTO feature (id, layer_id, src_index, attributes, category, geom, area_m2, zone)
SELECT id, layer_id, src_index, attributes, category, geom, area_m2, gk6_zone((box_x0 + box_x1) / 2)
FROM feature_unzoned;
UPDATE layer l SET zone_reach = (SELECT max(box_x1 - box_x0) / 2 FROM feature_unzoned f WHERE f.layer_id = l.id);
DROP TABLE feature_unzoned;
ALTER SEQUENCE feature_id_seq OWNED BY feature.id;

CREATE INDEX feature_id_idx ON feature (id);
CREATE INDEX feature_layer_id_idx ON feature (layer_id, id);
CREATE INDEX feature_geom_idx ON feature USING gist (geom);
ANALYZE feature;
