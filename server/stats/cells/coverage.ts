// Coverage of simple cells (grid cells, clipped or not) computed in this process: per
// unit, the area of the union of each chosen set of features (a layer, one category of
// a layer, two layers for their overlap, the ecological layers for their union) and the
// features sharing area with it. The database is read once per layer and tile and written
// once; nothing is overlaid in it except the rare degenerate cell (cells/fallback.sql).
//
// Units are cut into square tiles of cells so that one tile's features fit in memory
// whatever the input's size: a tile reads the features whose boxes meet its cells'
// box, computes their union's boundary (union-boundary.ts) and measures its cells
// (cells/measure.ts). A feature reaching into several tiles is read by each; each cell
// belongs to one tile, so nothing is counted twice.
import { performance } from 'node:perf_hooks'
import type { Queryable } from '../../db/db.ts'
import { loadSql } from '../../db/sql.ts'
import { rememberResult } from '../../runs/result-memo.ts'
import type { StepContext } from '../../runs/execute.ts'
import { unitPolygons } from '../../units/unit-cache.ts'
import { cellSet, measureCell, measureSet, type CellSet, type MeasureCell, type SetSums } from './measure.ts'
import { laea, type Laea } from '../../geom/laea.ts'
import { categoryPrefix, layerKey, OVERLAY_GRID } from '../sums.ts'
import { cacheFeatures, cachedFeatures, FEATURE_CACHE } from './feature-cache.ts'
import { readSplit, type DirectFeatures } from './layer-split.ts'
import { keptContacts, knownFlags, layeredFlags, markContacts, markFound, storeContacts } from './read/contacts.ts'
import { byCategory, categorySets, layerCacheKey as cacheKeyOf, measureFeatureSet, readPreparedLayer } from './layer-measure.ts'
import { MEASURE_POOL, type Elsewhere } from './threads/measure-pool.ts'
import { CELL_OPTIONS } from './options.ts'
import { current } from '../../scoped.ts'
import { layerReads, readLayer, type LayerRead } from './read/layer-features.ts'
import { unionBoundary, type Feat } from './union-boundary.ts'
import { pairing, withoutCopies, type CategoryPair, type ClassOutside } from './transitions.ts'
import { distribute, DISTRIBUTOR, type DistributedMeta } from '../../distribute/distribute.ts'
import { Gone } from '../../errors.ts'

const FALLBACK_SQL = loadSql(import.meta.url, './fallback.sql')
const PAIR_FALLBACK_SQL = loadSql(import.meta.url, './fallback-pair.sql')
const OUTSIDE_FALLBACK_SQL = loadSql(import.meta.url, './fallback-outside.sql')


/** A transition matrix wanted of two layers (CellCoveragePlan.transitions). */
export interface TransitionPlan { a: number; b: number; prefix: string; outOf: string; into: string }

export interface CellCoverageLayer {
  id: number
  byCategory: boolean
  featureCount: number
}

export interface CellCoveragePlan {
  setId: number
  layers: CellCoverageLayer[]
  overlaps: [number, number][]
  union: number[]
  /**
   * Pairs of layers (a layer's two vintages), both read by category, whose category
   * pairs' shared areas are wanted: written as `prefix + from class + SEP + to class`;
   * each class's area outside the other layer as `outOf + class of a`, `into + class of b`.
   */
  transitions?: TransitionPlan[]
  /** count the features sharing area with each cell (default true; change has no use for counts) */
  counting?: boolean
}

export interface CellCoverageStats {
  cells: number
  tiles: number
  /** features read, summed over tiles (a feature in two tiles counts twice) */
  featuresRead: number
  /** of those, the features measured by their stored area alone, their geometry not read (layer-split.ts) */
  direct: number
  /** union boundary segments measured, summed over sets and tiles */
  segments: number
  /** layers whose features came from this process's cache (feature-cache.ts) */
  cached: number
  /** layers whose contacts (cells/read/contacts.ts) this run found and kept: their first whole-layer run */
  prepared: number
  /** (cell, set) pairs measured by PostGIS */
  degenerate: number
  /** units the engine declines (measure.ts measureCell), measured by PostGIS alone in every set */
  declined: number
  /** this thread's time reading, finding union boundaries, measuring, in PostGIS for degenerate cells, writing, and waiting for measure workers */
  ms: { read: number; boundary: number; measure: number; fallback: number; write: number; wait: number }
  /** the layers measured by measure workers (measure-pool.ts), with their time there */
  elsewhere: { layer: number; ms: Record<string, number> }[]
  /** tiles computed by worker processes (distribute/): parts, attempts, who */
  distributed?: DistributedMeta
}

