// Which features of two layers (a layer's two vintages) can share area, by category pair,
// pure: for the cell engine's transition matrix. The area of (class c at A) ∩ (class d at B)
// in a cell is |T| + |A′| + |B′| − |A′ ∪ B′|: T the twins (a feature of class c with an exact
// copy of class d, neither meeting anything else of its layer, shares exactly its own area),
// A′ the other features of class c whose boxes meet a class-d box of B, B′ the class-d
// features (twins' copies left out) meeting an A′ box. A feature whose box meets no box of
// the other class shares no area with it. Between two surveys most patches are twins, so
// A′ and B′ hold the few that changed and their neighbours.
import { BoxQuery, boxGrid } from '../../geom/box-grid.ts'
import { SEP } from '../sums.ts'
import type { Feat } from './union-boundary.ts'

export interface CategoryPair {
  /** the classes ('' for features without one) and the pair's key, from + SEP + to */
  from: string
  to: string
  key: string
  /**
   * Features of class `from` in A with an exact copy of class `to` in B, neither meeting
   * another feature of its layer (contacts known, cells/read/contacts.ts): each shares its
   * whole area with its copy and none with anything else of either layer.
   */
  twins: Feat[]
  /** the other features of class `from` in A (in A's order) and of class `to` in B (in B's order) that can share area */
  a: Feat[]
  b: Feat[]
}

/**
 * Per class of one layer, what can lie outside the other: its features that are not twins
 * (`own`) and the other layer's features, twins' copies left out, whose boxes meet theirs
 * (`other`); the class's area outside the other layer is |own ∪ other| − |other|.
 */
export interface ClassOutside {
  cls: string
  own: Feat[]
  other: Feat[]
}

export interface Pairing {
  pairs: CategoryPair[]
  /** per class of `a`: outside `b`; per class of `b`: outside `a`; sorted by class */
  outOf: ClassOutside[]
  into: ClassOutside[]
}

/**
 * The category pairs of features of `a` and `b` that can share area, sorted by key: twins
 * (most of a resurvey's patches), then features whose boxes meet (twins' copies left out:
 * they share area with their twin only); and per class the features that can lie outside
 * the other layer.
 */
export function pairing(a: Feat[], b: Feat[]): Pairing {
  const twinOf = twins(a, b)
  const copied = new Uint8Array(b.length)
  for (const j of twinOf) if (j >= 0) copied[j] = 1
  return {
    pairs: categoryPairs(a, b, twinOf, copied),
    outOf: outside(a, b, (i) => twinOf[i]! >= 0, (j) => copied[j] === 1),
    into: outside(b, a, (j) => copied[j] === 1, (i) => twinOf[i]! >= 0),
  }
}

/** Per feature of `a`, the index of its twin in `b` (an exact copy, neither meeting anything else of its layer), or −1. */
function twins(a: Feat[], b: Feat[]): Int32Array {
  const twinOf = new Int32Array(a.length).fill(-1)
  if (!a.length || !b.length) return twinOf
  const copies = copyIndex(b)
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.meets !== 0) continue
    const j = copyOf(copies, b, a[i]!)
    if (j >= 0 && b[j]!.meets === 0) twinOf[i] = j
  }
  return twinOf
}

/** Per class of `x`: its features that are not twins, and the features of `y` (not twins) whose boxes meet theirs. */
function outside(x: Feat[], y: Feat[], xTwin: (i: number) => boolean, yTwin: (j: number) => boolean): ClassOutside[] {
  const keep: number[] = []
  y.forEach((_, j) => { if (!yTwin(j)) keep.push(j) })
  const boxes = new Float64Array(4 * keep.length)
  keep.forEach((j, k) => boxes.set(y[j]!.bbox, 4 * k))
  const q = keep.length ? new BoxQuery(boxGrid(boxes, 1, 4)) : undefined
  const byClass = new Map<string, { own: Feat[]; other: Set<number> }>()
  x.forEach((f, i) => {
    if (xTwin(i)) return
    const c = f.category ?? ''
    let e = byClass.get(c)
    if (!e) byClass.set(c, (e = { own: [], other: new Set<number>() }))
    e.own.push(f)
    const n = q ? q.query(f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3]) : 0
    for (let k = 0; k < n; k++) e.other.add(keep[q!.out[k]!]!)
  })
  return [...byClass.entries()].sort(([p], [q2]) => (p < q2 ? -1 : p > q2 ? 1 : 0))
    .map(([cls, e]) => ({ cls, own: e.own, other: [...e.other].sort((u, v) => u - v).map((j) => y[j]!) }))
}

