// One layer's sets measured in one tile of cells: what cell coverage does for a layer that
// no other set needs (no overlap, union or transition), the same code whichever thread runs
// it (this one, or a measure worker, measure-pool.ts). Its steps: the layer read for the
// tile (whole or in two steps, layer-split.ts; from this thread's feature cache when held),
// then per set (the layer, and each category when asked) its union boundary and the
// cells' areas (cells/measure.ts), plus the features measured by their stored areas alone.
import { performance } from 'node:perf_hooks'
import type { Queryable } from '../../db/db.ts'
import { measureSet, type CellSet, type SetSums } from './measure.ts'
import { cacheBoundary, cachedBoundary, cacheFeatures, cachedFeatures, cachedSplit, cacheSplit } from './feature-cache.ts'
import { keptContacts, knownFlags, markContacts } from './read/contacts.ts'
import { readLayer, type IdRange } from './read/layer-features.ts'
import { readSplit, type DirectFeatures } from './layer-split.ts'
import type { Laea } from '../../geom/laea.ts'
import { categoryPrefix, layerKey } from '../sums.ts'
import { unionBoundary, type Feat } from './union-boundary.ts'

/** The counters a layer's measurement adds to a run's (CellCoverageStats). */
export interface LayerStats {
  featuresRead: number
  direct: number
  segments: number
  cached: number
  ms: { read: number; boundary: number; measure: number }
}

export const noStats = (): LayerStats => ({ featuresRead: 0, direct: 0, segments: 0, cached: 0, ms: { read: 0, boundary: 0, measure: 0 } })

/** Feature-cache key of a whole layer as read for a projection centre. */
export const layerCacheKey = (id: number, created: string, pr: Laea): string => `${id}|${created}|${pr.lon0},${pr.lat0}`

/** Feature-cache key of a layer read in two steps for one set of cells (`cellsTag`: a number per set of cells). */
export const splitCacheKey = (layerCacheKey: string, cellsTag: number): string => `${layerCacheKey}|cells ${cellsTag}`

/** A layer's features by category ('' for none), in their order. */
export function byCategory(feats: Feat[]): Map<string, Feat[]> {
  const out = new Map<string, Feat[]>()
  for (const f of feats) {
    const c = f.category ?? ''
    const l = out.get(c)
    if (l) l.push(f)
    else out.set(c, [f])
  }
  return out
}

/**
 * A layer's sets per category: the features of each and the indexes of its features
 * measured by area alone (`direct`), keys `prefix + category`.
 */
export function categorySets(prefix: string, feats: Feat[], direct: DirectFeatures | undefined): { key: string; category: string; feats: Feat[]; directOf: number[] }[] {
  const byCat = byCategory(feats)
  const directByCat = new Map<string, number[]>()
  direct?.category.forEach((cat, i) => {
    const c = cat ?? ''
    const l = directByCat.get(c)
    if (l) l.push(i)
    else directByCat.set(c, [i])
    if (!byCat.has(c)) byCat.set(c, [])
  })
  return [...byCat].map(([c, fs]) => ({ key: prefix + c, category: c, feats: fs, directOf: directByCat.get(c) ?? [] }))
}

/**
 * One set's sums in the cells of `cs`: the union of `feats` measured (its boundary from
 * the feature cache under `boundaryKey` when given, else found with `flags`, the features'
 * contact flags when known), plus the features measured by area alone (`direct`: those at
 * `directOf`, or all). Undefined when the set has neither.
 */
export function measureFeatureSet(cs: CellSet, feats: Feat[], direct: DirectFeatures | undefined, directOf: number[] | undefined, o: { boundaryKey?: string; flags: () => Uint8Array | undefined; pr: Laea; counting: boolean; stats: LayerStats }): SetSums | undefined {
  if (!feats.length && !direct) return undefined
  const { stats } = o
  let t0 = performance.now()
  let r: SetSums
  if (feats.length) {
    let b = o.boundaryKey ? cachedBoundary(o.boundaryKey) : undefined
    if (!b) {
      b = unionBoundary(feats, o.pr, o.flags())
      if (o.boundaryKey) cacheBoundary(o.boundaryKey, b)
    }
    stats.ms.boundary += performance.now() - t0
    t0 = performance.now()
    r = measureSet(cs, feats, b, o.pr, o.counting)
    stats.segments += b.segments
  } else {
    const n = cs.cells.length
    r = { area: new Float64Array(n), count: new Int32Array(n), degenerate: new Uint8Array(n) }
  }
  if (direct) {
    const n = directOf ? directOf.length : direct.cell.length
    for (let k = 0; k < n; k++) {
      const i = directOf ? directOf[k]! : k
      r.area[direct.cell[i]!] += direct.area[i]!
      r.count[direct.cell[i]!]++
    }
  }
  stats.ms.measure += performance.now() - t0
  return r
}

