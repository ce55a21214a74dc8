import type { Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { CURRENT } from './versions.ts'

/** What is loaded: layer versions and unit sets, for the CLI, API and viewer. */
export async function listLayers(db: Queryable) {
  return db.query(
    `SELECT l.id, l.name, l.kind, l.vintage, l.feature_count, l.source_file, l.source_checksum, l.source_crs, l.category_field,
            l.created_at, l.report->'repaired' AS repaired, l.report->'droppedAfterRepair' AS dropped, l.report->'emptyGeometry' AS empty_geometry,
            b.name_zh, b.name_en
     FROM layer l LEFT JOIN layer_label b ON b.name = l.name WHERE l.${CURRENT} ORDER BY l.name, l.vintage`,
  )
}

export async function listUnitSets(db: Queryable) {
  return db.query(
    `SELECT s.id, s.name, s.kind, s.unit_count, s.params, s.source_file, s.source_crs, s.created_at,
            (SELECT sum(area_m2) FROM unit WHERE set_id = s.id)::float8 AS area_m2,
            (SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)]
               FROM (SELECT ST_Extent(geom)::geometry AS e FROM unit WHERE set_id = s.id) x) AS bbox
     FROM unit_set s WHERE s.${CURRENT} ORDER BY s.name`,
  )
}

export async function unitsGeoJson(db: Queryable, setId: number) {
  const rows = await db.query<{ code: string; name: string | null; parent_code: string | null; area_m2: number; gj: string }>(
    'SELECT code, name, parent_code, area_m2, ST_AsGeoJSON(geom, 6) AS gj FROM unit WHERE set_id = $1 ORDER BY code',
    [setId],
  )
  return {
    type: 'FeatureCollection',
    features: rows.map((r) => ({
      type: 'Feature',
      id: r.code,
      properties: { code: r.code, name: r.name, parent_code: r.parent_code, area_m2: Number(r.area_m2) },
      geometry: JSON.parse(r.gj),
    })),
  }
}

const UNIT_LABELS = loadSql(import.meta.url, 'unit-labels.sql')
/** A label point per unit (the centre of its largest inscribed circle) as GeoJSON points, with the circle's radius in degrees. */
export async function unitLabels(db: Queryable, setId: number) {
  const rows = await db.query<{ code: string; name: string | null; x: number; y: number; radius: number }>(UNIT_LABELS, [setId])
  return {
    type: 'FeatureCollection',
    features: rows.map((r) => ({ type: 'Feature', id: r.code, properties: { code: r.code, name: r.name, r: Number(Number(r.radius).toPrecision(4)) }, geometry: { type: 'Point', coordinates: [Number(Number(r.x).toFixed(6)), Number(Number(r.y).toFixed(6))] } })),
  }
}
