// The feature table partitioned by 6° Gauss-Krüger zone of each feature's box centre
// (migration 018, db/feature-zones.ts), on both backends: features land in their zone's
// partition (outside China in the default one), a box read scans only the zones a feature
// meeting the box can lie in — EXPLAIN ANALYZE shows the others never executed — and still
// finds a wide feature whose centre lies in the next zone; coverage cut into tiles (box
// reads) equals PostGIS on the stored geometries. On PostGIS, the steps of docs/scale.md
// move a zone to another database through postgres_fdw: coverage gives the same rows, an
// import lands in the moved zone and a purge removes it, with no statement of ours changed.
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { purgeLayer } from '../server/catalog/history.ts'
import { ROOT } from '../server/settings.ts'
import { inZones } from '../server/db/feature-zones.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { coverage } from '../server/stats/coverage.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { backends, throwawayDatabase } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { withCells } from './helpers/runtime.ts'

const poly = (w: number, s: number, e: number, n: number) => ({ type: 'Polygon' as const, coordinates: [box(w, s, e, n, 0.01)] })

for (const backend of backends()) {
  describe(`feature zones on ${backend.name}`, () => {
    let db: Db
    let layerId = 0
    beforeAll(async () => {
      db = await backend.open()
      const dir = tmpDir()
      const fc = featureCollection([
        { props: { k: 'z19' }, geometry: poly(113.50, 30.00, 113.52, 30.02) }, // zone 19 (108–114 °E)
        { props: { k: 'z20' }, geometry: poly(118.00, 30.00, 118.02, 30.02) }, // zone 20 (114–120 °E)
        { props: { k: 'wide' }, geometry: poly(119.50, 30.00, 120.70, 30.02) }, // centre 120.1: zone 21, reaching into 20
        { props: { k: 'z21' }, geometry: poly(121.00, 30.00, 121.02, 30.02) },
        { props: { k: 'abroad' }, geometry: poly(10.00, 45.00, 10.02, 45.02) }, // zone 2: the default partition
      ], 'EPSG:4490')
      const r = await ingestLayer(db, { file: writeJson(dir, 'zones.geojson', fc), layer: 'zones', kind: 'other', vintage: '2024', maxBytes: 1 << 26 })
      layerId = r.layerId
    }, 120_000)
    afterAll(async () => db?.close())

    it('puts each feature in its zone\'s partition and records the layer\'s reach', async () => {
      const rows = await db.query<{ k: string; part: string; zone: number }>(
        "SELECT attributes->>'k' AS k, tableoid::regclass::text AS part, zone FROM feature WHERE layer_id = $1 ORDER BY k", [layerId])
      expect(Object.fromEntries(rows.map((r) => [r.k, r.part]))).toEqual({
        abroad: 'feature_zother', wide: 'feature_z21', z19: 'feature_z19', z20: 'feature_z20', z21: 'feature_z21',
      })
      const [l] = await db.query<{ reach: number }>('SELECT zone_reach AS reach FROM layer WHERE id = $1', [layerId])
      expect(l!.reach).toBeCloseTo(0.6, 9)
    })

    const boxRead = `SELECT attributes->>'k' AS k FROM feature WHERE layer_id = $1 AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490)${inZones('$1', '$2', '$4')} ORDER BY k`
    const params = () => [layerId, 119.6, 29.9, 119.9, 30.1]

    it('a box read finds a wide feature centred in the next zone, and scans only the zones it can lie in', async () => {
      expect((await db.query<{ k: string }>(boxRead, params())).map((r) => r.k)).toEqual(['wide'])
      const plan = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${boxRead}`, params())).map((r) => r['QUERY PLAN']).join('\n')
      // box 119.6–119.9 widened by the reach (0.6°): zones 20 and 21; zone 19 and the rest are never read
      const scanned = (z: string) => plan.split('\n').filter((l) => l.includes(`on ${z}`) && !l.includes('never executed')).length
      expect(scanned('feature_z20')).toBeGreaterThan(0)
      expect(scanned('feature_z21')).toBeGreaterThan(0)
      for (const z of ['feature_z13', 'feature_z19', 'feature_z22', 'feature_zother']) expect(scanned(z)).toBe(0)
      expect(plan).toMatch(/never executed/)
    })

    it('a layer without a recorded reach is read from every zone, with the same rows', async () => {
      await db.query('UPDATE layer SET zone_reach = NULL WHERE id = $1', [layerId])
      expect((await db.query<{ k: string }>(boxRead, params())).map((r) => r.k)).toEqual(['wide'])
      await db.query('UPDATE layer SET zone_reach = (SELECT max(box_x1 - box_x0) / 2 FROM feature WHERE layer_id = $1) WHERE id = $1', [layerId])
    })

    it('coverage cut into tiles (box reads) equals PostGIS on the stored geometries (1e-6)', async () => {
      await buildGrid(db, { set: 'zgrid', sizeM: 5000, bbox: [119.4, 29.98, 121.1, 30.04] })
      const r = await withCells({ tileFeatures: 1 }, () => coverage(db, 'zgrid', { layers: 'zones' }, { reuse: false }))
      expect((r.run.meta as { measured: { tiles: number } }).measured.tiles).toBeGreaterThan(1)
      const want = await db.query<{ code: string; a: number }>(
        `SELECT u.code, sum(ST_Area(ST_Intersection(u.geom, f.geom)::geography)) AS a
         FROM unit u JOIN unit_set s ON s.id = u.set_id AND s.name = 'zgrid' JOIN feature f ON f.layer_id = $1 AND ST_Intersects(u.geom, f.geom)
         GROUP BY u.code`, [layerId])
      const got = new Map(r.rows.filter((x) => x.measure === 'layer').map((x) => [x.unit_code, x.area_m2]))
      expect(want.length).toBeGreaterThan(5)
      for (const w of want) expect(Math.abs(got.get(w.code)! - Number(w.a))).toBeLessThanOrEqual(1e-6 * 25e6)
      expect([...got.values()].filter((a) => a > 0).length).toBe(want.filter((w) => Number(w.a) > 0).length)
    })
  })
}

/** The ```sql blocks of docs/scale.md's "Moving a zone" steps, filled in. */
function moveSteps(fill: Record<string, string>): { remote: string; local: string } {
  const text = fs.readFileSync(path.join(ROOT, 'docs/scale.md'), 'utf8')
  const blocks = [...text.slice(text.indexOf('**Moving a zone')).matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!)
  const put = (b: string) => b.replace(/\{(\w+)\}/g, (_, k: string) => { if (!(k in fill)) throw new Error(`no value for {${k}}`); return fill[k]! })
  return { remote: put(blocks[0]!), local: put(blocks[1]!) }
}

/** Runs a block of statements (one per `;` line end) on one connection, as psql would. */
async function runBlock(url: string, block: string): Promise<void> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    for (const stmt of block.split(/;\s*\n/).map((x) => x.trim()).filter(Boolean)) await c.query(stmt)
  } finally {
    await c.end()
  }
}

const URL_ = process.env.DATABASE_URL
describe.skipIf(!URL_)('a zone moved to another server through postgres_fdw (docs/scale.md)', () => {
  it('gives the same coverage rows, takes imports and purges, with no statement of ours changed', async () => {
    const main = await throwawayDatabase(URL_!)
    const other = await throwawayDatabase(URL_!)
    const db = await openDb({ url: main.url, dataDir: '' })
    try {
      const dir = tmpDir()
      const layer = async (name: string, dx: number) => ingestLayer(db, {
        file: writeJson(dir, `${name}.geojson`, featureCollection(Array.from({ length: 12 }, (_, i) => ({ props: { i }, geometry: poly(118 + dx + 0.013 * i, 30, 118.01 + dx + 0.013 * i, 30.012 + 0.001 * i) })), 'EPSG:4490')),
        layer: name, kind: 'other', vintage: '2024', maxBytes: 1 << 26,
      })
      await layer('near', 0)
      await buildGrid(db, { set: 'g', sizeM: 1000, bbox: [117.99, 29.99, 118.2, 30.03] })
      const before = await withCells({ tileFeatures: 4 }, () => coverage(db, 'g', { layers: 'near' }, { reuse: false }))
      const u = new URL(other.url)
      const steps = moveSteps({ zone: '20', next: '21', host: u.hostname, port: u.port || '5432', dbname: u.pathname.slice(1), user: decodeURIComponent(u.username) || 'postgres' })
      await runBlock(other.url, steps.remote)
      await runBlock(main.url, steps.local)
      const where = await db.query<{ part: string; n: number }>("SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM feature GROUP BY 1")
      expect(where).toEqual([{ part: 'feature_z20_remote', n: 12 }])
      const remote = new pg.Client({ connectionString: other.url })
      await remote.connect()
      const count = async () => Number((await remote.query('SELECT count(*) AS n FROM feature_z20')).rows[0].n)
      expect(await count()).toBe(12)
      const after = await withCells({ tileFeatures: 4 }, () => coverage(db, 'g', { layers: 'near' }, { reuse: false }))
      expect(after.rows).toEqual(before.rows)
      // an import is routed to the moved zone; replaced and purged, it leaves it
      await layer('near2', 0.001)
      expect(await count()).toBe(24)
      await ingestLayer(db, { file: writeJson(dir, 'n3.geojson', featureCollection([{ props: {}, geometry: poly(118, 30, 118.01, 30.01) }], 'EPSG:4490')), layer: 'near2', kind: 'other', vintage: '2024', replace: true, maxBytes: 1 << 26 })
      expect(await count()).toBe(25)
      await purgeLayer(db, 'near2', {})
      expect(await count()).toBe(13)
      await remote.end()
    } finally {
      await db.close()
      await main.drop()
      await other.drop()
    }
  }, 180_000)
})
