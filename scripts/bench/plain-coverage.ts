// Coverage the plain PostGIS way, as an analyst would write it: per unit and layer, each
// feature clipped to the unit (ST_Intersection), the pieces dissolved (ST_Union), the
// ellipsoidal area (geography). $1 the unit set's id, $2 the layers' ids.
export const PLAIN_COVERAGE = `
  SELECT u.code AS unit_code, f.layer_id,
         ST_Area(ST_Union(ST_CollectionExtract(ST_Intersection(u.geom, f.geom), 3))::geography) AS area_m2
  FROM unit u
  JOIN feature f ON f.layer_id = ANY($2::int[]) AND f.geom && u.geom AND ST_Intersects(u.geom, f.geom)
  WHERE u.set_id = $1
  GROUP BY u.code, f.layer_id`
