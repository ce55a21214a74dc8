// Change of one layer between two vintages, per unit: stable, gained, lost, net; for
// layers with categories the from→to transition matrix per unit and in total; and the
// SEEA ecosystem-extent account (opening, additions, reductions, closing) per class.
// Planned as a run over the cell engine when the units are simple cells (cells/coverage.ts:
// each vintage, their overlap, per class pair its shared area and per class its ground
// outside the other vintage, cells/transitions.ts), else over the piece engine (pieces.ts).
import type { Db, Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { runToEnd, type RunOptions, type RunPlan } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { AREA_METHOD, CELL_METHOD } from './coverage.ts'
import { runUnits } from '../units/unit-cache.ts'
import { cellCoverage, simpleCells } from './cells/coverage.ts'
import { selectLayers, type LayerVersion } from '../catalog/layer-select.ts'
import { measureUnits } from './pieces/measure-units.ts'
import { flattenLayer, intersectSets } from './pieces/pieces.ts'
import { areasByRest, areaUnder, categoryPrefix, layerArea, layerKey, readSums, SEP, type UnitSum } from './sums.ts'
import { extentAccount, fromTo, type Transition } from './transitions.ts'

export interface ChangeRow {
  unit_code: string
  unit_name: string | null
  layer: string
  from_vintage: string
  to_vintage: string
  /** area of the layer in the unit at each vintage (to = from + gained − lost) */
  from_m2: number
  to_m2: number
  stable_m2: number
  gained_m2: number
  lost_m2: number
  net_m2: number
}

export interface TransitionRow {
  unit_code: string
  unit_name: string | null
  layer: string
  from_vintage: string
  to_vintage: string
  /** null: outside the layer at that vintage */
  from_class: string | null
  to_class: string | null
  area_m2: number
}

export interface AccountRow {
  unit_code: string
  unit_name: string | null
  layer: string
  from_vintage: string
  to_vintage: string
  /** '*' for the layer as a whole, else a category */
  class: string
  opening_m2: number
  additions_m2: number
  reductions_m2: number
  net_change_m2: number
  closing_m2: number
}

type Version = Pick<LayerVersion, 'id' | 'name' | 'vintage' | 'source_checksum' | 'feature_count'>

interface ChangeMeta {
  unitSet: { id: number; name: string }
  from: Version & { prefix: string; ownTotal: boolean }
  to: Version & { prefix: string; ownTotal: boolean }
  byCategory: boolean
  /** whether stable area was measured from whole-layer pieces (categories overlap) */
  ownStable: boolean
  /** the key of the stable area when not 'S:' or 'T:' (the cell engine's overlap of the vintages) */
  stableKey?: string
  /**
   * How class → none and none → class were measured: 'cells' as each class's area outside
   * the other layer ('TO:' / 'TI:' + class), 'pieces' as each class's overlap with the whole
   * other layer ('TA:' class SEP, 'TB:' SEP class) where that layer's classes overlap;
   * absent (runs stored before): derived from the pairs.
   */
  outside?: 'cells' | 'pieces'
  method: string
  measured?: unknown
}

export interface ChangeResult {
  run: RunRecord
  unitSet: string
  from: Version
  to: Version
  byCategory: boolean
  method: string
  rows: ChangeRow[]
  transitions: TransitionRow[]
  /** the transition matrix summed over all units of the set */
  transitionTotals: Omit<TransitionRow, 'unit_code' | 'unit_name'>[]
  account: AccountRow[]
}

export interface ChangeOptions {
  /** transitions per category: default on when both vintages have categories */
  categories?: boolean
}

export async function planChange(db: Queryable, unitSet: string, layer: string, fromVintage: string, toVintage: string, o: ChangeOptions = {}): Promise<RunPlan> {
  if (fromVintage === toVintage) throw new BadInput(`--from and --to are both ${fromVintage}; give two different vintages`)
  const set = await unitSetVersion(db, unitSet)
  const [from, to] = await selectLayers(db, `${layer}@${fromVintage},${layer}@${toVintage}`)
  const haveCats = Boolean(from!.category_field && to!.category_field)
  if (o.categories && !haveCats) throw new BadInput(`layer '${layer}': transitions need categories at both vintages; ingest them with --category-field`)
  const byCategory = o.categories ?? haveCats
  const meta: ChangeMeta = {
    unitSet: { id: set.id, name: set.name },
    from: { ...pickVersion(from!), prefix: layerKey(from!.id), ownTotal: true },
    to: { ...pickVersion(to!), prefix: layerKey(to!.id), ownTotal: true },
    byCategory,
    ownStable: !byCategory,
    method: AREA_METHOD,
  }
  const inputs = { unitSet: set, from: pickVersion(from!), to: pickVersion(to!) }
  const params = (engine: string) => ({ unitSet, layer, from: fromVintage, to: toVintage, categories: byCategory, engine })
  const unitCells = await simpleCells(db, set.id)
  if (unitCells) {
    // grid cells: both vintages, their overlap (stable) and the class pairs' shared areas, in this process
    meta.method = CELL_METHOD
    meta.stableKey = 'X:0:'
    meta.outside = 'cells'
    if (byCategory) for (const v of [meta.from, meta.to]) v.prefix = categoryPrefix(v.id)
    return {
      kind: 'change',
      params: params('cells/2'),
      inputs,
      steps: [{
        label: 'measure cells',
        weight: 1 + (from!.feature_count + to!.feature_count) / 1000 + set.unit_count / 500,
        run: async (ctx) => {
          meta.measured = await cellCoverage(ctx, {
            setId: set.id,
            layers: [{ id: from!.id, byCategory, featureCount: from!.feature_count }, { id: to!.id, byCategory, featureCount: to!.feature_count }],
            overlaps: [[from!.id, to!.id]],
            union: [],
            transitions: byCategory ? [{ a: from!.id, b: to!.id, prefix: 'T:', outOf: 'TO:', into: 'TI:' }] : [],
            counting: false,
          }, unitCells)
        },
      }],
      meta: meta as unknown as Record<string, unknown>,
    }
  }
  const flatten = (v: ChangeMeta['from']) => ({
    label: `flatten ${v.name}@${v.vintage}`,
    weight: 1 + v.feature_count / 5000,
    run: async (ctx: Parameters<typeof flattenLayer>[0]) => {
      const r = await flattenLayer(ctx, v.id, byCategory)
      v.prefix = r.prefix
      v.ownTotal = r.ownTotal
    },
  })
  return {
    kind: 'change',
    params: params('pieces/2'),
    inputs,
    steps: [
      flatten(meta.from),
      flatten(meta.to),
      {
        label: 'overlay vintages',
        weight: 1 + (from!.feature_count + to!.feature_count) / 5000,
        run: async (ctx) => {
          if (byCategory) await intersectSets(ctx, meta.from.prefix, meta.to.prefix, 'T:')
          // pieces of different categories overlap: the sum of transitions would count
          // that twice, so measure the stable area on the whole-layer pieces
          meta.ownStable = !byCategory || meta.from.ownTotal || meta.to.ownTotal
          if (meta.ownStable) await intersectSets(ctx, layerKey(meta.from.id), layerKey(meta.to.id), 'S:')
          if (byCategory) {
            // each class's overlap with the whole other layer, where that layer's classes
            // overlap (else the sum of the class's pairs is that overlap)
            if (meta.to.ownTotal) await intersectSets(ctx, meta.from.prefix, layerKey(meta.to.id), 'TA:')
            if (meta.from.ownTotal) await intersectSets(ctx, layerKey(meta.from.id), meta.to.prefix, 'TB:')
            meta.outside = 'pieces'
          }
        },
      },
      {
        label: 'measure units',
        weight: 2 + (from!.feature_count + to!.feature_count) / 2000 + set.unit_count / 500,
        run: async (ctx) => { await measureUnits(ctx, set.id) },
      },
    ],
    meta: meta as unknown as Record<string, unknown>,
  }
}

export async function change(db: Db, unitSet: string, layer: string, fromVintage: string, toVintage: string, o: ChangeOptions & RunOptions = {}): Promise<ChangeResult> {
  const run = await runToEnd(db, await planChange(db, unitSet, layer, fromVintage, toVintage, o), o)
  return readChange(db, run)
}

export async function readChange(db: Queryable, run: RunRecord): Promise<ChangeResult> {
  const meta = run.meta as unknown as ChangeMeta
  const units = await runUnits(db, run.id, meta.unitSet.id, meta.unitSet.name)
  const sums = await readSums(db, run.id)
  const layer = meta.from.name
  const common = { layer, from_vintage: meta.from.vintage, to_vintage: meta.to.vintage }
  const rows: ChangeRow[] = []
  const transitions: TransitionRow[] = []
  const account: AccountRow[] = []
  const totals = new Map<string, Transition>()
  for (const u of units) {
    const s = sums.get(u.id) ?? new Map<string, UnitSum>()
    const fromTotal = layerArea(s, meta.from)
    const toTotal = layerArea(s, meta.to)
    const scale = Math.max(fromTotal, toTotal)
    // the figures are derived from each other so that they add up as printed: stable is the
    // overlay's shared area held within both vintages' areas (the overlays' snapping can put
    // it a hair above either), gained and lost are what each vintage has beyond it
    const stable = Math.min(Math.max(0, areaUnder(s, meta.stableKey ?? (meta.ownStable ? 'S:' : 'T:'))), fromTotal, toTotal)
    const gained = toTotal - stable
    const lost = fromTotal - stable
    // rows written out field by field: object spread in this loop took ~30 µs a unit
    const { code: unit_code, name: unit_name } = u
    const { from_vintage, to_vintage } = common
    rows.push({ unit_code, unit_name, layer, from_vintage, to_vintage, from_m2: fromTotal, to_m2: toTotal, stable_m2: stable, gained_m2: gained, lost_m2: lost, net_m2: gained - lost })
    account.push({ unit_code, unit_name, layer, from_vintage, to_vintage, class: '*', opening_m2: fromTotal, additions_m2: gained, reductions_m2: lost, net_change_m2: gained - lost, closing_m2: toTotal })
    if (!meta.byCategory) continue
    const pairs = [...areasByRest(s, 'T:')].map(([k, area]) => {
      const [f, t] = k.split(SEP) as [string, string]
      return { from: f, to: t, area }
    })
    const fromArea = areasByRest(s, meta.from.prefix), toArea = areasByRest(s, meta.to.prefix)
    const matrix = fromTo(fromArea, toArea, pairs, scale, outsideAreas(meta, s, fromArea, toArea, pairs))
    for (const t of matrix) {
      transitions.push({ unit_code, unit_name, layer, from_vintage, to_vintage, from_class: t.from, to_class: t.to, area_m2: t.area })
      const key = `${t.from ?? ''}${SEP}${t.to ?? ''}`
      const prev = totals.get(key)
      if (prev) prev.area += t.area
      else totals.set(key, { from: t.from, to: t.to, area: t.area })
    }
    for (const a of extentAccount(matrix, meta.outside ? fromArea : undefined, meta.outside ? toArea : undefined)) {
      account.push({ unit_code, unit_name, layer, from_vintage, to_vintage, class: a.class, opening_m2: a.opening, additions_m2: a.additions, reductions_m2: a.reductions, net_change_m2: a.additions - a.reductions, closing_m2: a.closing })
    }
  }
  return {
    run,
    unitSet: meta.unitSet.name,
    from: pickVersion(meta.from),
    to: pickVersion(meta.to),
    byCategory: meta.byCategory,
    method: meta.method,
    rows,
    transitions,
    transitionTotals: [...totals.values()].map((t) => ({ ...common, from_class: t.from, to_class: t.to, area_m2: t.area })),
    account,
  }
}

/** Per class, its area outside the other vintage's layer, as the run measured it (ChangeMeta.outside); undefined for runs stored before. */
function outsideAreas(meta: ChangeMeta, s: Map<string, UnitSum>, fromArea: Map<string, number>, toArea: Map<string, number>, pairs: Transition[]) {
  if (meta.outside === 'cells') return { outOf: areasByRest(s, 'TO:'), into: areasByRest(s, 'TI:') }
  if (meta.outside !== 'pieces') return undefined
  // the class area less its overlap with the other layer: measured whole where that layer's
  // classes overlap, else the sum of the class's pairs
  const overlapOf = (prefix: string, own: boolean, side: 'from' | 'to') => {
    const m = new Map<string, number>()
    if (own) for (const [k, a] of areasByRest(s, prefix)) { const c = k.split(SEP)[side === 'from' ? 0 : 1]!; m.set(c, (m.get(c) ?? 0) + a) }
    else for (const p of pairs) { const c = (side === 'from' ? p.from : p.to)!; m.set(c, (m.get(c) ?? 0) + p.area) }
    return m
  }
  const withA = overlapOf('TA:', meta.to.ownTotal, 'from'), withB = overlapOf('TB:', meta.from.ownTotal, 'to')
  const less = (area: Map<string, number>, overlap: Map<string, number>) => new Map([...area].map(([c, a]) => [c, Math.max(0, a - (overlap.get(c) ?? 0))]))
  return { outOf: less(fromArea, withA), into: less(toArea, withB) }
}

const pickVersion = ({ id, name, vintage, source_checksum, feature_count }: Version): Version => ({ id, name, vintage, source_checksum, feature_count })