/** The units of a set as cells (measure.ts measureCell), or undefined when most of them are declined (edges over LONG_M). */
export async function simpleCells(db: Queryable, setId: number): Promise<{ ids: string[]; cells: MeasureCell[]; pr: Laea } | undefined> {
  const up = await unitPolygons(db, setId)
  if (!up || !up.rows.length) return undefined
  // a set's cells are built once while its units are cached (kept with them by the runtime)
  return current(FEATURE_CACHE).derive(up.polygons, 'simple cells', () => cellsOfSet(up)) ?? undefined
}

function cellsOfSet(up: NonNullable<Awaited<ReturnType<typeof unitPolygons>>>): { ids: string[]; cells: MeasureCell[]; pr: Laea } | null {
  const b = up.polygons.boxes
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity
  for (let i = 0; i < up.rows.length; i++) {
    w = Math.min(w, b[4 * i]!); s = Math.min(s, b[4 * i + 1]!); e = Math.max(e, b[4 * i + 2]!); n = Math.max(n, b[4 * i + 3]!)
  }
  // centred on the set, rounded to a quarter degree so that sets over one area share it
  // (and the features cached for it); 25 km off centre moves areas by ~1e-9
  const pr = laea(Math.round(2 * (w + e)) / 4, Math.round(2 * (s + n)) / 4)
  const cells: MeasureCell[] = []
  let declined = 0
  for (const p of up.polygons.polygons) {
    const c = measureCell(p, pr)
    if (c.declined) declined++
    cells.push(c)
  }
  // a declined unit is measured by PostGIS alone; a set of mostly such units goes to the piece engine
  if (2 * declined > cells.length) return null
  return { ids: up.rows.map((r) => r.id), cells, pr }
}

interface FeatureSet {
  key: string
  /** layers and category, for the PostGIS fallback */
  layers: number[]
  category: string | null
  counting: boolean
  features: (tile: Map<number, Feat[]>) => Feat[]
  /** a category's set: which of its layer's features measured by area alone (layer-split.ts) are of the category; else all of them */
  directOf?: number[]
  /** a set of several layers: its features by layer (then `features` is not used), for their contact flags (layeredFlags) */
  groups?: (tile: Map<number, Feat[]>) => Feat[][]
}

export type SimpleCells = NonNullable<Awaited<ReturnType<typeof simpleCells>>>

/**
 * A cell coverage run, in four parts: plan (the sets to measure, and how each layer is read:
 * planReads), then per tile read its layers (readTileLayer) and measure its sets
 * (measureTile), then write the run's sums (writeSums). `unitCells`: simpleCells of the
 * plan's set, as the planner found them.
 */
export async function cellCoverage(ctx: StepContext, plan: CellCoveragePlan, unitCells: SimpleCells): Promise<CellCoverageStats> {
  const { cells } = unitCells
  const stats = noStats(cells)
  const sums = new RunSums(unitCells.ids.length)
  const { tileFeatures, split } = current(CELL_OPTIONS)
  const tiles = tilesOf(cells, tileCount(plan, tileFeatures))
  const distributor = current(DISTRIBUTOR)
  if (distributor && tiles.length > 1) {
    // each tile a task for the workers (distribute/), computed there as below
    const spec: CellTaskSpec = { plan, tileFeatures, split }
    stats.tiles = tiles.length
    stats.distributed = await distribute<CellPart>(ctx, distributor, 'cells', spec, tiles.length, (_, p) => {
      for (const [key, e] of p.sums) {
        const a = sums.acc(key)
        for (let k = 0; k < e.units.length; k++) {
          a.area[e.units[k]!] += e.area[k]!
          a.count[e.units[k]!] += e.count[k]!
        }
      }
      addStats(stats, p.stats)
    })
  } else {
    const sets = setsOf(plan)
    const reading = await planReads(ctx, plan, unitCells, stats, tiles, split)
    let done = 0
    for (const tile of reading.tiles) {
      await measureTile(ctx, plan, unitCells, reading, sets, sums, stats, tile)
      done += tile.length
      await ctx.progress(done / cells.length)
    }
  }
  await writeSums(ctx, plan, unitCells.ids, sums, stats)
  for (const k of Object.keys(stats.ms) as (keyof CellCoverageStats['ms'])[]) stats.ms[k] = Math.round(stats.ms[k])
  return stats
}

/** Tiles a run of this plan is cut into: about one per `tileFeatures` features read. */
const tileCount = (plan: CellCoveragePlan, tileFeatures: number) => Math.ceil(plan.layers.reduce((s, l) => s + l.featureCount, 0) / tileFeatures)