/** A prepared layer (its contacts kept) to be read for a run's cells as one tile. */
export interface PreparedRead {
  layerId: number
  /** layerCacheKey */
  cacheKey: string
  /** tags the cells, for splitCacheKey */
  cellsTag: number
  /** read in two steps (layer-split.ts) */
  split: boolean
  /** the categories of the features measured by area alone are wanted */
  categories: boolean
  range?: IdRange
}

/** What was read of a layer, and the feature-cache key its sets' boundaries are kept under. */
export interface LayerTileRead { feats: Feat[]; direct?: DirectFeatures; readKey: string }

/**
 * A prepared layer read for the cells of `cs` as one tile: from the feature cache when held
 * (whole, or split for these cells), else from the database, its features marked by its
 * contacts (`contacts`: given, or read now) and kept in the cache.
 */
export async function readPreparedLayer(db: Queryable, t: PreparedRead, cs: CellSet, pr: Laea, contacts: Set<string> | undefined, stats: LayerStats, signal?: AbortSignal): Promise<LayerTileRead> {
  const whole = cachedFeatures(t.cacheKey)
  const splitKey = splitCacheKey(t.cacheKey, t.cellsTag)
  if (whole) {
    stats.cached++
    return { feats: whole, readKey: t.cacheKey }
  }
  const held = t.split ? cachedSplit(splitKey) : undefined
  if (held) {
    stats.cached++
    return { ...held, readKey: held.direct ? splitKey : t.cacheKey }
  }
  const kept = contacts ?? (await keptContacts(db, [t.layerId], signal)).get(t.layerId)!
  if (!t.split) {
    const feats = await readLayer(db, t.layerId, undefined, pr, signal, t.range)
    markContacts(feats, kept)
    cacheFeatures(t.cacheKey, feats)
    return { feats, readKey: t.cacheKey }
  }
  const sr = await readSplit(db, t.layerId, undefined, cs, kept, pr, { categories: t.categories, signal, range: t.range, tiles: 1 })
  markContacts(sr.feats, kept)
  if (sr.direct) cacheSplit(splitKey, sr)
  else cacheFeatures(t.cacheKey, sr.feats)
  return { ...sr, readKey: sr.direct ? splitKey : t.cacheKey }
}

/** A layer's sets measured: the layer's (key layerKey) and, when by category, each category's. */
export interface LayerSums {
  sets: { key: string; category: string | null; sums: SetSums }[]
  stats: LayerStats
}

/** A layer measured alone in the cells of `cs` as one tile (see the top of this file). */
export async function measureLayerAlone(db: Queryable, t: PreparedRead & { byCategory: boolean; counting: boolean }, cs: CellSet, pr: Laea, signal?: AbortSignal): Promise<LayerSums> {
  const stats = noStats()
  const t0 = performance.now()
  const read = await readPreparedLayer(db, t, cs, pr, undefined, stats, signal)
  stats.ms.read += performance.now() - t0
  stats.featuresRead += read.feats.length + (read.direct?.cell.length ?? 0)
  stats.direct += read.direct?.cell.length ?? 0
  const sets: LayerSums['sets'] = []
  const one = (key: string, category: string | null, feats: Feat[], directOf?: number[]) => {
    const sums = measureFeatureSet(cs, feats, read.direct, directOf, { boundaryKey: `${read.readKey}|${key}`, flags: () => knownFlags(feats), pr, counting: t.counting, stats })
    if (sums) sets.push({ key, category, sums })
  }
  one(layerKey(t.layerId), null, read.feats)
  if (t.byCategory) for (const s of categorySets(categoryPrefix(t.layerId), read.feats, read.direct)) one(s.key, s.category, s.feats, s.directOf)
  return { sets, stats }
}