/** The category pairs (pairing) given the twins. */
function categoryPairs(a: Feat[], b: Feat[], twinOf: Int32Array, copied: Uint8Array): CategoryPair[] {
  if (!a.length || !b.length) return []
  const pairs = new Map<string, { from: string; to: string; twins: number[]; ai: number[]; lastA: number; bi: Set<number> }>()
  const pair = (from: string, j: number) => {
    const to = b[j]!.category ?? ''
    const key = from + SEP + to
    let p = pairs.get(key)
    if (!p) pairs.set(key, (p = { from, to, twins: [], ai: [], lastA: -1, bi: new Set<number>() }))
    return p
  }
  const boxes = new Float64Array(4 * b.length)
  b.forEach((f, i) => boxes.set(f.bbox, 4 * i))
  const q = new BoxQuery(boxGrid(boxes, 1, 4))
  for (let i = 0; i < a.length; i++) {
    const f = a[i]!
    const from = f.category ?? ''
    if (twinOf[i]! >= 0) {
      pair(from, twinOf[i]!).twins.push(i)
      continue
    }
    const n = q.query(f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3])
    for (let k = 0; k < n; k++) {
      const j = q.out[k]!
      if (copied[j]) continue
      const p = pair(from, j)
      if (p.lastA !== i) {
        p.ai.push(i)
        p.lastA = i
      }
      p.bi.add(j)
    }
  }
  return [...pairs.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([key, p]) => {
    const bi = [...p.bi].sort((x, y) => x - y)
    return { from: p.from, to: p.to, key, twins: p.twins.map((i) => a[i]!), a: p.ai.map((i) => a[i]!), b: bi.map((j) => b[j]!) }
  })
}

/** `fs`' indexes by ringsHash. */
function copyIndex(fs: Feat[]): Map<number, number[]> {
  const byHash = new Map<number, number[]>()
  fs.forEach((f, i) => {
    const h = ringsHash(f)
    const l = byHash.get(h)
    if (l) l.push(i)
    else byHash.set(h, [i])
  })
  return byHash
}

/** The index of an exact copy of `f` among `fs` (copyIndex), or −1. */
function copyOf(index: Map<number, number[]>, fs: Feat[], f: Feat): number {
  for (const i of index.get(ringsHash(f)) ?? []) if (sameRings(fs[i]!, f)) return i
  return -1
}

/**
 * The features of `b` that are not exact copies of a feature of `a` (the same rings, bit
 * for bit): what `b` adds to the union of `a`. Two vintages of a survey share most of
 * their patches unchanged, and a copy overlaps its original all over: left in, every
 * such pair would be cut against each other for nothing.
 */
export function withoutCopies(a: Feat[], b: Feat[]): Feat[] {
  if (!a.length || !b.length) return b
  const copies = copyIndex(a)
  return b.filter((g) => copyOf(copies, a, g) < 0)
}

const hashView = new Float64Array(1)
const hashBits = new Int32Array(hashView.buffer)

function ringsHash(f: Feat): number {
  let h = f.rings.length | 0
  for (const r of f.rings) {
    h = Math.imul(h ^ r.length, 0x9e3779b1)
    // a few coordinates suffice to tell patches apart; sameRings checks all
    for (let i = 0; i < r.length; i += Math.max(1, r.length >> 3)) {
      hashView[0] = r[i]!
      h = Math.imul(h ^ hashBits[0]!, 0x85ebca6b) ^ hashBits[1]!
    }
  }
  return h
}

function sameRings(f: Feat, g: Feat): boolean {
  if (f.rings.length !== g.rings.length) return false
  for (let k = 0; k < f.rings.length; k++) {
    const p = f.rings[k]!, q = g.rings[k]!
    if (p.length !== q.length) return false
    for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return false
  }
  return true
}