/** What a worker needs besides the run row to compute one tile of a cell coverage run (worker/tasks.ts). */
export interface CellTaskSpec { plan: CellCoveragePlan; tileFeatures: number; split: boolean }

/** One tile's sums: per key, the units with an area or a count, and the tile's stats. */
export interface CellPart {
  sums: [string, { units: Int32Array; area: Float64Array; count: Int32Array }][]
  stats: CellCoverageStats
}

/**
 * Tile `part` of a cell coverage run, as a worker computes it: the same tiles, reads and
 * measures as the one-process run (cellCoverage), so its sums are the same to the last bit.
 * `memo`: the worker's keepsakes of this run (its reading plan, for the run's next tile).
 */
export async function cellTask(ctx: StepContext, spec: CellTaskSpec, part: number, memo: Map<string, unknown>): Promise<CellPart> {
  const { plan } = spec
  let planned = memo.get('cells') as Promise<{ unitCells: SimpleCells; reading: Reading }> | undefined
  if (!planned) {
    planned = (async () => {
      const unitCells = await simpleCells(ctx.db, plan.setId)
      if (!unitCells) throw new Gone(`unit set ${plan.setId} is no longer stored as cells here; run the statistics again`)
      const tiles = tilesOf(unitCells.cells, tileCount(plan, spec.tileFeatures))
      return { unitCells, reading: await planReads(ctx, plan, unitCells, noStats([]), tiles, spec.split) }
    })()
    memo.set('cells', planned)
    planned.catch(() => memo.delete('cells'))
  }
  const { unitCells, reading } = await planned
  const tile = reading.tiles[part]
  if (!tile) throw new Gone(`run ${ctx.runId} has no tile ${part + 1} here (its units changed since it was planned)`)
  const sums = new RunSums(unitCells.ids.length)
  const stats = noStats(tile.map((ci) => unitCells.cells[ci]!))
  stats.tiles = 1
  await ctx.progress(0)
  await measureTile(ctx, plan, unitCells, reading, setsOf(plan), sums, stats, tile)
  const out: CellPart['sums'] = []
  for (const [key, a] of sums.byKey) {
    const units: number[] = []
    for (const u of tile) if (a.area[u] !== 0 || a.count[u] !== 0) units.push(u)
    out.push([key, { units: Int32Array.from(units), area: Float64Array.from(units, (u) => a.area[u]!), count: Int32Array.from(units, (u) => a.count[u]!) }])
  }
  return { sums: out, stats }
}

/** Stats of a run (or a tile) over these cells with nothing done yet. */
function noStats(cells: MeasureCell[]): CellCoverageStats {
  return { cells: cells.length, tiles: 0, featuresRead: 0, direct: 0, cached: 0, prepared: 0, segments: 0, degenerate: 0, declined: cells.filter((c) => c.declined).length, ms: { read: 0, boundary: 0, measure: 0, fallback: 0, write: 0, wait: 0 }, elsewhere: [] }
}

/** Adds a part's stats to the run's (cells, tiles and declined units are the run's own). */
function addStats(to: CellCoverageStats, p: CellCoverageStats): void {
  for (const k of ['featuresRead', 'direct', 'cached', 'prepared', 'segments', 'degenerate'] as const) to[k] += p[k]
  for (const k of Object.keys(to.ms) as (keyof CellCoverageStats['ms'])[]) to.ms[k] += p.ms[k]
  to.elsewhere.push(...p.elsewhere)
}

/** The sets a run measures; keys as the piece engine writes them (readCoverage reads both). */
function setsOf(plan: CellCoveragePlan): FeatureSet[] {
  const counting = plan.counting ?? true
  const sets: FeatureSet[] = []
  for (const l of plan.layers) {
    sets.push({ key: layerKey(l.id), layers: [l.id], category: null, counting, features: (t) => t.get(l.id)! })
    if (l.byCategory) sets.push({ key: categoryPrefix(l.id), layers: [l.id], category: '', counting, features: () => [] }) // expanded per tile
  }
  // (a copy of a feature of the one layer in the other adds nothing to their union: left out)
  plan.overlaps.forEach(([a, b], i) => sets.push({ key: `AB:${i}:`, layers: [a, b], category: null, counting: false, features: () => [], groups: (t) => [t.get(a)!, withoutCopies(t.get(a)!, t.get(b)!)] }))
  if (plan.union.length) sets.push({ key: 'U:', layers: plan.union, category: null, counting: false, features: () => [], groups: (t) => plan.union.map((id) => t.get(id)!) })

  return sets
}

