// Vector tiles: decoded geometry against Web Mercator tile maths done here in JS (hand
// geometry whose projected areas are computable), clipping, change, unit statistics as
// properties, the HTTP contract (gzip, strong ETag, 304, 204, TileJSON, shared misses,
// versions in the cache key), and — where a PostGIS server is available — PostGIS's
// ST_AsMVT against the JS encoder on both databases, tile by tile over the sample.
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import type { Server } from 'node:http'
import { VectorTile, type VectorTileFeature } from '@mapbox/vector-tile'
import { PbfReader } from 'pbf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { createApp, createServer } from '../server/http/app.ts'
import { loadSettings, ROOT } from '../server/settings.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { importUnits } from '../server/units/import-units.ts'
import { coverage } from '../server/stats/coverage.ts'
import { resolveSource } from '../server/tiles/vector-source.ts'
import { databaseEncodesMvt, LEVELS, renderCapped, renderVectorTile } from '../server/tiles/vector-tile.ts'
import { signedArea } from '../server/tiles/mvt-encode.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'
import { baseUrl } from './helpers/http.ts'

const MAX = 1 << 30
const R = 6378137
const HALF = Math.PI * R
const SAMPLE = path.join(ROOT, 'data', 'sample')
type Ring = [number, number][]
const poly = (...rings: number[][][]) => ({ type: 'Polygon' as const, coordinates: rings })

/** Web Mercator, and lon/lat → tile coordinates (0..4096, y down) of tile z/x/y. */
const merc = (lon: number, lat: number): [number, number] => [(R * lon * Math.PI) / 180, R * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360))]
function toTile(z: number, x: number, y: number, [lon, lat]: number[]): [number, number] {
  const size = (2 * HALF) / 2 ** z
  const [mx, my] = merc(lon!, lat!)
  return [((mx + HALF - x * size) / size) * 4096, ((HALF - y * size - my) / size) * 4096]
}
function tileOf(z: number, lon: number, lat: number): [number, number, number] {
  const n = 2 ** z
  const [mx, my] = merc(lon, lat)
  return [z, Math.floor(((mx + HALF) / (2 * HALF)) * n), Math.floor(((HALF - my) / (2 * HALF)) * n)]
}
const perimeter = (ring: Ring) => ring.reduce((s, p, i) => (i ? s + Math.hypot(p[0] - ring[i - 1]![0], p[1] - ring[i - 1]![1]) : 0), 0)
const areaOf = (ring: Ring) => signedArea(ring.map(([x, y]) => ({ x, y })))

function decode(buf: Uint8Array): Record<string, VectorTileFeature[]> {
  const t = new VectorTile(new PbfReader(buf))
  const out: Record<string, VectorTileFeature[]> = {}
  for (const [name, l] of Object.entries(t.layers)) out[name] = Array.from({ length: l.length }, (_, i) => l.feature(i))
  return out
}
const rings = (f: VectorTileFeature): Ring[] => f.loadGeometry().map((r) => r.map((p) => [p.x, p.y] as [number, number]))
/** net area (exteriors positive, holes negative, as MVT defines them) and total ring length */
const measure = (f: VectorTileFeature) => ({ area: rings(f).reduce((s, r) => s + areaOf(r), 0), length: rings(f).reduce((s, r) => s + perimeter(r), 0) })

// Hand geometry near 118°E 30°N: A (a square with a square hole) and a triangle B in 2020;
// in 2023 A has moved 0.01° east and lost its hole, B is unchanged.
const A2020 = [box(118.0, 30.0, 118.02, 30.02), box(118.005, 30.005, 118.01, 30.01).reverse()]
const A2023 = [box(118.01, 30.0, 118.03, 30.02)]
const B = [[[118.03, 30.0], [118.05, 30.0], [118.04, 30.015], [118.03, 30.0]]]
const Z = 10

