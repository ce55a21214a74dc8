// A layer's contacts (features meeting another other than vertex for vertex), found at
// import and used by the cell engine instead of searching every edge pair: hand-made
// cases with known answers, the boundary with known contacts equal to the one found from
// scratch, tiles giving the flags of the whole layer, coverage equal with and without kept
// contacts and with features parsed in worker threads (rows of hex text: PGlite) or from
// binary COPY (PostGIS); WKB parsing and packing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { coverage, readCoverage } from '../server/stats/coverage.ts'
import { recallResult } from '../server/runs/result-memo.ts'
import { clearFeatureCache } from '../server/stats/cells/feature-cache.ts'
import { laea } from '../server/geom/laea.ts'
import { findContacts } from '../server/stats/cells/read/contacts.ts'
import { createRuntime } from '../server/runtime.ts'
import { packFeatures, unpackFeatures } from '../server/stats/cells/threads/parse-pool.ts'
import { featureOf, FeatureParser } from '../server/stats/cells/read/feature-parse.ts'
import { contactFlags, unionBoundary, type Feat } from '../server/stats/cells/union-boundary.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { generateCounty, type GeneratedCounty } from '../scripts/bench/county-gen.ts'
import { backends } from './helpers/backends.ts'
import { featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { prepareLayer } from '../server/stats/cells/read/contacts.ts'

const LON = 118.3, LAT = 29.8, D = 0.001
const pr = laea(118.25, 29.75)
/** A counter-clockwise square in steps of D from (LON, LAT), closed. */
const sq = (x0: number, y0: number, x1: number, y1: number) => ring([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
/** A closed ring of points in steps of D from (LON, LAT). */
const ring = (pts: number[][]) => [...pts, pts[0]!].map(([x, y]) => [LON + x! * D, LAT + y! * D])
// a 2 × 2 tiling with no two edges on one line: edges that run on along one line from one
// feature into another's count as a contact (the engine cuts them to order the pieces)
const M = [1.1, 0.9], S = [1, -0.1], W = [-0.1, 1], E = [2.1, 1.1], N = [0.9, 2.1]

// the hand cases: which features meet another, and why
const CASES: { name: string; ring: number[][]; meets: boolean }[] = [
  // a 2 × 2 tiling, neighbours vertex for vertex: nothing to cut
  { name: 'tile sw', ring: ring([[0, 0], S, M, W]), meets: false },
  { name: 'tile se', ring: ring([S, [2, 0], E, M]), meets: false },
  { name: 'tile ne', ring: ring([M, E, [2, 2], N]), meets: false },
  { name: 'tile nw', ring: ring([W, M, N, [0, 2]]), meets: false },
  // two squares side by side with their top edges on one line, meeting end to end
  { name: 'in line a', ring: ring([[40, 0], [41, 0.1], [41, 1], [40, 1]]), meets: true },
  { name: 'in line b', ring: ring([[41, 0.1], [42, 0], [42, 1], [41, 1]]), meets: true },
  // two squares overlapping: their edges cross
  { name: 'overlap a', ring: sq(5, 5, 7, 7), meets: true },
  { name: 'overlap b', ring: sq(6, 6, 8, 8), meets: true },
  // a vertex on a neighbour's edge (no overlap, a T-junction)
  { name: 't long', ring: sq(10, 0, 12, 1), meets: true },
  { name: 't short', ring: sq(10, 1, 11, 2), meets: true },
  // a square inside another, touching nothing: the inner one's box lies in the outer's
  { name: 'outer', ring: sq(20, 0, 24, 4), meets: false },
  { name: 'inner', ring: sq(21, 1, 22, 2), meets: true },
  // the same square twice
  { name: 'twice 1', ring: sq(30, 0, 31, 1), meets: true },
  { name: 'twice 2', ring: sq(30, 0, 31, 1), meets: true },
]

/** Little- or big-endian WKB of a polygon (rings closed), optionally with Z, an SRID, in a MultiPolygon. */
function wkb(rings: number[][][], o: { le?: boolean; z?: boolean; srid?: number; multi?: boolean } = {}): Uint8Array {
  const le = o.le ?? true
  const parts: number[] = []
  const u8 = (v: number) => parts.push(v)
  const u32 = (v: number) => { const b = new DataView(new ArrayBuffer(4)); b.setUint32(0, v, le); for (let i = 0; i < 4; i++) u8(b.getUint8(i)) }
  const f64 = (v: number) => { const b = new DataView(new ArrayBuffer(8)); b.setFloat64(0, v, le); for (let i = 0; i < 8; i++) u8(b.getUint8(i)) }
  const head = (type: number, srid?: number) => { u8(le ? 1 : 0); u32(type | (o.z ? 0x80000000 : 0) | (srid ? 0x20000000 : 0)); if (srid) u32(srid) }
  if (o.multi) { head(6, o.srid); u32(1); head(3) } else head(3, o.srid)
  u32(rings.length)
  for (const r of rings) { u32(r.length); for (const [x, y] of r) { f64(x!); f64(y!); if (o.z) f64(7) } }
  return Uint8Array.from(parts)
}

const featsOf = (rings: number[][][]) => rings.map((r, i) => featureOf(String(i), null, wkb([r]), pr)!)

describe('contacts (pure)', () => {
  it('hand cases: a tiling meets nothing; overlaps, T-junctions, a box within a box and repeats are found', () => {
    const flags = contactFlags(featsOf(CASES.map((c) => c.ring)))
    expect(CASES.filter((_, i) => flags[i]).map((c) => c.name)).toEqual(CASES.filter((c) => c.meets).map((c) => c.name))
  })

  it('the boundary with known contacts is the boundary found from scratch, to the last bit', () => {
    // a jittered tiling with overlapping patches on top, the kind of layer the engine meets
    const rings: number[][][] = []
    const j = (a: number, b: number) => (((a * 73856093) ^ (b * 19349663)) % 1000) / 4000
    const pt = (a: number, b: number) => [LON + (a + j(a, b)) * D, LAT + (b + j(b, a)) * D]
    for (let a = 0; a < 20; a++) for (let b = 0; b < 20; b++) rings.push([pt(a, b), pt(a + 1, b), pt(a + 1, b + 1), pt(a, b + 1), pt(a, b)])
    for (let k = 0; k < 15; k++) rings.push(sq(1.3 * k + 0.2, 0.7 * k + 0.1, 1.3 * k + 1.9, 0.7 * k + 2.3))
    const feats = featsOf(rings)
    const flags = contactFlags(feats)
    expect(flags.reduce((s, x) => s + x, 0)).toBeGreaterThan(15) // the patches and the tiles under them
    expect(flags.reduce((s, x) => s + x, 0)).toBeLessThan(200)
    const a = unionBoundary(feats, pr)
    const b = unionBoundary(feats, pr, flags)
    expect(Array.from(b.cut)).toEqual(Array.from(a.cut))
    expect(Array.from(b.start)).toEqual(Array.from(a.start))
    expect(Array.from(b.seg)).toEqual(Array.from(a.seg))
    expect(b.segments).toBe(a.segments)
  })

  it('WKB: both byte orders, Z, SRID, multi, hex text: the same rings, outer counter-clockwise and holes clockwise', () => {
    const outer = sq(0, 0, 4, 4).reverse() // clockwise on input
    const hole = sq(1, 1, 2, 2) // counter-clockwise on input
    const ref = featureOf('r', null, wkb([outer, hole]), pr)!
    const signed = (r: Float64Array) => { let s = 0; const n = r.length >> 1; for (let i = 0, k = n - 1; i < n; k = i++) s += (r[2 * k]! - r[2 * i]!) * (r[2 * k + 1]! + r[2 * i + 1]!); return s }
    expect(signed(ref.rings[0]!)).toBeGreaterThan(0)
    expect(signed(ref.rings[1]!)).toBeLessThan(0)
    expect(ref.rings[0]!.length).toBe(8) // opened: 4 vertices
    for (const o of [{ le: false }, { z: true }, { srid: 4490, multi: true }, { le: false, z: true, srid: 4490, multi: true }]) {
      const f = featureOf('x', null, wkb([outer, hole], o), pr)!
      expect(f.rings.map((r) => Array.from(r))).toEqual(ref.rings.map((r) => Array.from(r)))
      expect(f.area).toBe(ref.area)
    }
    const hex = Buffer.from(wkb([outer, hole], { srid: 4490, multi: true })).toString('hex')
    const out: Feat[] = []
    new FeatureParser(pr).parseRows([{ id: 'a', category: 'c', wkb: hex }, { id: 'b', category: null, wkb: hex }], out)
    expect(out.map((f) => [f.id, f.category, f.area])).toEqual([['a', 'c', ref.area], ['b', null, ref.area]])
    expect(out[1]!.rings.map((r) => Array.from(r))).toEqual(ref.rings.map((r) => Array.from(r)))
  })

  it('features packed for a thread and unpacked are the same features', () => {
    const feats = featsOf(CASES.map((c) => c.ring))
    const rows = feats.map((f) => ({ id: f.id, category: `k${f.id}` }))
    const back: Feat[] = []
    unpackFeatures(packFeatures(feats, feats.map((_, i) => i)), rows, back)
    expect(back.map((f) => ({ ...f, rings: f.rings.map((r) => Array.from(r)), proj: f.proj.map((r) => Array.from(r)) })))
      .toEqual(feats.map((f) => ({ ...f, category: `k${f.id}`, rings: f.rings.map((r) => Array.from(r)), proj: f.proj.map((r) => Array.from(r)) })))
  })
})

for (const backend of backends()) {
  describe(`contacts on ${backend.name}`, () => {
    let db: Db
    let county: GeneratedCounty
    beforeAll(async () => {
      db = await backend.open()
      county = await generateCounty(db, { scale: 1 / 16, seed: 7, prefix: 'k_' })
      await buildGrid(db, { set: 'kg100', sizeM: 100, bbox: county.bbox })
    }, 120_000)
    afterAll(async () => {
      await db?.close()
    })

    it('an import keeps its contacts and reports how many (the hand cases)', async () => {
      const file = writeJson(tmpDir(), 'c.geojson', featureCollection(CASES.map((c) => ({ props: { name: c.name }, geometry: { type: 'Polygon', coordinates: [c.ring] } })), 'EPSG:4490'))
      const r = await ingestLayer(db, { file, layer: 'hand', kind: 'other', vintage: '2025', maxBytes: 1 << 30, prepare: prepareLayer })
      expect(r.contacts).toBe(CASES.filter((c) => c.meets).length)
      const rows = await db.query<{ name: string }>(
        `SELECT f.attributes->>'name' AS name FROM feature_contact c JOIN feature f ON f.id = c.feature_id WHERE c.layer_id = $1 ORDER BY f.src_index`, [r.layerId])
      expect(rows.map((x) => x.name)).toEqual(CASES.filter((c) => c.meets).map((c) => c.name))
      const [layer] = await db.query<{ contacts: number; report: { contacts: number } }>('SELECT contacts, report FROM layer WHERE id = $1', [r.layerId])
      expect([layer!.contacts, layer!.report.contacts]).toEqual([r.contacts, r.contacts])
    })

    it('contacts found tile by tile are those of the whole layer', async () => {
      for (const l of county.layers) {
        const whole = await findContacts(db, l.id)
        const tiled = await findContacts(db, l.id, { tileFeatures: 40 })
        if (l.features > 160) expect(tiled.tiles).toBeGreaterThan(1)
        expect([...tiled.ids].sort()).toEqual([...whole.ids].sort())
      }
      const forest = county.layers.find((l) => l.name === 'k_forest')!
      expect((await findContacts(db, forest.id)).ids.length).toBeGreaterThan(0) // the generator's overlapping patches
    })

    it('coverage is the same with kept contacts, with contacts found at first use (and then kept), and with features parsed in threads', async () => {
      const o = { layers: county.layers.map((l) => l.name).join(','), categories: true, overlaps: 'all', union: true }
      const rows = async () => {
        clearFeatureCache()
        const r = await coverage(db, 'kg100', o, { reuse: false })
        return r.rows.map((x) => [x.unit_code, x.layer, x.measure, x.category, x.area_m2, x.features].join('|'))
      }
      // outside a runtime: parsed in this thread
      const kept = await rows()
      const ids = county.layers.map((l) => l.id)
      const before = await db.query<{ id: number; contacts: number }>('SELECT id, contacts FROM layer WHERE id = ANY($1::int[]) ORDER BY id', [ids])
      await db.query('DELETE FROM feature_contact WHERE layer_id = ANY($1::int[])', [ids])
      await db.query('UPDATE layer SET contacts = NULL WHERE id = ANY($1::int[])', [ids])
      const found = await rows()
      expect(found).toEqual(kept)
      expect(await db.query('SELECT id, contacts FROM layer WHERE id = ANY($1::int[]) ORDER BY id', [ids])).toEqual(before)
      const rt = createRuntime({ parseThreads: 2, parseMinRows: 1 })
      try {
        const pool = rt.parse
        await pool.whenStarted()
        const before2 = pool.parsedInWorkers
        const threaded = await rt.run(rows)
        // rows of hex text go to the workers; binary COPY (PostGIS) is parsed where it arrives
        const viaWorkers = (n: number) => (db.copyBinary ? expect(pool.parsedInWorkers).toBe(n) : expect(pool.parsedInWorkers).toBeGreaterThan(n))
        viaWorkers(before2)
        expect(threaded).toEqual(kept)
        // workers that stop while idle leave the pool; new ones take their place
        await pool.stop()
        await pool.whenStarted()
        const before3 = pool.parsedInWorkers
        expect(await rt.run(rows)).toEqual(kept)
        viaWorkers(before3)
      } finally {
        await rt.close()
      }
    }, 120_000)

    it('a run read back from its runtime\'s memo of its result equals the run read from the database', async () => {
      const rt = createRuntime({ measureThreads: 0 })
      try {
        const r = await rt.run(() => coverage(db, 'kg100', { layers: county.layers.map((l) => l.name).join(','), categories: true }, { reuse: false }))
        expect(rt.results.recall(r.run.id)).toBeDefined()
        // outside the runtime nothing is remembered
        expect(recallResult(r.run.id)).toBeUndefined()
        rt.results.forget(r.run.id)
        expect(rt.results.recall(r.run.id)).toBeUndefined()
        const fromDb = await rt.run(() => readCoverage(db, r.run))
        expect(fromDb.rows).toEqual(r.rows)
        expect(fromDb.rows.length).toBeGreaterThan(100)
      } finally {
        await rt.close()
      }
    })
  })
}
