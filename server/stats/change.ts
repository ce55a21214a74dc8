import type { Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import { unitSetId } from '../units/unit-set.ts'
import { selectLayers, type LayerVersion } from './layer-select.ts'
import { AREA_METHOD } from './coverage.ts'

const CHANGE_SQL = loadSql(import.meta.url, './change.sql')

export interface ChangeRow {
  unit_code: string
  unit_name: string | null
  layer: string
  from_vintage: string
  to_vintage: string
  /** area of the layer in the unit at each vintage (closing = opening + gained − lost) */
  from_m2: number
  to_m2: number
  stable_m2: number
  gained_m2: number
  lost_m2: number
  net_m2: number
}

export interface ChangeResult {
  unitSet: string
  from: Pick<LayerVersion, 'id' | 'name' | 'vintage' | 'source_checksum'>
  to: Pick<LayerVersion, 'id' | 'name' | 'vintage' | 'source_checksum'>
  method: string
  rows: ChangeRow[]
}

/** Stable, gained, lost and net area of one layer between two vintages, per unit. */
export async function change(db: Queryable, unitSet: string, layer: string, fromVintage: string, toVintage: string, signal?: AbortSignal): Promise<ChangeResult> {
  if (fromVintage === toVintage) throw new BadInput(`--from and --to are both ${fromVintage}; give two different vintages`)
  const setId = await unitSetId(db, unitSet)
  const [from, to] = await selectLayers(db, `${layer}@${fromVintage},${layer}@${toVintage}`)
  const raw = await db.query<Omit<ChangeRow, 'layer' | 'from_vintage' | 'to_vintage' | 'net_m2'>>(CHANGE_SQL, [setId, from!.id, to!.id], { signal })
  const pick = ({ id, name, vintage, source_checksum }: LayerVersion) => ({ id, name, vintage, source_checksum })
  return {
    unitSet,
    from: pick(from!),
    to: pick(to!),
    method: AREA_METHOD,
    rows: raw.map((r) => ({
      unit_code: r.unit_code,
      unit_name: r.unit_name,
      layer,
      from_vintage: fromVintage,
      to_vintage: toVintage,
      from_m2: Number(r.from_m2),
      to_m2: Number(r.to_m2),
      stable_m2: Number(r.stable_m2),
      gained_m2: Number(r.gained_m2),
      lost_m2: Number(r.lost_m2),
      net_m2: Number(r.gained_m2) - Number(r.lost_m2),
    })),
  }
}