/** The run's sums per key, one area and feature count per unit. */
class RunSums {
  readonly byKey = new Map<string, { area: Float64Array; count: Int32Array }>()
  constructor(private readonly units: number) {}
  acc(key: string): { area: Float64Array; count: Int32Array } {
    let a = this.byKey.get(key)
    if (!a) this.byKey.set(key, (a = { area: new Float64Array(this.units), count: new Int32Array(this.units) }))
    return a
  }
}

/** How a run reads its layers: which, by what keys in the feature cache, in which tiles, which given to measure workers, which read in two steps. */
interface Reading {
  wanted: number[]
  reads: Map<number, LayerRead>
  tiles: number[][]
  layerCacheKey: (id: number) => string
  splitCacheKey: (id: number) => string
  cellsTag: number
  splitReads: boolean
  elsewhere: Map<number, Elsewhere>
  contacts: Map<number, Set<string>>
  splittable: Set<number>
  byCategoryOf: (id: number) => boolean
}

async function planReads(ctx: StepContext, plan: CellCoveragePlan, unitCells: SimpleCells, stats: CellCoverageStats, tiles: number[][], splitReads: boolean): Promise<Reading> {
  const { db, signal } = ctx
  const { cells, pr } = unitCells
  const wanted = [...new Set([...plan.layers.map((l) => l.id), ...plan.overlaps.flat(), ...plan.union])]
  const reads = await layerReads(db, wanted, signal)
  const layerCacheKey = (id: number) => cacheKeyOf(id, String(reads.get(id)?.created), pr)
  // a number for the keys of layers read for these cells (layer-split.ts) in the feature cache
  const cellsTag = current(FEATURE_CACHE).tag(cells)
  const splitCacheKey = (id: number) => `${layerCacheKey(id)}|cells ${cellsTag}`
  stats.tiles = tiles.length
  // in sets of its own only: an overlap, a union or a transition needs every feature's geometry here
  const alone = (id: number) => !plan.union.includes(id) && !plan.overlaps.some((p) => p.includes(id)) && !plan.transitions?.some((t) => t.a === id || t.b === id)
  const weight = (id: number) => reads.get(id)?.range?.count ?? 0
  // prepared layers measured alone, in one tile, some given to measure workers (measure-pool.ts)
  // while this thread does the rest: the largest first, to whichever side has done least
  const elsewhere = tiles.length === 1 ? current(MEASURE_POOL).elsewhere(db, wanted.filter((id) => reads.get(id)?.prepared && alone(id)).map((id) => ({ id, weight: weight(id), key: layerCacheKey(id) })), wanted.reduce((s, id) => s + weight(id), 0), cells.length) : new Map<number, Elsewhere>()
  // which features of each layer meet another (found at import, else below at first use)
  const contacts = await keptContacts(db, wanted.filter((id) => reads.get(id)?.prepared && !elsewhere.has(id)), signal)
  // layers read in two steps for these cells: prepared, and in sets of one layer only
  const splittable = new Set(wanted.filter((id) => splitReads && contacts.has(id) && alone(id)))
  const byCategoryOf = (id: number) => plan.layers.some((l) => l.id === id && l.byCategory)
  return { wanted, reads, tiles, layerCacheKey, splitCacheKey, cellsTag, splitReads, elsewhere, contacts, splittable, byCategoryOf }
}

/** What a tile has read so far: features by layer, and per layer read in two steps those measured by area alone. */
interface TileReads {
  tile: number[]
  box: number[]
  single: boolean
  cs: CellSet
  direct: Map<number, DirectFeatures>
}

/**
 * The read path: one layer's features for a tile, by the first of these that applies —
 * given to a measure worker (nothing here); a prepared layer in a run of one tile, read in
 * two steps for these cells (readPreparedLayer); the whole layer from the feature cache; one
 * tile of several, read in two steps for the tile's box (readSplit); else read from the
 * database (whole, or the tile's box), its contacts marked or found and kept, and cached.
 */
