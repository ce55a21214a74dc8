// Coverage: per unit, the area of each layer (overlaps inside a layer counted once),
// optionally per category; the overlap of chosen layer pairs; the union of the
// ecological layers counted once ("ecological space", so that no hectare is paid
// twice). Planned as a run over the piece engine (pieces.ts); read back from its sums.
import type { Db, Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { runToEnd, type RunOptions, type RunPlan, type Step } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { compareVintage, selectLayers, type LayerVersion } from '../catalog/layer-select.ts'
import { measureUnits, type MeasureStats } from './pieces/measure-units.ts'
import { flattenLayer, intersectSets, unionStep } from './pieces/pieces.ts'
import { areaUnder, categoryPrefix, layerArea, layerKey, readSums, type UnitSum } from './sums.ts'
import { runUnits, type UnitRow } from '../units/unit-cache.ts'
import { cellCoverage, simpleCells, type CellCoverageStats } from './cells/coverage.ts'

export const AREA_METHOD =
  'ellipsoidal area on GRS80 (CGCS2000), PostGIS ST_Area(geography), of the layer features flattened into disjoint pieces ' +
  '(overlapping features dissolved once), each piece clipped to the unit only where it crosses the unit boundary; overlays snap to 1e-9°'

export const CELL_METHOD =
  'ellipsoidal area on GRS80 (CGCS2000) of the union of the features inside each unit (overlaps counted once), by Green\'s theorem over ' +
  'the union\'s boundary cut at the unit\'s edges, with every vertex in Lambert azimuthal equal-area centred on the unit set (edges within ' +
  '~1e-8 of a unit\'s area of geodesics, as PostGIS ST_Area(geography) measures them); units touched within 1e-12° by a vertex, and units ' +
  'with an edge over 400 m, are measured by PostGIS with overlays snapping to 1e-12°'

/** Layer kinds whose union is the "ecological space" (生态空间) unless --union names the layers. */
export const ECOLOGICAL_KINDS = ['redline', 'protected_area', 'forest', 'wetland', 'grassland', 'water']

export interface CoverageOptions {
  /** `A,B@2020`; default: latest vintage of every layer */
  layers?: string
  /** rows per category for layers ingested with --category-field */
  categories?: boolean
  /** `A+B,C+D`, or `all` for every pair of the chosen layers */
  overlaps?: string
  /** true: union of the chosen layers of ecological kinds; `A,B,C`: union of those */
  union?: boolean | string
}

export interface CoverageRow {
  unit_code: string
  unit_name: string | null
  unit_area_m2: number
  /** 'layer' | 'category' | 'overlap' | 'union' */
  measure: string
  layer: string
  vintage: string
  /** the category for measure 'category', else null */
  category: string | null
  area_m2: number
  /** area_m2 / unit_area_m2, 0..1 */
  share: number
  /** features of the layer (or category) sharing area with the unit; null for overlaps and unions */
  features: number | null
}

type LayerInfo = Pick<LayerVersion, 'id' | 'name' | 'vintage' | 'kind' | 'source_checksum' | 'feature_count'> & { category_field: string | null }

interface CoverageMeta {
  unitSet: { id: number; name: string }
  layers: (LayerInfo & { byCategory: boolean; prefix: string; ownTotal: boolean; overlaps: number; clusters: number; pieces: number; inPlace: boolean })[]
  overlaps: [number, number][]
  union: number[]
  method: string
  measured?: MeasureStats | CellCoverageStats
}

export interface CoverageResult {
  run: RunRecord
  unitSet: string
  layers: LayerInfo[]
  overlaps: string[]
  union: string[]
  method: string
  rows: CoverageRow[]
}

export async function planCoverage(db: Queryable, unitSet: string, o: CoverageOptions = {}): Promise<RunPlan> {
  const set = await unitSetVersion(db, unitSet)
  const layers: LayerInfo[] = await selectLayers(db, o.layers)
  const overlaps = overlapPairs(layers, o.overlaps)
  const union = unionMembers(layers, o.union)
  const meta: CoverageMeta = {
    unitSet: { id: set.id, name: set.name },
    layers: layers.map((l) => ({ ...l, byCategory: Boolean(o.categories && l.category_field), prefix: layerKey(l.id), ownTotal: true, overlaps: 0, clusters: 0, pieces: 0, inPlace: false })),
    overlaps: overlaps.map(([a, b]) => [a.id, b.id]),
    union: union.map((l) => l.id),
    method: AREA_METHOD,
  }
  const params = (engine: string) => ({ unitSet, layers: layers.map((l) => `${l.name}@${l.vintage}`), categories: Boolean(o.categories), overlaps: overlaps.map(([a, b]) => `${a.name}+${b.name}`), union: union.map((l) => l.name), engine })
  const inputs = { unitSet: set, layers: layers.map(({ id, name, vintage, source_checksum, feature_count }) => ({ id, name, vintage, source_checksum, feature_count })) }
  const unitCells = await simpleCells(db, set.id)
  if (unitCells) {
    // grid cells: measured in this process from each set's union boundary (cells/coverage.ts)
    meta.method = CELL_METHOD
    for (const m of meta.layers) if (m.byCategory) m.prefix = categoryPrefix(m.id)
    const features = layers.reduce((s, l) => s + l.feature_count, 0)
    return {
      kind: 'coverage',
      params: params('cells/1'),
      inputs,
      steps: [{
        label: 'measure cells',
        weight: 1 + features / 2000 + set.unit_count / 500,
        run: async (ctx) => {
          meta.measured = await cellCoverage(ctx, {
            setId: set.id,
            layers: meta.layers.map((l) => ({ id: l.id, byCategory: l.byCategory, featureCount: l.feature_count })),
            overlaps: meta.overlaps,
            union: meta.union,
          }, unitCells)
        },
      }],
      meta: meta as unknown as Record<string, unknown>,
    }
  }
  const needsPieces = new Set([...overlaps.flat().map((l) => l.id), ...union.map((l) => l.id)])
  const totalPrefix = (id: number) => { const m = meta.layers.find((l) => l.id === id)!; return m.ownTotal ? layerKey(id) : m.prefix }
  const steps: Step[] = []
  for (const m of meta.layers) {
    steps.push({
      label: `flatten ${m.name}@${m.vintage}`,
      weight: 1 + m.feature_count / 5000,
      // a layer that is only measured leaves its non-overlapping features where they are
      run: async (ctx) => { Object.assign(m, await flattenLayer(ctx, m.id, m.byCategory, needsPieces.has(m.id))) },
    })
  }
  overlaps.forEach(([a, b], i) => steps.push({
    label: `overlap ${a.name} ∩ ${b.name}`,
    weight: 1 + (a.feature_count + b.feature_count) / 10000,
    run: (ctx) => intersectSets(ctx, totalPrefix(a.id), totalPrefix(b.id), `X:${i}:`).then(() => {}),
  }))
  // fewest features first: later steps subtract the (few, large) earlier pieces
  ;[...union].sort((a, b) => a.feature_count - b.feature_count).forEach((l, i) => steps.push({
    label: `union + ${l.name}`,
    weight: 1 + l.feature_count / 5000,
    run: (ctx) => unionStep(ctx, totalPrefix(l.id), 'U:', i + 1).then(() => {}),
  }))
  const pieceWeight = layers.reduce((s, l) => s + l.feature_count, 0) / 2000
  steps.push({
    label: 'measure units',
    weight: 2 + pieceWeight + (set.unit_count / 500),
    run: async (ctx) => {
      const inPlace = meta.layers.filter((l) => l.inPlace).map((l) => ({ layerId: l.id, key: l.byCategory ? categoryPrefix(l.id) : layerKey(l.id), byCategory: l.byCategory }))
      meta.measured = await measureUnits(ctx, set.id, inPlace)
    },
  })
  return {
    kind: 'coverage',
    params: params('pieces/1'),
    inputs,
    steps,
    meta: meta as unknown as Record<string, unknown>,
  }
}

function findChosen(layers: LayerInfo[], name: string, what: string): LayerInfo {
  const [n, v] = name.trim().split('@')
  const hit = layers.find((l) => l.name === n && (!v || l.vintage === v))
  if (!hit) throw new BadInput(`${what} '${name}' is not among the chosen layers (${layers.map((l) => `${l.name}@${l.vintage}`).join(', ') || 'none'}); add it to --layers`)
  return hit
}

function overlapPairs(layers: LayerInfo[], spec?: string): [LayerInfo, LayerInfo][] {
  if (!spec?.trim()) return []
  if (spec.trim() === 'all') return layers.flatMap((a, i) => layers.slice(i + 1).map((b) => [a, b] as [LayerInfo, LayerInfo]))
  return spec.split(',').filter((s) => s.trim()).map((pair) => {
    const parts = pair.split('+')
    if (parts.length !== 2 || !parts[0]!.trim() || !parts[1]!.trim()) throw new BadInput(`--overlaps '${pair}': write A+B (two layer names), or 'all'`)
    const a = findChosen(layers, parts[0]!, '--overlaps layer')
    const b = findChosen(layers, parts[1]!, '--overlaps layer')
    if (a.id === b.id) throw new BadInput(`--overlaps '${pair}': a layer's overlap with itself is its coverage`)
    return [a, b]
  })
}

function unionMembers(layers: LayerInfo[], spec?: boolean | string): LayerInfo[] {
  if (!spec) return []
  // true: the latest chosen vintage of each ecological layer — one year's ecological space,
  // the same the ecological_space factor measures; a union across vintages of one layer is
  // no figure anybody pays on (name the versions to get it: --union A@2020,A@2023)
  const members = spec === true || spec === 'true'
    ? latestOfEach(layers.filter((l) => ECOLOGICAL_KINDS.includes(l.kind)))
    : String(spec).split(',').filter((s) => s.trim()).map((n) => findChosen(layers, n, '--union layer'))
  if (!members.length) throw new BadInput(`--union: none of the chosen layers is of an ecological kind (${ECOLOGICAL_KINDS.join(', ')}); name the layers: --union A,B`)
  return [...new Map(members.map((l) => [l.id, l])).values()]
}

function latestOfEach(layers: LayerInfo[]): LayerInfo[] {
  const latest = new Map<string, LayerInfo>()
  for (const l of layers) {
    const prev = latest.get(l.name)
    if (!prev || compareVintage(l.vintage, prev.vintage) > 0) latest.set(l.name, l)
  }
  return layers.filter((l) => latest.get(l.name) === l)
}

/** Computes coverage as a run (reusing an identical earlier one unless opts.reuse is false). */
export async function coverage(db: Db, unitSet: string, layersOrOptions?: string | CoverageOptions, opts: RunOptions = {}): Promise<CoverageResult> {
  const o = typeof layersOrOptions === 'string' ? { layers: layersOrOptions } : layersOrOptions ?? {}
  const run = await runToEnd(db, await planCoverage(db, unitSet, o), opts)
  return readCoverage(db, run)
}

export type { UnitRow }


/** Rows of a done coverage run. */
export async function readCoverage(db: Queryable, run: RunRecord): Promise<CoverageResult> {
  const meta = run.meta as unknown as CoverageMeta
  const units = await runUnits(db, run.id, meta.unitSet.id, meta.unitSet.name)
  const sums = await readSums(db, run.id)
  const byId = new Map(meta.layers.map((l) => [l.id, l]))
  const label = (id: number) => `${byId.get(id)!.name}`
  const rows: CoverageRow[] = []
  const none = new Map<string, UnitSum>()
  let u: UnitRow
  const push = (measure: string, layer: string, vintage: string, category: string | null, area: number, features: number | null) => {
    rows.push({ unit_code: u.code, unit_name: u.name, unit_area_m2: u.area_m2, measure, layer, vintage, category, area_m2: area, share: shareOf(area, u.area_m2), features })
  }
  for (u of units) {
    const s = sums.get(u.id) ?? none
    for (const l of meta.layers) {
      const cats = l.byCategory ? categoriesIn(s, categoryPrefix(l.id)) : []
      const total = layerArea(s, l)
      const count = l.ownTotal ? (s.get(layerKey(l.id))?.features ?? 0) : cats.reduce((t, c) => t + c.features, 0)
      push('layer', l.name, l.vintage, null, total, count)
      for (const c of cats) push('category', l.name, l.vintage, c.category, c.area, c.features)
    }
    meta.overlaps.forEach(([a, b], i) => {
      const area = areaUnder(s, `X:${i}:`)
      const va = byId.get(a)!.vintage
      const vb = byId.get(b)!.vintage
      push('overlap', `${label(a)}∩${label(b)}`, va === vb ? va : `${va}∩${vb}`, null, area, null)
    })
    if (meta.union.length) push('union', 'ecological_space', meta.union.map((id) => `${label(id)}@${byId.get(id)!.vintage}`).join('∪'), null, s.get('U:')?.area_m2 ?? 0, null)
  }
  return {
    run,
    unitSet: meta.unitSet.name,
    layers: meta.layers.map(({ id, name, vintage, kind, source_checksum, feature_count, category_field }) => ({ id, name, vintage, kind, source_checksum, feature_count, category_field })),
    overlaps: meta.overlaps.map(([a, b]) => `${label(a)}∩${label(b)}`),
    union: meta.union.map(label),
    method: meta.method,
    rows,
  }
}

/** Categories with area in this unit, sorted. */
function categoriesIn(s: Map<string, UnitSum>, prefix: string): { category: string; area: number; features: number }[] {
  const out: { category: string; area: number; features: number }[] = []
  for (const [k, v] of s) if (k.startsWith(prefix) && (v.area_m2 > 0 || v.features > 0)) out.push({ category: k.slice(prefix.length), area: v.area_m2, features: v.features })
  return out.sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0))
}

/** Share in 0..1; a zero-area unit has share 0. Float noise above 1 is clamped. */
export function shareOf(area: number, unitArea: number): number {
  if (!(unitArea > 0)) return 0
  return Math.min(1, Math.max(0, area / unitArea))
}
