// Features of a layer as this process last read them for cell coverage: parsed, oriented
// and projected (feature-parse.ts). A layer's features never change after its
// import (a re-import makes a new layer), so what was read once serves later runs over
// unit sets with the same projection centre. Keyed by layer id, creation time and centre,
// bounded by the bytes held, least recently used first out. Only whole layers are kept
// (runs cut into tiles read each tile's features afresh).
// A layer read for one set of cells (layer-split.ts: the features that need their geometry,
// and the others' cells and areas) is kept too, keyed by the layer and the cells.
// The union boundary of a set of layers is kept the same way, keyed by its features'
// keys and category.
import type { SplitRead } from './layer-split.ts'
import type { Boundary, Feat } from './union-boundary.ts'

export const FEATURE_CACHE_BYTES = 512 * 2 ** 20
type Held = Feat[] | Boundary | SplitRead
const entries = new Map<string, { feats: Held; bytes: number }>()
let held = 0

export function cachedFeatures(key: string): Feat[] | undefined {
  return cached(key) as Feat[] | undefined
}

export function cachedBoundary(key: string): Boundary | undefined {
  return cached(`B:${key}`) as Boundary | undefined
}

export function cachedSplit(key: string): SplitRead | undefined {
  return cached(`S:${key}`) as SplitRead | undefined
}

function cached(key: string): Held | undefined {
  const e = entries.get(key)
  if (!e) return undefined
  entries.delete(key)
  entries.set(key, e)
  return e.feats
}

export function cacheBoundary(key: string, b: Boundary): void {
  // segments, per-feature arrays, the feature box grid; the locator's row indexes are built as used
  hold(`B:${key}`, b, b.seg.length * 8 + b.start.length * 64 + 64)
}

export function cacheFeatures(key: string, feats: Feat[]): void {
  hold(key, feats, featureBytes(feats))
}

export function cacheSplit(key: string, r: SplitRead): void {
  hold(`S:${key}`, r, featureBytes(r.feats) + 16 * (r.direct?.cell.length ?? 0))
}

function featureBytes(feats: Feat[]): number {
  let bytes = 0
  for (const f of feats) for (const r of f.rings) bytes += r.length * 16 + 64
  return bytes
}

function hold(key: string, feats: Held, bytes: number): void {
  if (bytes > FEATURE_CACHE_BYTES / 2) return
  const old = entries.get(key)
  if (old) held -= old.bytes
  entries.delete(key)
  entries.set(key, { feats, bytes })
  held += bytes
  for (const [k, e] of entries) {
    if (held <= FEATURE_CACHE_BYTES) break
    entries.delete(k)
    held -= e.bytes
  }
}

const cleared: (() => void)[] = []

/** Calls `fn` whenever the cache is cleared (measure workers clear theirs, measure-pool.ts). */
export function onFeatureCacheCleared(fn: () => void): void {
  cleared.push(fn)
}

export function clearFeatureCache(): void {
  entries.clear()
  held = 0
  for (const fn of cleared) fn()
}