function readTileLayer(ctx: StepContext, unitCells: SimpleCells, reading: Reading, t: TileReads, id: number, stats: CellCoverageStats): Promise<Feat[]> {
  const { db, signal } = ctx
  const { pr } = unitCells
  const { reads, layerCacheKey, cellsTag, contacts, splittable, byCategoryOf, elsewhere } = reading
  const { single, cs, box, direct } = t
  if (elsewhere.has(id)) return Promise.resolve([])
  if (single && splittable.has(id)) {
    const r = readPreparedLayer(db, { layerId: id, cacheKey: layerCacheKey(id), cellsTag, split: true, categories: byCategoryOf(id), range: reads.get(id)?.range }, cs, pr, contacts.get(id)!, stats, signal).then((lr) => {
      if (lr.direct) direct.set(id, lr.direct)
      return lr.feats
    })
    r.catch(() => {}) // rejections are met when awaited
    return r
  }
  const key = single ? layerCacheKey(id) : undefined
  const cached = key ? cachedFeatures(key) : undefined
  if (cached) {
    stats.cached++
    return Promise.resolve(cached)
  }
  if (splittable.has(id)) {
    // one tile of several: the features whose boxes meet its box
    const r = readSplit(db, id, box, cs, contacts.get(id)!, pr, { categories: byCategoryOf(id), signal, range: reads.get(id)?.range, tiles: reading.tiles.length }).then((sr) => {
      markContacts(sr.feats, contacts.get(id)!)
      if (sr.direct) direct.set(id, sr.direct)
      return sr.feats
    })
    r.catch(() => {}) // rejections are met when awaited
    return r
  }
  const r = readLayer(db, id, single ? undefined : box, pr, signal, reads.get(id)?.range).then(async (feats) => {
    const kept = contacts.get(id)
    if (kept) markContacts(feats, kept)
    else if (single) {
      // a layer imported before contacts were kept: found now, from the whole layer, once
      await storeContacts(db, id, markFound(feats), signal)
      stats.prepared++
    }
    if (key) cacheFeatures(key, feats)
    return feats
  })
  r.catch(() => {}) // rejections are met when awaited
  return r
}

/** One tile: its layers read (some measured by workers), each set measured as soon as its layers are read, the sums added to the run's. */
async function measureTile(ctx: StepContext, plan: CellCoveragePlan, unitCells: SimpleCells, reading: Reading, sets: FeatureSet[], sums: RunSums, stats: CellCoverageStats, tile: number[]): Promise<void> {
  const { db, signal } = ctx
  const { ids, cells, pr } = unitCells
  const { wanted, reads, tiles, layerCacheKey, splitCacheKey, cellsTag, splitReads, elsewhere, byCategoryOf } = reading
  const counting = plan.counting ?? true
  const acc = (key: string) => sums.acc(key)
  const box = tile.reduce((b, ci) => {
    const c = cells[ci]!.bbox
    return [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[2]), Math.max(b[3], c[3])]
  }, [Infinity, Infinity, -Infinity, -Infinity])
  const byLayer = new Map<number, Feat[]>()
  // this tile's sums of the sets measured so far, by key (a transition's set is often a whole category's)
  const measured = new Map<string, SetSums>()
  const transitionsLeft = [...(plan.transitions ?? [])]
  const single = tiles.length === 1
  const cs = tileCells(cells, tile, single)
  // per layer read in two steps: its features measured by area alone, in this tile's cells
  const direct = new Map<number, DirectFeatures>()
  // the cache key of what was read of a layer (whole, or split for these cells), for its sets' boundaries
  const readKey = (id: number) => (direct.has(id) ? splitCacheKey(id) : layerCacheKey(id))
  // the layers given to measure workers, first: they start while this thread reads
  const away = [...elsewhere].map(([id, worker]) => {
    const r = worker.measure({ layerId: id, cacheKey: layerCacheKey(id), cellsTag, split: splitReads, categories: byCategoryOf(id), range: reads.get(id)?.range, byCategory: byCategoryOf(id), counting }, cells, pr, signal)
    r.catch(() => {}) // rejections are met when awaited below
    return { id, r }
  })
  // every layer's queries sent at once (the pool runs them side by side in the server, and
  // parse workers take their rows as they come); each set is measured as soon as its
  // layers are read, while the server and the workers go on with the others
  const tileReads: TileReads = { tile, box, single, cs, direct }
  const pending = wanted.map((id) => readTileLayer(ctx, unitCells, reading, tileReads, id, stats))
  // rejections are met when awaited below; one that comes while this thread waits on another
  // (an earlier layer, a PostGIS fallback that failed first) must not be left unhandled
  for (const p of pending) p.catch(() => {})
  const waiting = sets.filter((set) => !set.layers.some((l) => elsewhere.has(l)))
  /** A set's sums added to the run's; its degenerate cells measured by PostGIS. */
  const record = async (key: string, r: SetSums, layers: number[], category: string | null) => {
    measured.set(key, r)
    const a = acc(key)
    const fallback: string[] = []
    const unitOf = new Map<string, number>()
    tile.forEach((u, ci) => {
      if (r.degenerate[ci]) {
        fallback.push(ids[u]!)
        unitOf.set(ids[u]!, u)
        return
      }
      a.area[u] += r.area[ci]!
      a.count[u] += r.count[ci]!
    })
    if (!fallback.length) return
    const t0 = performance.now()
    stats.degenerate += fallback.length
    const rows = await db.query<{ unit_id: string; area_m2: number; features: number }>(FALLBACK_SQL, [fallback, layers, category, OVERLAY_GRID], { signal })
    for (const row of rows) {
      const u = unitOf.get(row.unit_id)!
      a.area[u] += Number(row.area_m2)
      a.count[u] += Number(row.features)
    }
    stats.ms.fallback += performance.now() - t0
  }
  for (const [k, id] of wanted.entries()) {
    if (elsewhere.has(id)) continue
    const t0 = performance.now()
    const feats = await pending[k]!
    byLayer.set(id, feats)
    stats.featuresRead += feats.length + (direct.get(id)?.cell.length ?? 0)
    stats.direct += direct.get(id)?.cell.length ?? 0
    stats.ms.read += performance.now() - t0
    // the sets whose layers are all read now; a layer's categories as sets of their own
    const ready: FeatureSet[] = []
    for (let i = 0; i < waiting.length; i++) {
      const set = waiting[i]!
      if (!set.layers.every((l) => byLayer.has(l))) continue
      waiting.splice(i--, 1)
      if (set.category === null) { ready.push(set); continue }
      for (const c of categorySets(set.key, byLayer.get(set.layers[0]!)!, direct.get(set.layers[0]!))) ready.push({ key: c.key, layers: set.layers, category: c.category, counting, features: () => c.feats, directOf: c.directOf })
    }
    for (const s of ready) {
      const groups = s.groups?.(byLayer)
      const feats = groups ? groups.flat() : s.features(byLayer)
      // whole layers: their union boundary may be known from an earlier run (feature-cache.ts);
      // one layer's features (or one category's): its contacts, when known, are all that can
      // overlap; several layers': those and whatever another layer's boxes meet
      const r = measureFeatureSet(cs, feats, s.layers.length === 1 ? direct.get(s.layers[0]!) : undefined, s.directOf, {
        boundaryKey: single ? `${s.layers.map(readKey).join('+')}|${s.key}` : undefined,
        flags: () => (groups ? layeredFlags(groups) : s.layers.length === 1 ? knownFlags(feats) : undefined),
        pr, counting: s.counting, stats,
      })
      if (r) await record(s.key, r, s.layers, s.category)
    }
    // transitions whose two layers are read now
    for (let i = 0; i < transitionsLeft.length; i++) {
      const t = transitionsLeft[i]!
      if (!byLayer.has(t.a) || !byLayer.has(t.b)) continue
      transitionsLeft.splice(i--, 1)
      await measureTransitions({ ctx, unitCells, tile, cs, measured, sums, stats }, t, byLayer.get(t.a)!, byLayer.get(t.b)!)
    }
  }
  // the layers measured by workers
  for (const { id, r } of away) {
    const t0 = performance.now()
    const out = await r
    stats.ms.wait += performance.now() - t0
    stats.featuresRead += out.stats.featuresRead
    stats.direct += out.stats.direct
    stats.segments += out.stats.segments
    stats.cached += out.stats.cached
    stats.elsewhere.push({ layer: id, ms: Object.fromEntries(Object.entries(out.stats.ms).map(([k, v]) => [k, Math.round(v)])) })
    for (const set of out.sets) await record(set.key, set.sums, [id], set.category)
  }
}