async function loadHand(db: Db, dir: string) {
  for (const [vintage, a] of [['2020', A2020], ['2023', A2023]] as const) {
    await ingestLayer(db, {
      file: writeJson(dir, `hand${vintage}.geojson`, featureCollection([{ props: { t: 'A' }, geometry: poly(...a) }, { props: { t: 'B' }, geometry: poly(...B) }], 'EPSG:4490')),
      layer: 'hand', kind: 'other', vintage, categoryField: 't', maxBytes: MAX,
    })
  }
  await ingestLayer(db, { file: writeJson(dir, 'big.geojson', featureCollection([{ geometry: poly(box(117.5, 29.5, 118.5, 30.5, 0.25)) }], 'EPSG:4490')), layer: 'big', kind: 'other', vintage: '2020', maxBytes: MAX })
  await importUnits(db, {
    file: writeJson(dir, 'units.geojson', featureCollection([
      { props: { code: 'U1', name: '西' }, geometry: poly(box(117.99, 29.99, 118.025, 30.03)) },
      { props: { code: 'U2', name: '东' }, geometry: poly(box(118.025, 29.99, 118.06, 30.03)) },
    ], 'EPSG:4490')),
    set: 'hand_units', maxBytes: MAX,
  })
}

for (const backend of backends()) {
  describe(`vector tiles on ${backend.name}`, () => {
    let db: Db
    let dir: string
    let server: Server
    let base: string
    const [z, x, y] = tileOf(Z, 118.03, 30.01)

    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir()
      await loadHand(db, dir)
      const settings = { ...loadSettings({}), rasterDir: path.join(dir, 'rasters'), tileCacheDir: path.join(dir, 'tiles') }
      server = createServer({ db, settings }).listen(0, '127.0.0.1')
      base = await baseUrl(server)
    }, 120_000)
    afterAll(async () => {
      await new Promise((r) => server?.close(r))
      await db?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('draws hand geometry where Web Mercator maths puts it, with holes as holes and its properties', async () => {
      // precondition: the hand geometry lies inside one z10 tile
      expect(tileOf(Z, 117.99, 29.99)).toEqual([z, x, y])
      expect(tileOf(Z, 118.06, 30.03)).toEqual([z, x, y])
      const tile = decode(await renderVectorTile(db, await resolveSource(db, 'layer:hand@2020'), z, x, y))
      const feats = tile.features!
      expect(feats).toHaveLength(2)
      const ids = await db.query<{ id: string; category: string; area_m2: number }>("SELECT f.id::text AS id, f.category, f.area_m2 FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'hand' AND l.vintage = '2020'")
      for (const f of feats) {
        const row = ids.find((r) => Number(r.id) === f.id)!
        expect(f.properties.category).toBe(row.category)
        expect(f.properties.area_m2 as number).toBeCloseTo(Number(row.area_m2), 6)
        const expected = (row.category === 'A' ? A2020 : B).map((ring) => ring.map((p) => toTile(z, x, y, p)) as Ring)
        const got = rings(f)
        expect(got).toHaveLength(expected.length)
        // exterior positive, holes negative (MVT 2.1), and each ring within what snapping
        // to the integer grid can move it: 0.71 units per unit of length
        got.forEach((r, i) => {
          const a = areaOf(r)
          expect(Math.sign(a)).toBe(i === 0 ? 1 : -1)
          const want = Math.abs(areaOf(expected[i]!))
          expect(Math.abs(Math.abs(a) - want)).toBeLessThanOrEqual(0.71 * perimeter(expected[i]!))
          // and vertex by vertex: every decoded vertex within 0.71 units of an expected one
          for (const [px, py] of r) expect(Math.min(...expected[i]!.map(([ex, ey]) => Math.hypot(px - ex, py - ey)))).toBeLessThanOrEqual(0.71)
        })
      }
    })

    it('gathers features under 2 × 2 pixels into squares at low zoom, each counted once', async () => {
      // 20 × 20 squares of ~20 m (category a west, b east) 0.002° apart across the tile border
      // at 118.125°E (zooms 8 and 9), and one 1 km square
      const dots = []
      for (let i = 0; i < 20; i++) for (let j = 0; j < 20; j++) {
        const lon = 118.105 + i * 0.002, lat = 30.3 + j * 0.002
        dots.push({ props: { t: i < 10 ? 'a' : 'b' }, geometry: poly(box(lon, lat, lon + 0.0002, lat + 0.0002)) })
      }
      dots.push({ props: { t: 'big' }, geometry: poly(box(118.15, 30.35, 118.16, 30.36)) })
      await ingestLayer(db, { file: writeJson(dir, 'dots.geojson', featureCollection(dots, 'EPSG:4490')), layer: 'dots', kind: 'other', vintage: '2020', categoryField: 't', maxBytes: MAX })
      const rows = await db.query<{ id: string; category: string; area_m2: number }>("SELECT f.id::text AS id, f.category, f.area_m2 FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'dots'")
      const small = rows.filter((r) => r.category !== 'big')
      const src = await resolveSource(db, 'layer:dots')
      for (const zoom of [8, 9]) {
        const [, x0, y1] = tileOf(zoom, 118.1, 30.3)
        const [, x1, y0] = tileOf(zoom, 118.17, 30.37)
        expect(x1).toBe(x0 + 1)
        let merged = 0, area = 0, squares = 0, big = 0, tiles = 0
        for (let tx = x0; tx <= x1; tx++) for (let ty = y0; ty <= y1; ty++) {
          const feats = decode(await renderVectorTile(db, src, zoom, tx, ty)).features ?? []
          if (feats.some((f) => f.properties.merged)) tiles++
          for (const f of feats) {
            if (f.properties.category === 'big') { big++; continue }
            squares++
            expect(f.id).toBeGreaterThan(2 ** 40)
            merged += f.properties.merged as number
            area += f.properties.area_m2 as number
            // a square of 2 × 2 display pixels: 32 × 32 tile units
            expect(Math.abs(measure(f).area)).toBeCloseTo(32 * 32, 0)
          }
        }
        // every small feature in exactly one square, its area with it (whole m² per square)
        expect(merged).toBe(small.length)
        expect(Math.abs(area - small.reduce((s, r) => s + Number(r.area_m2), 0))).toBeLessThanOrEqual(0.5 * squares)
        expect(squares).toBeLessThan(small.length)
        expect(tiles).toBe(2)
        // the 1 km square stays a feature of its own (≥ 2 × 2 pixels), in every tile it reaches
        expect(big).toBeGreaterThanOrEqual(1)
      }
      // at zoom 14 a 20 m square is more than 2 × 2 pixels: drawn as itself
      const [z14, x14, y14] = tileOf(14, 118.1051, 30.3001)
      const own = decode(await renderVectorTile(db, src, z14, x14, y14)).features!
      expect(own.length).toBeGreaterThan(0)
      for (const f of own) { expect(f.properties.merged).toBeUndefined(); expect(rows.some((r) => Number(r.id) === f.id)).toBe(true) }
    })

    it('keeps a tile under the byte cap at a coarser level: larger squares, every feature counted once', async () => {
      // 10 × 10 squares of ~20 m, ~57 m apart, inside one zoom-14 tile: drawn one by one there
      const cells = []
      for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) {
        const lon = 118.195 + i * 0.0006, lat = 30.492 + j * 0.0005
        cells.push({ props: { t: i < 5 ? 'a' : 'b' }, geometry: poly(box(lon, lat, lon + 0.0002, lat + 0.0002)) })
      }
      await ingestLayer(db, { file: writeJson(dir, 'cluster.geojson', featureCollection(cells, 'EPSG:4490')), layer: 'cluster', kind: 'other', vintage: '2020', categoryField: 't', maxBytes: MAX })
      const src = await resolveSource(db, 'layer:cluster')
      const [tz, tx, ty] = tileOf(14, 118.195, 30.492)
      expect(tileOf(14, 118.2016, 30.4967)).toEqual([tz, tx, ty])
      const full = await renderCapped(db, src, tz, tx, ty)
      expect(full.level).toBe(1)
      const own = decode(full.tile).features!
      expect(own).toHaveLength(100)
      expect(own.every((f) => f.properties.merged === undefined && Number(f.id) < 2 ** 40)).toBe(true)
      expect(await renderVectorTile(db, src, tz, tx, ty)).toEqual(full.tile)
      // a cap just under that tile's size: a coarser level (at level 2 each feature still has a
      // square of its own, whose properties weigh more), squares of 2k × 2k display pixels
      const capped = await renderCapped(db, src, tz, tx, ty, { maxBytes: full.tile.byteLength - 1 })
      expect(capped.level).toBeGreaterThan(1)
      expect(capped.tile.byteLength).toBeLessThan(full.tile.byteLength)
      const squares = decode(capped.tile).features!
      expect(squares.length).toBeGreaterThan(0)
      expect(squares.length).toBeLessThan(100)
      for (const f of squares) {
        expect(f.id).toBeGreaterThan(2 ** 40)
        expect(Math.abs(measure(f).area)).toBeCloseTo((32 * capped.level) ** 2, 0)
      }
      const total = (fs_: VectorTileFeature[]) => fs_.reduce((n, f) => n + (f.properties.merged as number), 0)
      expect(total(squares)).toBe(100)
      const area = (await db.query<{ a: number }>("SELECT sum(f.area_m2) AS a FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'cluster'"))[0]!.a
      expect(Math.abs(squares.reduce((n, f) => n + (f.properties.area_m2 as number), 0) - Number(area))).toBeLessThanOrEqual(0.5 * squares.length)
      // a cap no level meets: the last level is served, still every feature counted once
      const last = await renderCapped(db, src, tz, tx, ty, { maxBytes: 1 })
      expect(last.level).toBe(LEVELS[LEVELS.length - 1])
      expect(total(decode(last.tile).features!)).toBe(100)
    })

    it('clips a polygon larger than the tile to the tile plus its 64-unit buffer', async () => {
      const [bz, bx, by] = tileOf(13, 118.0, 30.0)
      const f = decode(await renderVectorTile(db, await resolveSource(db, 'layer:big'), bz, bx, by)).features!
      expect(f).toHaveLength(1)
      const r = rings(f[0]!)
      expect(r).toHaveLength(1)
      for (const [px, py] of r[0]!) {
        expect(px).toBeGreaterThanOrEqual(-64)
        expect(px).toBeLessThanOrEqual(4096 + 64)
        expect(py).toBeGreaterThanOrEqual(-64)
        expect(py).toBeLessThanOrEqual(4096 + 64)
      }
      expect(Math.abs(areaOf(r[0]!) - 4224 * 4224)).toBeLessThanOrEqual(4 * 4224)
    })

    it('change tiles hold what was gained and what was lost, at their Mercator areas', async () => {
      const t = decode(await renderVectorTile(db, await resolveSource(db, 'change:hand@2020,2023'), z, x, y)).change!
      const by = Object.fromEntries(t.map((f) => [f.properties.change as string, measure(f)]))
      expect(Object.keys(by).sort()).toEqual(['gained', 'lost'])
      const area = (ring: number[][]) => Math.abs(areaOf(ring.map((p) => toTile(z, x, y, p)) as Ring))
      const gained = area(box(118.02, 30.0, 118.03, 30.02))
      const lost = area(box(118.0, 30.0, 118.01, 30.02)) - area(box(118.005, 30.005, 118.01, 30.01))
      // snapping on both sides of the overlay: 1 unit per unit of boundary is generous
      expect(Math.abs(by.gained!.area - gained)).toBeLessThanOrEqual(by.gained!.length)
      expect(Math.abs(by.lost!.area - lost)).toBeLessThanOrEqual(by.lost!.length)
      expect(by.gained!.area).toBeGreaterThan(0.9 * gained)
      // the unchanged triangle is in neither
      expect(await renderVectorTile(db, await resolveSource(db, 'change:hand@2020,2023'), ...tileOf(13, 118.045, 30.004))).toHaveLength(0)
    })

    it('unit tiles carry the statistics of a chosen run as properties, equal to the run', async () => {
      const cov = await coverage(db, 'hand_units', { layers: 'hand@2023' })
      const src = await resolveSource(db, 'units:hand_units', String(cov.run.id))
      const feats = decode(await renderVectorTile(db, src, z, x, y)).units!
      expect(feats.map((f) => f.properties.code).sort()).toEqual(['U1', 'U2'])
      for (const f of feats) {
        const row = cov.rows.find((r) => r.unit_code === f.properties.code && r.measure === 'layer')!
        expect(f.properties['hand@2023_share']).toBeCloseTo(row.share, 12)
        expect(f.properties['hand@2023_m2']).toBeCloseTo(row.area_m2, 6)
        expect(f.properties.area_m2).toBeCloseTo(row.unit_area_m2, 6)
      }
      // without a run: geometry and identity only
      const plain = decode(await renderVectorTile(db, await resolveSource(db, 'units:hand_units'), z, x, y)).units!
      expect(Object.keys(plain[0]!.properties).sort()).toEqual(['area_m2', 'code', 'name'])
    })

    it('serves gzip with a strong ETag, 304 on revalidation, 204 when empty, and TileJSON', async () => {
      const url = `${base}/tiles/${encodeURIComponent('layer:hand@2020')}/${z}/${x}/${y}.mvt`
      const first = await fetch(url, { headers: { 'accept-encoding': 'gzip' } })
      expect(first.status).toBe(200)
      expect(first.headers.get('content-type')).toBe('application/vnd.mapbox-vector-tile')
      expect(first.headers.get('content-encoding')).toBe('gzip') // fetch has already gunzipped the body
      const etag = first.headers.get('etag')!
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+-gz"$/)
      const body = new Uint8Array(await first.arrayBuffer())
      expect(decode(body).features).toHaveLength(2)
      const again = await fetch(url, { headers: { 'accept-encoding': 'gzip', 'if-none-match': etag } })
      expect(again.status).toBe(304)
      expect(again.headers.get('x-tile-cache')).toBe('hit')
      // the identity representation has its own validator; a stale one gets the tile
      const plain = await fetch(url, { headers: { 'accept-encoding': 'identity', 'if-none-match': etag } })
      expect(plain.status).toBe(200)
      expect(plain.headers.get('content-encoding')).toBeNull()
      expect(Buffer.from(await plain.arrayBuffer()).equals(Buffer.from(body))).toBe(true)
      expect(plain.headers.get('etag')).toBe(etag.replace('-gz', ''))
      // raw gzip bytes really are gzip of the tile
      const raw = await rawGet(`${url}`, { 'accept-encoding': 'gzip' })
      expect(zlib.gunzipSync(raw).equals(Buffer.from(body))).toBe(true)
      // a tile with nothing in it
      const empty = await fetch(`${base}/tiles/layer:hand/${Z}/${x + 3}/${y}.mvt`)
      expect(empty.status).toBe(204)
      const tj = await (await fetch(`${base}/tiles/${encodeURIComponent('layer:hand@2020')}.json`)).json()
      expect(tj.tilejson).toBe('3.0.0')
      expect(tj.tiles[0]).toBe(`${base}/tiles/${encodeURIComponent('layer:hand@2020')}/{z}/{x}/{y}.mvt`)
      expect(tj.vector_layers[0].id).toBe('features')
      expect(tj.bounds[0]).toBeCloseTo(118.0, 9)
      expect(tj.bounds[3]).toBeCloseTo(30.02, 9)
    })

    it('shares one computation among concurrent misses and keys the cache by input versions', async () => {
      const cache = (await import('../server/tiles/tile-cache.ts')).TileCache
      const settings = { ...loadSettings({}), rasterDir: path.join(dir, 'r2'), tileCacheDir: path.join(dir, 't2') }
      const app = createApp({ db, settings })
      const tc = app.locals.tileCache as InstanceType<typeof cache>
      const srv = createServer({ db, settings }, app).listen(0, '127.0.0.1')
      const b2 = await baseUrl(srv)
      try {
        const url = `${b2}/tiles/units:hand_units/${z}/${x}/${y}.mvt`
        const res = await Promise.all(Array.from({ length: 12 }, () => fetch(url)))
        expect(res.map((r) => r.status)).toEqual(Array(12).fill(200))
        const how = res.map((r) => r.headers.get('x-tile-cache'))
        expect(how.filter((h) => h === 'miss')).toHaveLength(1)
        expect(tc.misses).toBe(1)
        const before = Buffer.from(await (await fetch(url)).arrayBuffer())
        // replacing the unit set changes the version: a new tile, not the cached one
        await importUnits(db, {
          file: writeJson(dir, 'units2.geojson', featureCollection([{ props: { code: 'U9' }, geometry: poly(box(118.0, 30.0, 118.01, 30.01)) }], 'EPSG:4490')),
          set: 'hand_units', replace: true, maxBytes: MAX,
        })
        const after = await fetch(url)
        expect(after.headers.get('x-tile-cache')).toBe('miss')
        expect(decode(new Uint8Array(await after.arrayBuffer())).units!.map((f) => f.properties.code)).toEqual(['U9'])
        expect(decode(before).units).toHaveLength(2)
      } finally {
        await new Promise((r) => srv.close(r))
      }
    })

    it('refuses bad sources and tiles with clear errors', async () => {
      const bad = async (p: string, status: number, msg: RegExp) => {
        const r = await fetch(base + p)
        expect(r.status).toBe(status)
        expect((await r.json()).error.message).toMatch(msg)
      }
      await bad('/tiles/hand/1/0/0.mvt', 400, /layer:NAME/)
      await bad('/tiles/layer:nope/1/0/0.mvt', 404, /no layer 'nope'/)
      await bad('/tiles/layer:hand@1999/1/0/0.mvt', 404, /no vintage 1999/)
      await bad('/tiles/layer:hand/1/2/0.mvt', 400, /does not exist/)
      await bad('/tiles/layer:hand/23/0/0.mvt', 400, /zoom/)
      await bad('/tiles/layer:hand/x/0/0.mvt', 400, /not a number/)
      await bad('/tiles/change:hand@2020,2020/1/0/0.mvt', 400, /same vintage/)
      await bad('/tiles/layer:hand/1/0/0.mvt?run=1', 400, /units:SET/)
      await bad('/tiles/units:hand_units/1/0/0.mvt?run=99999', 404, /run 99999/)
      await bad(`/tiles/${encodeURIComponent("layer:a';DROP TABLE layer;--")}/1/0/0.mvt`, 400, /not layer:NAME/)
    })

    it(`encodes ${backend.name === 'pg' ? 'with ST_AsMVT (PostGIS has protobuf)' : 'in JS (the embedded PostGIS has no ST_AsMVT)'}`, async () => {
      expect(await databaseEncodesMvt(db)).toBe(backend.name === 'pg')
    })
  })
}

