// Pure transition-matrix arithmetic. Inputs are areas measured per class at each
// vintage, per (from, to) class pair where both vintages have the layer, and — measured
// too — per class the part outside the other vintage's layer (class → none, none → class).
// Where a vintage's classes overlap (features of two classes on the same ground), that
// ground is in the matrix once per class: rows then sum to more than the class area, but
// every figure is an area of its own and adds up over units, whatever their partition.

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
 * plus class→none and none→class: measured (`outside`: per class of the earlier vintage
 * its area outside the later layer, and per class of the later one its area outside the
 * earlier layer), else derived as the class area less its pairs (right only where the
 * classes of each vintage do not overlap: runs stored before these were measured).
 * Differences within 1e-9 of `scale` below zero are rounding and become 0.
 */
export function fromTo(fromArea: Map<string, number>, toArea: Map<string, number>, pairs: Transition[], scale = 1, outside?: { outOf: Map<string, number>; into: Map<string, number> }): Transition[] {
  const out: Transition[] = pairs.filter((p) => p.area > 0).map((p) => ({ ...p }))
  const into = new Map<string, number>()
  const outOf = new Map<string, number>()
  for (const p of pairs) {
    into.set(p.to!, (into.get(p.to!) ?? 0) + p.area)
    outOf.set(p.from!, (outOf.get(p.from!) ?? 0) + p.area)
  }
  const eps = 1e-9 * Math.max(1, scale)
  for (const [c, a] of toArea) {
    const fromNone = outside ? outside.into.get(c) ?? 0 : a - (into.get(c) ?? 0)
    if (fromNone > eps) out.push({ from: null, to: c, area: fromNone })
  }
  for (const [c, a] of fromArea) {
    const toNone = outside ? outside.outOf.get(c) ?? 0 : a - (outOf.get(c) ?? 0)
    if (toNone > eps) out.push({ from: c, to: null, area: toNone })
  }
  const k = (x: string | null) => (x === null ? '\uffff' : x)
  return out.sort((a, b) => (k(a.from) < k(b.from) ? -1 : k(a.from) > k(b.from) ? 1 : k(a.to) < k(b.to) ? -1 : k(a.to) > k(b.to) ? 1 : 0))
}

/**
 * SEEA ecosystem-extent account per class: opening = the class's area at the earlier
 * vintage, closing = at the later one (given, or else summed from the matrix: all that left
 * the class including staying, all that arrived); reductions = opening − what stayed in
 * the class, additions = closing − what stayed. closing = opening + additions − reductions.
 */
export function extentAccount(matrix: Transition[], fromArea?: Map<string, number>, toArea?: Map<string, number>): ExtentLine[] {
  const lines = new Map<string, ExtentLine>()
  const line = (c: string) => lines.get(c) ?? lines.set(c, { class: c, opening: 0, additions: 0, reductions: 0, closing: 0 }).get(c)!
  const stayed = new Map<string, number>()
  for (const t of matrix) {
    if (t.from !== null) line(t.from).opening += t.area
    if (t.to !== null) line(t.to).closing += t.area
    if (t.from === t.to && t.from !== null) stayed.set(t.from, (stayed.get(t.from) ?? 0) + t.area)
  }
  if (fromArea) for (const [c, a] of fromArea) line(c).opening = a
  if (toArea) for (const [c, a] of toArea) line(c).closing = a
  for (const l of lines.values()) {
    if (fromArea && !fromArea.has(l.class)) l.opening = 0
    if (toArea && !toArea.has(l.class)) l.closing = 0
    // what stayed is held within the opening and the closing area (overlay snapping can put
    // it a hair above either), so that additions and reductions are never below zero and
    // opening + additions − reductions = closing holds as printed
    const s = Math.min(Math.max(0, stayed.get(l.class) ?? 0), l.opening, l.closing)
    l.reductions = l.opening - s
    l.additions = l.closing - s
  }
  return [...lines.values()].sort((a, b) => (a.class < b.class ? -1 : a.class > b.class ? 1 : 0))
}
