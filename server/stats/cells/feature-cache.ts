// Features of a layer as this runtime last read them for cell coverage: parsed, oriented
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
import { current, slot } from '../../scoped.ts'

export const FEATURE_CACHE_BYTES = 512 * 2 ** 20
type Held = Feat[] | Boundary | SplitRead

/** One runtime's cache (server/runtime.ts); a budget of 0 holds nothing. */
export class FeatureCache {
  private readonly entries = new Map<string, { feats: Held; bytes: number }>()
  private held = 0
  private readonly cleared: (() => void)[] = []
  /** values derived from objects the runtime holds (a unit set's cells), kept while they live */
  private readonly derived = new WeakMap<object, Map<string, unknown>>()
  private readonly tags = new WeakMap<object, number>()
  private serial = 0

  constructor(readonly budget = FEATURE_CACHE_BYTES) {}

  /** fn's value for this object, computed once while the object lives; budget 0: every time */
  derive<V>(obj: object, what: string, fn: () => V): V {
    if (!this.budget) return fn()
    let m = this.derived.get(obj)
    if (!m) this.derived.set(obj, (m = new Map()))
    if (!m.has(what)) m.set(what, fn())
    return m.get(what) as V
  }

  /**
   * A number per object (a set's cells array) for the keys of what is cached for it, and for
   * the measure workers, which keep the cells last sent by this number. Budget 0 caches
   * nothing and gives 0 (a measure pool without a cache gives no work to workers).
   */
  tag(obj: object): number {
    if (!this.budget) return 0
    let t = this.tags.get(obj)
    if (t === undefined) this.tags.set(obj, (t = ++this.serial))
    return t
  }

  get(key: string): Held | undefined {
    const e = this.entries.get(key)
    if (!e) return undefined
    this.entries.delete(key)
    this.entries.set(key, e)
    return e.feats
  }

  hold(key: string, feats: Held, bytes: number): void {
    if (bytes > this.budget / 2) return
    const old = this.entries.get(key)
    if (old) this.held -= old.bytes
    this.entries.delete(key)
    this.entries.set(key, { feats, bytes })
    this.held += bytes
    for (const [k, e] of this.entries) {
      if (this.held <= this.budget) break
      this.entries.delete(k)
      this.held -= e.bytes
    }
  }

  /** Calls fn whenever the cache is cleared (a measure pool clears its workers' caches); returns the unsubscribe. */
  onClear(fn: () => void): () => void {
    this.cleared.push(fn)
    return () => {
      const i = this.cleared.indexOf(fn)
      if (i >= 0) this.cleared.splice(i, 1)
    }
  }

  clear(): void {
    this.entries.clear()
    this.held = 0
    for (const fn of this.cleared) fn()
  }
}

/** The cache of the work in progress; unbound: none (every run reads afresh). */
export const FEATURE_CACHE = slot('feature cache', new FeatureCache(0))

export function cachedFeatures(key: string): Feat[] | undefined {
  return current(FEATURE_CACHE).get(key) as Feat[] | undefined
}

export function cachedBoundary(key: string): Boundary | undefined {
  return current(FEATURE_CACHE).get(`B:${key}`) as Boundary | undefined
}

export function cachedSplit(key: string): SplitRead | undefined {
  return current(FEATURE_CACHE).get(`S:${key}`) as SplitRead | undefined
}

export function cacheBoundary(key: string, b: Boundary): void {
  // segments, per-feature arrays, the feature box grid; the locator's row indexes are built as used
  current(FEATURE_CACHE).hold(`B:${key}`, b, b.seg.length * 8 + b.start.length * 64 + 64)
}

export function cacheFeatures(key: string, feats: Feat[]): void {
  current(FEATURE_CACHE).hold(key, feats, featureBytes(feats))
}

export function cacheSplit(key: string, r: SplitRead): void {
  current(FEATURE_CACHE).hold(`S:${key}`, r, featureBytes(r.feats) + 16 * (r.direct?.cell.length ?? 0))
}

function featureBytes(feats: Feat[]): number {
  let bytes = 0
  for (const f of feats) for (const r of f.rings) bytes += r.length * 16 + 64
  return bytes
}

/** Empties the cache of the work in progress (tests: read afresh). */
export function clearFeatureCache(): void {
  current(FEATURE_CACHE).clear()
}
