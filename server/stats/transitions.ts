// Pure transition-matrix arithmetic. Inputs are areas measured on disjoint pieces:
// per class at each vintage, and per (from, to) class pair where both vintages have
// the layer. What is not in a pair moved in from outside the layer (from = null) or
// out of it (to = null).

export interface Transition {
  /** null: outside the layer at that vintage */
  from: string | null
  to: string | null
  area: number
}

export interface ExtentLine {
  class: string
  opening: number
  additions: number
  reductions: number
  closing: number
}

/**
 * The full from→to matrix of one unit (non-zero cells only, sorted): the measured pairs,
 * plus none→class = class area at the later vintage minus what came from any class,
 * plus class→none = class area at the earlier vintage minus what went to any class.
 * Differences within 1e-9 of `scale` below zero are rounding and become 0.
 */
export function fromTo(fromArea: Map<string, number>, toArea: Map<string, number>, pairs: Transition[], scale = 1): Transition[] {
  const out: Transition[] = pairs.filter((p) => p.area > 0).map((p) => ({ ...p }))
  const into = new Map<string, number>()
  const outOf = new Map<string, number>()
  for (const p of pairs) {
    into.set(p.to!, (into.get(p.to!) ?? 0) + p.area)
    outOf.set(p.from!, (outOf.get(p.from!) ?? 0) + p.area)
  }
  const eps = 1e-9 * Math.max(1, scale)
  for (const [c, a] of toArea) {
    const fromNone = a - (into.get(c) ?? 0)
    if (fromNone > eps) out.push({ from: null, to: c, area: fromNone })
  }
  for (const [c, a] of fromArea) {
    const toNone = a - (outOf.get(c) ?? 0)
    if (toNone > eps) out.push({ from: c, to: null, area: toNone })
  }
  const k = (x: string | null) => (x === null ? '\uffff' : x)
  return out.sort((a, b) => (k(a.from) < k(b.from) ? -1 : k(a.from) > k(b.from) ? 1 : k(a.to) < k(b.to) ? -1 : k(a.to) > k(b.to) ? 1 : 0))
}

/**
 * SEEA ecosystem-extent account per class from a transition matrix: opening = all
 * that left the class at the earlier vintage (including staying), closing = all that
 * arrived at the later one; additions = arrivals from other classes or outside,
 * reductions = departures to other classes or outside. closing = opening + additions − reductions.
 */
export function extentAccount(matrix: Transition[]): ExtentLine[] {
  const lines = new Map<string, ExtentLine>()
  const line = (c: string) => lines.get(c) ?? lines.set(c, { class: c, opening: 0, additions: 0, reductions: 0, closing: 0 }).get(c)!
  for (const t of matrix) {
    if (t.from !== null) line(t.from).opening += t.area
    if (t.to !== null) line(t.to).closing += t.area
    if (t.from === t.to) continue
    if (t.to !== null) line(t.to).additions += t.area
    if (t.from !== null) line(t.from).reductions += t.area
  }
  return [...lines.values()].sort((a, b) => (a.class < b.class ? -1 : a.class > b.class ? 1 : 0))
}
