// The feature table is partitioned by zone, the 6° Gauss-Krüger zone of each feature's box
// centre (migration 018). A read of a layer's features in a lon/lat box adds this
// condition so that PostgreSQL scans only the partitions such features can lie in: a
// feature meeting the box has its centre at most layer.zone_reach from it. A layer
// without zone_reach (written by hand, not by an import) is read from every partition.
// The arguments are SQL expressions (parameters, settings); the bounds are sub-selects, so
// the planner prunes at execution (EXPLAIN ANALYZE: the other partitions "never executed").

/** `AND zone BETWEEN …` for layer `layer` and a box from `west` to `east` (degrees). */
export function inZones(layer: string, west: string, east: string): string {
  return ` AND zone BETWEEN (SELECT gk6_zone(${west} - coalesce(zone_reach, 360)) FROM layer WHERE id = ${layer})` +
    ` AND (SELECT gk6_zone(${east} + coalesce(zone_reach, 360)) FROM layer WHERE id = ${layer})`
}