/** GET without fetch's transparent decompression. */
async function rawGet(url: string, headers: Record<string, string>): Promise<Buffer> {
  const http = await import('node:http')
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks)))
    }).on('error', reject)
  })
}

// PostGIS's encoder against ours, on the same PostGIS and on the embedded database, over the
// sample's counties, red line and forest at z6–z12 (and the hand geometry).
describe.runIf(!!process.env.DATABASE_URL)('ST_AsMVT and the JS encoder give equivalent tiles', () => {
  const dbs: Db[] = []
  let dir: string
  beforeAll(async () => {
    dir = tmpDir()
    const pgBackend = backends().find((b) => b.name === 'pg')!
    for (const db of [await pgBackend.open(), await openDb({ dataDir: 'memory://' })]) {
      dbs.push(db)
      await loadHand(db, dir)
      for (const l of ['redline', 'forest']) {
        await ingestLayer(db, { file: path.join(SAMPLE, `layers/${l}_2023.shp`), layer: l, kind: l, vintage: '2023', categoryField: l === 'forest' ? '事权等级' : '类型', maxBytes: MAX })
        await ingestLayer(db, { file: path.join(SAMPLE, `layers/${l}_2020.shp`), layer: l, kind: l, vintage: '2020', categoryField: l === 'forest' ? '事权等级' : '类型', maxBytes: MAX })
      }
      await importUnits(db, { file: path.join(SAMPLE, 'huangshan-counties.geojson'), set: 'counties', codeField: 'code', nameField: 'name', maxBytes: MAX })
    }
  }, 300_000)
  afterAll(async () => {
    for (const db of dbs) await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('same features, properties and areas tile by tile', async () => {
    const [pgDb, lite] = dbs as [Db, Db]
    const tiles: [number, number, number][] = []
    for (const zz of [6, 8, 10, 12]) {
      const [, x0, y1] = tileOf(zz, 117.6, 29.4)
      const [, x1, y0] = tileOf(zz, 118.9, 30.45)
      const step = Math.max(1, Math.floor((x1 - x0) / 4))
      for (let tx = x0; tx <= x1; tx += step) for (let ty = y0; ty <= y1; ty += step) tiles.push([zz, tx, ty])
    }
    let compared = 0
    let worst = 0
    for (const id of ['layer:redline@2023', 'layer:forest@2020', 'units:counties', 'change:redline@2020,2023', 'layer:hand@2020']) {
      for (const [tz, tx, ty] of tiles) {
        const a = decodeLayer(await renderVectorTile(pgDb, await resolveSource(pgDb, id), tz, tx, ty))
        const b = decodeLayer(await renderVectorTile(pgDb, await resolveSource(pgDb, id), tz, tx, ty, { encoder: 'js' }))
        const c = decodeLayer(await renderVectorTile(lite, await resolveSource(lite, id), tz, tx, ty))
        for (const other of [b, c]) {
          expect([...other.keys()].sort(), `${id} ${tz}/${tx}/${ty}`).toEqual([...a.keys()].sort())
          for (const [k, fa] of a) {
            const fo = other.get(k)!
            // the two pipelines snap and clip differently: allow 0.1 tile units² per unit of
            // boundary (measured worst on the sample: 0.009)
            const d = Math.abs(fa.area - fo.area)
            worst = Math.max(worst, d / Math.max(fa.length, 1))
            expect(d, `${id} ${tz}/${tx}/${ty} ${k}`).toBeLessThanOrEqual(Math.max(fa.length, fo.length) * 0.1 + 4)
            expect(Math.sign(fa.area)).toBe(Math.sign(fo.area))
            compared++
          }
        }
      }
    }
    console.log(`compared ${compared} feature pairs; worst area difference ${worst.toFixed(3)} tile units² per unit of boundary`)
    expect(compared).toBeGreaterThan(100)
  }, 300_000)
})

/** features keyed by what identifies them on any database (properties, not ids) */
function decodeLayer(buf: Uint8Array): Map<string, { area: number; length: number }> {
  const out = new Map<string, { area: number; length: number }>()
  if (!buf.length) return out
  for (const fs_ of Object.values(decode(buf))) {
    for (const f of fs_) {
      const p = f.properties
      const key = JSON.stringify(Object.keys(p).sort().map((k) => [k, typeof p[k] === 'number' ? Number((p[k] as number).toPrecision(9)) : p[k]]))
      const m = measure(f)
      const prev = out.get(key)
      out.set(key, prev ? { area: prev.area + m.area, length: prev.length + m.length } : m)
    }
  }
  return out
}
