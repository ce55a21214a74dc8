// Change between vintages on grid cells (the cell engine: both vintages, their overlap, and
// per class pair twins + |A′| + |B′| − |A′ ∪ B′|, cells/transitions.ts), on a generated
// county and a resurvey of it (4 % of patches gone, 6 % reclassified, 4 % moved 15 m, the
// digitising overlaps kept). Checked against PostGIS clipping each vintage's features of
// each class to each cell, dissolving them (ST_UnaryUnion) and intersecting the two, and
// with the pieces of categories that overlap, against the accounting identities.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { change } from '../server/stats/change.ts'
import { CELL_METHOD, coverage } from '../server/stats/coverage.ts'
import { withCells } from './helpers/runtime.ts'
import { pairing } from '../server/stats/cells/transitions.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { generateCounty, type GeneratedCounty } from '../scripts/bench/county-gen.ts'
import { laterVintage } from '../scripts/bench/later-vintage.ts'
import { backends } from './helpers/backends.ts'

const SHARE_TOL = 1e-6

for (const backend of backends()) {
  describe(`change on grid cells on ${backend.name}`, () => {
    let db: Db
    let county: GeneratedCounty
    let later: { id: number; features: number }
    beforeAll(async () => {
      db = await backend.open()
      // 2 km × 2 km; forest: ~550 patches of two classes, 3 % with an overlapping second polygon
      county = await generateCounty(db, { scale: 1 / 4, seed: 5, prefix: 'cc_' })
      later = await laterVintage(db, county.layers.find((l) => l.name === 'cc_forest')!.id, '2028')
      await buildGrid(db, { set: 'cc100', sizeM: 100, bbox: county.bbox })
    }, 180_000)
    afterAll(async () => {
      await db?.close()
    })

    const reference = async () => {
      // per cell and class at each vintage: the features clipped to the cell, dissolved;
      // the whole layer likewise; stable = the two vintages' dissolved parts intersected.
      // Overlays snap to 1e-11° (~1 mm², ~1e-7 of a 100 m cell): unsnapped, PGlite's GEOS
      // loses some of these results
      const rows = await db.query<{ code: string; f: string | null; t: string | null; a: number; ua: number }>(`
        WITH c AS (SELECT u.code, u.geom, u.area_m2 FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'cc100'),
        v AS (SELECT c.code, f.layer_id, f.category AS cat,
                     ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(c.geom, f.geom, 1e-11), 3)), 1e-11) AS g
              FROM c JOIN feature f ON f.layer_id IN ($1, $2) AND f.geom && c.geom
              GROUP BY GROUPING SETS ((c.code, f.layer_id, f.category), (c.code, f.layer_id)))
        SELECT a.code, a.cat AS f, b.cat AS t, ST_Area(ST_CollectionExtract(ST_Intersection(a.g, b.g, 1e-11), 3)::geography) AS a, c.area_m2 AS ua
        FROM v a JOIN v b ON a.code = b.code AND a.layer_id = $1 AND b.layer_id = $2 AND (a.cat IS NULL) = (b.cat IS NULL)
        JOIN c ON c.code = a.code
        UNION ALL
        -- each class outside the other vintage's whole layer: class → none (t null), none → class (f null)
        SELECT x.code, CASE WHEN x.layer_id = $1 THEN x.cat END, CASE WHEN x.layer_id = $2 THEN x.cat END,
               ST_Area(ST_CollectionExtract(coalesce(ST_Difference(x.g, y.g, 1e-11), x.g), 3)::geography), c.area_m2
        FROM v x JOIN c ON c.code = x.code
        LEFT JOIN v y ON y.code = x.code AND y.layer_id <> x.layer_id AND y.cat IS NULL
        WHERE x.cat IS NOT NULL`, [county.layers.find((l) => l.name === 'cc_forest')!.id, later.id])
      return rows
    }

    it('stable, gained, lost and the class transitions equal PostGIS clip-dissolve-intersect per cell (1e-6 of the cell)', async () => {
      const r = await change(db, 'cc100', 'cc_forest', '2025', '2028', { reuse: false })
      expect(r.method).toBe(CELL_METHOD)
      expect(r.byCategory).toBe(true)
      const ref = await reference()
      const cellArea = new Map(ref.map((x) => [x.code, Number(x.ua)]))
      const stable = new Map(ref.filter((x) => x.f === null && x.t === null).map((x) => [x.code, Number(x.a)]))
      // pairs, and class → none / none → class (null printed as 'null')
      const pairs = new Map(ref.filter((x) => x.f !== null || x.t !== null).map((x) => [`${x.code}|${x.f}|${x.t}`, Number(x.a)]))
      let worst = 0
      let changed = 0
      for (const row of r.rows) {
        const ua = cellArea.get(row.unit_code) ?? 1e4
        worst = Math.max(worst, Math.abs(row.stable_m2 - (stable.get(row.unit_code) ?? 0)) / ua)
        if (row.gained_m2 > 1 || row.lost_m2 > 1) changed++
      }
      const ours = new Map(r.transitions.map((x) => [`${x.unit_code}|${x.from_class}|${x.to_class}`, x.area_m2]))
      for (const [k, a] of pairs) worst = Math.max(worst, Math.abs((ours.get(k) ?? 0) - a) / cellArea.get(k.split('|')[0]!)!)
      for (const [k, a] of ours) if (!pairs.has(k)) worst = Math.max(worst, a / cellArea.get(k.split('|')[0]!)!)
      expect(worst).toBeLessThan(SHARE_TOL)
      expect(r.transitions.some((x) => x.to_class === null)).toBe(true)
      expect(r.transitions.some((x) => x.from_class === null)).toBe(true)
      // the SEEA account per class: opening and closing are the class's areas (coverage by
      // category), closing = opening + additions − reductions
      const cov = await coverage(db, 'cc100', { layers: 'cc_forest@2025,cc_forest@2028', categories: true }, { reuse: false })
      const classArea = new Map(cov.rows.filter((x) => x.measure === 'category').map((x) => [`${x.unit_code}|${x.vintage}|${x.category}`, x.area_m2]))
      for (const l of r.account.filter((x) => x.class !== '*')) {
        const ua = cellArea.get(l.unit_code) ?? 1e4
        expect(Math.abs(l.opening_m2 - (classArea.get(`${l.unit_code}|2025|${l.class}`) ?? 0))).toBeLessThan(1e-9 * ua)
        expect(Math.abs(l.closing_m2 - (classArea.get(`${l.unit_code}|2028|${l.class}`) ?? 0))).toBeLessThan(1e-9 * ua)
        expect(Math.abs(l.opening_m2 + l.additions_m2 - l.reductions_m2 - l.closing_m2)).toBeLessThan(1e-9 * ua)
      }
      // the resurvey changed something in many cells, and some patches changed class
      expect(changed).toBeGreaterThan(20)
      const across = r.transitionTotals.filter((x) => x.from_class && x.to_class && x.from_class !== x.to_class)
      expect(across.length).toBe(2)
      for (const x of across) expect(x.area_m2).toBeGreaterThan(1e4)
    }, 180_000)

    it('from and to equal the coverage of each vintage; stable + lost = from, stable + gained = to', async () => {
      const r = await change(db, 'cc100', 'cc_forest', '2025', '2028', { reuse: false, categories: false })
      expect(r.transitions).toEqual([])
      const c = await coverage(db, 'cc100', { layers: 'cc_forest@2025,cc_forest@2028' }, { reuse: false })
      const cov = new Map(c.rows.map((x) => [`${x.unit_code}|${x.vintage}`, x.area_m2]))
      for (const row of r.rows) {
        const ua = c.rows.find((x) => x.unit_code === row.unit_code)?.unit_area_m2 ?? 1e4
        expect(Math.abs(row.from_m2 - (cov.get(`${row.unit_code}|2025`) ?? 0))).toBeLessThan(1e-9 * ua)
        expect(Math.abs(row.to_m2 - (cov.get(`${row.unit_code}|2028`) ?? 0))).toBeLessThan(1e-9 * ua)
        expect(Math.abs(row.stable_m2 + row.lost_m2 - row.from_m2)).toBeLessThan(1e-9 * ua)
        expect(Math.abs(row.stable_m2 + row.gained_m2 - row.to_m2)).toBeLessThan(1e-9 * ua)
      }
    })

    it('in many tiles the same figures as in one', async () => {
      const one = await change(db, 'cc100', 'cc_forest', '2025', '2028', { reuse: false })
      await withCells({ tileFeatures: 200 }, async () => {
        const many = await change(db, 'cc100', 'cc_forest', '2025', '2028', { reuse: false })
        expect((many.run.meta as { measured: { tiles: number } }).measured.tiles).toBeGreaterThanOrEqual(4)
        const key = (x: { unit_code: string; from_class: string | null; to_class: string | null }) => `${x.unit_code}|${x.from_class}|${x.to_class}`
        const m = new Map(many.transitions.map((x) => [key(x), x.area_m2]))
        expect(many.transitions.length).toBe(one.transitions.length)
        for (const x of one.transitions) expect(Math.abs((m.get(key(x)) ?? -1) - x.area_m2)).toBeLessThan(1e-9 * 1e4)
      })
    })
  })
}

