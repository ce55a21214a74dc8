// The units of a result with geometry, for the file exports that carry it (GeoPackage,
// shapefile): the unit's fields, then the result's per-unit properties (the GeoJSON export's).
import type { Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import type { Exportable } from './export.ts'

const UNITS = loadSql(import.meta.url, 'export-units.sql')

export interface ExportUnit {
  code: string
  /** little-endian WKB of the stored MultiPolygon (CGCS2000 lon/lat) */
  wkb: Uint8Array
  bbox: [number, number, number, number]
  properties: Record<string, number | string | null>
}

export interface ExportColumn { name: string; type: 'REAL' | 'TEXT' }

export async function exportUnits(db: Queryable, x: Exportable): Promise<{ units: ExportUnit[]; columns: ExportColumn[] }> {
  const rows = await db.query<{ code: string; name: string | null; parent_code: string | null; area_m2: number; wkb: Uint8Array; x0: number; y0: number; x1: number; y1: number }>(UNITS, [x.setId])
  const props = x.properties(x.tables[0]!.rows)
  const units: ExportUnit[] = rows.filter((r) => !x.scope || x.scope.has(r.code)).map((r) => ({
    code: r.code,
    wkb: r.wkb instanceof Uint8Array ? r.wkb : new Uint8Array(r.wkb as ArrayBufferLike),
    bbox: [r.x0, r.y0, r.x1, r.y1] as [number, number, number, number],
    properties: { code: r.code, name: r.name, parent_code: r.parent_code, area_m2: Number(r.area_m2), ...(props.get(r.code) ?? {}) },
  }))
  const names: string[] = []
  for (const u of units) for (const k of Object.keys(u.properties)) if (!names.includes(k)) names.push(k)
  const columns = names.map((name) => ({
    name,
    type: units.every((u) => u.properties[name] === null || u.properties[name] === undefined || typeof u.properties[name] === 'number') && !['code', 'name', 'parent_code'].includes(name) ? 'REAL' as const : 'TEXT' as const,
  }))
  return { units, columns }
}

/** The storage CRS's definition (WKT) from PostGIS. */
export async function storageSrsWkt(db: Queryable): Promise<string> {
  const [r] = await db.query<{ srtext: string }>('SELECT srtext FROM spatial_ref_sys WHERE srid = 4490')
  if (!r) throw new Error('spatial_ref_sys has no EPSG:4490')
  return r.srtext
}
