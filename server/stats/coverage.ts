import type { Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { unitSetId } from '../units/unit-set.ts'
import { selectLayers, type LayerVersion } from './layer-select.ts'

const COVERAGE_SQL = loadSql(import.meta.url, './coverage.sql')

export const AREA_METHOD =
  'ellipsoidal area on GRS80 (CGCS2000) of the per-unit union of layer features intersected with the unit: PostGIS ST_Area(geography)'

export interface CoverageRow {
  unit_code: string
  unit_name: string | null
  unit_area_m2: number
  layer: string
  vintage: string
  area_m2: number
  /** area_m2 / unit_area_m2, 0..1 */
  share: number
  features: number
}

export interface CoverageResult {
  unitSet: string
  layers: Pick<LayerVersion, 'id' | 'name' | 'vintage' | 'kind' | 'source_checksum'>[]
  method: string
  rows: CoverageRow[]
}

export async function coverage(db: Queryable, unitSet: string, layerSpec?: string, signal?: AbortSignal): Promise<CoverageResult> {
  const setId = await unitSetId(db, unitSet)
  const layers = await selectLayers(db, layerSpec)
  const raw = layers.length
    ? await db.query<Omit<CoverageRow, 'share'> & { layer_id: number }>(COVERAGE_SQL, [setId, layers.map((l) => l.id)], { signal })
    : []
  const rows = raw.map(({ layer_id: _id, ...r }) => ({
    ...r,
    unit_area_m2: Number(r.unit_area_m2),
    area_m2: Number(r.area_m2),
    share: shareOf(Number(r.area_m2), Number(r.unit_area_m2)),
  }))
  return {
    unitSet,
    layers: layers.map(({ id, name, vintage, kind, source_checksum }) => ({ id, name, vintage, kind, source_checksum })),
    method: AREA_METHOD,
    rows,
  }
}

/** Share in 0..1; a zero-area unit has share 0. Float noise above 1 is clamped. */
export function shareOf(area: number, unitArea: number): number {
  if (!(unitArea > 0)) return 0
  return Math.min(1, Math.max(0, area / unitArea))
}