describe('category pairs of two vintages', () => {
  const sq = (x: number, cat: string, meets = 0) => {
    const ring = Float64Array.from([x, 0, x + 1, 0, x + 1, 1, x, 1])
    return { id: String(x), category: cat, rings: [ring], proj: [ring], bbox: [x, 0, x + 1, 1] as [number, number, number, number], area: 1, long: false, meets }
  }
  it('twins pair with their copy alone; changed features with every class whose boxes they meet', () => {
    // A: squares at 0, 2, 4 (classes p, p, q); B: 0 copied as q, 2 copied as p, 4 moved by 0.5 (class q)
    const a = [sq(0, 'p'), sq(2, 'p'), sq(4, 'q')]
    const b = [sq(0, 'q'), sq(2, 'p'), sq(4.5, 'q')]
    const { pairs, outOf, into } = pairing(a, b)
    const by = new Map(pairs.map((p) => [`${p.from}>${p.to}`, p]))
    expect([...by.keys()].sort()).toEqual(['p>p', 'p>q', 'q>q'])
    expect(by.get('p>q')!.twins.map((f) => f.id)).toEqual(['0'])
    expect(by.get('p>p')!.twins.map((f) => f.id)).toEqual(['2'])
    expect(by.get('q>q')!.twins).toEqual([])
    expect(by.get('q>q')!.a.map((f) => f.id)).toEqual(['4'])
    expect(by.get('q>q')!.b.map((f) => f.id)).toEqual(['4.5'])
    // outside the other layer: only what is not a twin, against the other's non-twins its box meets
    expect(outOf.map((o) => [o.cls, o.own.map((f) => f.id), o.other.map((f) => f.id)])).toEqual([['q', ['4'], ['4.5']]])
    expect(into.map((o) => [o.cls, o.own.map((f) => f.id), o.other.map((f) => f.id)])).toEqual([['q', ['4.5'], ['4']]])
    // a copy that meets another feature of its layer is no twin: its box meets are searched
    const b2 = [sq(0, 'q', 1), sq(0.5, 'p', 1)]
    const p2 = new Map(pairing([sq(0, 'p')], b2).pairs.map((p) => [`${p.from}>${p.to}`, p]))
    expect([...p2.keys()].sort()).toEqual(['p>p', 'p>q'])
    expect(p2.get('p>q')!.twins).toEqual([])
    expect(p2.get('p>q')!.a.map((f) => f.id)).toEqual(['0'])
  })
})