/** What the measuring of one tile shares with its transitions. */
interface TileContext {
  ctx: StepContext
  unitCells: SimpleCells
  tile: number[]
  cs: CellSet
  /** this tile's sums of the sets measured so far, by key */
  measured: Map<string, SetSums>
  sums: RunSums
  stats: CellCoverageStats
}

/**
 * Per category pair of layers a and b, in each cell: the twins' area plus
 * |A′| + |B′| − |A′ ∪ B′| (cells/transitions.ts); per class of each, its ground outside the
 * other layer; cells any part declines, by PostGIS.
 */
async function measureTransitions(tc: TileContext, t: TransitionPlan, fa: Feat[], fb: Feat[]): Promise<void> {
  const { ctx: { db, signal }, unitCells: { ids, pr }, tile, cs, measured, stats } = tc
  const acc = (key: string) => tc.sums.acc(key)
  const byClass = byCategory(fa)
  /** fs: one layer's features, or two layers' (`split`: how many of them are the first's) */
  const one = (fs: Feat[], split?: number) => {
    let t0 = performance.now()
    const b = unionBoundary(fs, pr, split !== undefined ? layeredFlags([fs.slice(0, split), fs.slice(split)]) : knownFlags(fs))
    stats.ms.boundary += performance.now() - t0
    t0 = performance.now()
    const r = measureSet(cs, fs, b, pr, false)
    stats.ms.measure += performance.now() - t0
    stats.segments += b.segments
    return r
  }
  const parts = (p: CategoryPair): { sums: SetSums; sign: number }[] => {
    const out: { sums: SetSums; sign: number }[] = []
    if (p.twins.length) {
      // twins meet nothing else of their layer, so their area is their class's less the
      // rest of it: measured so when they are most of the class (the class's own sums are known)
      const all = byClass.get(p.from)!, whole = measured.get(categoryPrefix(t.a) + p.from)
      if (whole && 2 * p.twins.length > all.length) {
        const twins = new Set(p.twins)
        out.push({ sums: whole, sign: 1 })
        const rest = all.filter((f) => !twins.has(f))
        if (rest.length) out.push({ sums: one(rest), sign: -1 })
      } else out.push({ sums: one(p.twins), sign: 1 })
    }
    if (p.a.length && p.b.length) {
      out.push({ sums: one(p.a), sign: 1 }, { sums: one(p.b), sign: 1 })
      out.push({ sums: one([...p.a, ...withoutCopies(p.a, p.b)], p.a.length), sign: -1 })
    }
    return out
  }
  /** The signed terms' sum per tile cell; NaN where a term declines the cell. */
  const evaluate = (terms: { sums: SetSums; sign: number }[]): Float64Array => {
    const v = new Float64Array(tile.length)
    for (let ci = 0; ci < tile.length; ci++) {
      let x = 0
      for (const { sums, sign } of terms) x = sums.degenerate[ci] ? NaN : x + sign * sums.area[ci]!
      v[ci] = x
    }
    return v
  }
  /** Adds per-cell values into `key`'s sums; NaN cells get `fallback`'s areas (PostGIS). */
  const add = async (key: string, v: Float64Array, fallbackSql: string, params: unknown[]) => {
    const a = acc(key)
    const fallback: string[] = []
    const unitOf = new Map<string, number>()
    tile.forEach((u, ci) => {
      const x = v[ci]!
      if (Number.isNaN(x)) {
        fallback.push(ids[u]!)
        unitOf.set(ids[u]!, u)
      } else if (Math.abs(x) > 1e-9 * cs.cells[ci]!.area) a.area[u] += x // classes that only touch leave rounding (~1e-12 of the cell): no area
    })
    if (fallback.length) {
      const t2 = performance.now()
      stats.degenerate += fallback.length
      const rows = await db.query<{ unit_id: string; area_m2: number }>(fallbackSql, [fallback, ...params, OVERLAY_GRID], { signal })
      for (const row of rows) a.area[unitOf.get(row.unit_id)!] += Number(row.area_m2)
      stats.ms.fallback += performance.now() - t2
    }
  }
  const { pairs, outOf, into } = pairing(fa, fb)
  const pairValues = new Map<CategoryPair, Float64Array>()
  for (const p of pairs) {
    const terms = parts(p)
    if (!terms.length) continue
    const v = evaluate(terms)
    pairValues.set(p, v)
    await add(t.prefix + p.key, v, PAIR_FALLBACK_SQL, [t.a, p.from, t.b, p.to])
  }
  // A class's area outside the other vintage's layer. In a cell where the other layer's
  // classes do not overlap (its sums equal the sum of its classes'), that is the class's
  // area less its pairs'; elsewhere |own ∪ other| − |other|, measured on the features that
  // meet those cells only.
  /** Per tile cell: the layer's classes overlap there (its sums are not the sum of its classes'), or a sum declined it. */
  const classesOverlap = (layer: number): Uint8Array => {
    const whole = measured.get(layerKey(layer))
    const classes = [...measured.entries()].filter(([k]) => k.startsWith(categoryPrefix(layer))).map(([, r]) => r)
    const flags = new Uint8Array(tile.length)
    for (let ci = 0; ci < tile.length; ci++) {
      let sum = 0, bad = !whole || whole.degenerate[ci] === 1
      for (const r of classes) { if (r.degenerate[ci]) bad = true; sum += r.area[ci]! }
      flags[ci] = bad || Math.abs(whole!.area[ci]! - sum) > 1e-9 * cs.cells[ci]!.area ? 1 : 0
    }
    return flags
  }
  const overlapA = outOf.length || into.length ? classesOverlap(t.a) : undefined
  const overlapB = outOf.length || into.length ? classesOverlap(t.b) : undefined
  const outside = async (o: ClassOutside, layer: number, other: number, otherOverlaps: Uint8Array, side: 'from' | 'to', key: string) => {
    const own = measured.get(categoryPrefix(layer) + o.cls)
    const mine = [...pairValues].filter(([p]) => (side === 'from' ? p.from : p.to) === o.cls).map(([, v]) => v)
    const v = new Float64Array(tile.length)
    const open = new Uint8Array(tile.length)
    let opened = 0
    for (let ci = 0; ci < tile.length; ci++) {
      const bad = !own || own.degenerate[ci] === 1 || otherOverlaps[ci] === 1
      let x = bad ? NaN : own!.area[ci]!
      for (const m of mine) x -= m[ci]!
      if (Number.isNaN(x)) { open[ci] = 1; opened++ } else v[ci] = x
    }
    if (opened) {
      const meets = (f: Feat) => {
        const n = cs.query(f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3])
        for (let k = 0; k < n; k++) if (open[cs.out[k]!]) return true
        return false
      }
      const ownNear = o.own.filter(meets), otherNear = o.other.filter(meets)
      const terms = !ownNear.length ? [] : otherNear.length
        ? [{ sums: one([...ownNear, ...otherNear], ownNear.length), sign: 1 }, { sums: one(otherNear), sign: -1 }]
        : [{ sums: one(ownNear), sign: 1 }]
      const m = terms.length ? evaluate(terms) : undefined
      for (let ci = 0; ci < tile.length; ci++) if (open[ci]) v[ci] = m ? m[ci]! : 0
    }
    await add(key, v, OUTSIDE_FALLBACK_SQL, [layer, o.cls, other])
  }
  for (const o of outOf) await outside(o, t.a, t.b, overlapB!, 'from', t.outOf + o.cls)
  for (const o of into) await outside(o, t.b, t.a, overlapA!, 'to', t.into + o.cls)
}

