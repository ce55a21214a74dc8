// 洪水调蓄 flood regulation per unit from vector layers (MEE GEP guideline's forms, the
// coefficients configuration): lakes by a regional storage model C = a·A^b (A the lake's
// area in km², C in 10⁴ m³), reservoirs by a share of their capacity attribute, marshes by
// area × retention depth. A water body across units is shared by the area inside each.
import type { Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import { selectLayers, type LayerVersion } from '../catalog/layer-select.ts'
import type { GepConfig } from './config.ts'

const FLOOD_SQL = loadSql(import.meta.url, 'flood.sql')

export type FloodKind = 'lakes' | 'reservoirs' | 'marshes'
export type FloodConfig = NonNullable<GepConfig['items']['flood_regulation']>

/** The layers a flood item reads, resolved to versions (part of the run's inputs). */
export async function floodLayers(db: Queryable, c: FloodConfig): Promise<Partial<Record<FloodKind, LayerVersion>>> {
  const out: Partial<Record<FloodKind, LayerVersion>> = {}
  for (const k of ['lakes', 'reservoirs', 'marshes'] as const) {
    const spec = c[k]?.layer
    if (spec) out[k] = (await selectLayers(db, spec))[0]!
  }
  return out
}

/** Storage m³ per unit id and kind. */
export async function floodStorage(db: Queryable, setId: number, c: FloodConfig, layers: Partial<Record<FloodKind, LayerVersion>>): Promise<Map<string, Partial<Record<FloodKind, number>>>> {
  const out = new Map<string, Partial<Record<FloodKind, number>>>()
  const add = (unit: string, k: FloodKind, v: number) => {
    const e = out.get(unit) ?? out.set(unit, {}).get(unit)!
    e[k] = (e[k] ?? 0) + v
  }
  for (const k of ['lakes', 'reservoirs', 'marshes'] as const) {
    const l = layers[k]
    if (!l) continue
    const field = k === 'reservoirs' ? c.reservoirs!.capacity_field : null
    const rows = await db.query<{ unit: string; feature: string; feature_m2: number; inside_m2: number; capacity: string | null }>(FLOOD_SQL, [l.id, setId, field])
    const bad: string[] = []
    for (const r of rows) {
      const whole = Number(r.feature_m2)
      const share = whole > 0 ? Math.min(1, Number(r.inside_m2) / whole) : 0
      if (k === 'lakes') {
        const { a, b } = c.lakes!
        add(r.unit, k, a * Math.pow(whole / 1e6, b) * 1e4 * share)
      } else if (k === 'reservoirs') {
        const cap = r.capacity === null ? NaN : Number(r.capacity)
        if (!Number.isFinite(cap) || cap < 0) { bad.push(`feature ${r.feature}: ${JSON.stringify(r.capacity)}`); continue }
        add(r.unit, k, cap * (c.reservoirs!.capacity_unit === '10^4 m3' ? 1e4 : 1) * c.reservoirs!.factor * share)
      } else add(r.unit, k, Number(r.inside_m2) * c.marshes!.depth_m)
    }
    if (bad.length) throw new BadInput(`flood regulation: layer ${l.name}@${l.vintage} has no usable capacity in '${field}' for ${bad.length} reservoir(s): ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? ' …' : ''}`)
  }
  return out
}
