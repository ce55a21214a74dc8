-- Flattens layer $3 into run $1's pieces: features that overlap nothing are copied with
-- their stored ellipsoidal area (only when $8: otherwise they are measured straight from
-- the feature table, see measure-units.ts); each cluster of overlapping features ($5
-- feature ids, $6 cluster numbers, computed by the caller) is dissolved into one piece,
-- snapping to a grid of $7 degrees.
-- Key: $2 alone, or $2 || category when $4 is true (pieces per category).
-- Singletons keep their feature id; cluster members are listed in run_member so that
-- feature counts per unit stay exact.
WITH members AS (
  SELECT * FROM unnest($5::bigint[], $6::int[]) AS m(feature_id, cluster)
),
src AS (
  SELECT f.id, f.geom, f.area_m2,
         CASE WHEN $4::boolean THEN $2 || coalesce(f.category, '') ELSE $2 END AS key
  FROM feature f
  WHERE f.layer_id = $3
),
pieces AS (
  -- features overlapping nothing: as stored
  SELECT s.key, s.id AS feature_id, s.geom::geometry AS geom, s.area_m2
  FROM src s
  WHERE $8::boolean AND NOT EXISTS (SELECT 1 FROM members m WHERE m.feature_id = s.id)
  UNION ALL
  -- clusters: one dissolved piece each (members of a cluster share a key by construction)
  SELECT d.key, NULL::bigint, d.geom, ST_Area(d.geom::geography)
  FROM (
    SELECT min(s.key) AS key, ST_CollectionExtract(ST_UnaryUnion(ST_Collect(s.geom), $7), 3) AS geom
    FROM src s JOIN members m ON m.feature_id = s.id
    GROUP BY m.cluster
  ) d
),
listed AS (
  INSERT INTO run_member (run_id, key, feature_id)
  SELECT $1, s.key, s.id FROM src s JOIN members m ON m.feature_id = s.id
  RETURNING 1
),
ins AS (
  INSERT INTO run_piece (run_id, key, feature_id, geom, area_m2)
  SELECT $1, key, feature_id, geom, area_m2 FROM pieces WHERE NOT ST_IsEmpty(geom)
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