/** The run's sums as one document (pieces.ts readSums): [unit id, key, area, features] …, with each pair's overlap |A| + |B| − |A ∪ B|. */
async function writeSums(ctx: StepContext, plan: CellCoveragePlan, ids: string[], runSums: RunSums, stats: CellCoverageStats): Promise<void> {
  const { db, runId, signal } = ctx
  const sums = runSums.byKey
  const t0 = performance.now()
  // one document for the run (pieces.ts readSums): [unit id, key, area, features] …
  const out: [string, string, number, number][] = []
  for (const [key, a] of sums) {
    if (key.startsWith('AB:')) continue
    for (let u = 0; u < ids.length; u++) if (a.area[u]! > 0 || a.count[u]! > 0) out.push([ids[u]!, key, Math.max(0, a.area[u]!), a.count[u]!])
  }
  // a pair's overlap: |A| + |B| − |A ∪ B|
  plan.overlaps.forEach(([a, b], i) => {
    const A = sums.get(layerKey(a))?.area, B = sums.get(layerKey(b))?.area, AB = sums.get(`AB:${i}:`)?.area
    for (let u = 0; u < ids.length; u++) {
      const x = (A?.[u] ?? 0) + (B?.[u] ?? 0) - (AB?.[u] ?? 0)
      if (x > 0) out.push([ids[u]!, `X:${i}:`, x, 0])
    }
  })
  await db.query('INSERT INTO run_result (run_id, entries, body) VALUES ($1, $2, $3)', [runId, out.length, JSON.stringify(out)], { signal })
  rememberResult(runId, out)
  stats.ms.write = performance.now() - t0
}

/** The cells of a tile, indexed (cellSet); the whole set's kept while its units are cached. */
function tileCells(cells: MeasureCell[], tile: number[], single: boolean): CellSet {
  if (!single) return cellSet(tile.map((ci) => cells[ci]!))
  return current(FEATURE_CACHE).derive(cells, 'whole tile', () => cellSet(cells))
}

/** Cells grouped into about `n` square tiles by the centres of their boxes. */
function tilesOf(cells: MeasureCell[], n: number): number[][] {
  if (n <= 1) return [cells.map((_, i) => i)]
  let w = Infinity, s = Infinity, e = -Infinity, no = -Infinity
  for (const c of cells) { w = Math.min(w, c.bbox[0]); s = Math.min(s, c.bbox[1]); e = Math.max(e, c.bbox[2]); no = Math.max(no, c.bbox[3]) }
  const side = Math.ceil(Math.sqrt(n))
  const tw = (e - w) / side || 1, th = (no - s) / side || 1
  const tiles: number[][] = Array.from({ length: side * side }, () => [])
  cells.forEach((c, i) => {
    const tx = Math.min(side - 1, Math.floor(((c.bbox[0] + c.bbox[2]) / 2 - w) / tw))
    const ty = Math.min(side - 1, Math.floor(((c.bbox[1] + c.bbox[3]) / 2 - s) / th))
    tiles[ty * side + tx]!.push(i)
  })
  return tiles.filter((t) => t.length)
}
