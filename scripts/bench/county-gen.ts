// A seeded generator of county-like inputs, written straight into the feature table
// (ingestion is measured elsewhere: large-ingest.ts). What it makes, per km²:
//   forest, farmland, wetland  land-survey-like patches (~0.49 ha, 17 vertices) from one
//                              jittered tiling, so that patches of the three layers share
//                              edges exactly, as 三调 图斑 do; 3 % of forest patches get an
//                              overlapping second polygon of another class (digitising
//                              overlaps, which flattening must count once)
//   redline                    irregular blobs of 0.4–2.5 km radius, ~160–480 vertices,
//                              overlapping each other and everything else
//   protected_area             fewer, larger blobs, three types, overlapping the red line
// All with categories. `scale` multiplies the area (1× = 4 km × 4 km, ~3 000 features);
// the same seed and scale always give the same features.
import { performance } from 'node:perf_hooks'
import type { Db } from '../../server/db/db.ts'
import { prepareLayer } from '../../server/stats/cells/read/contacts.ts'

export interface CountyOptions {
  /** area multiplier: side = 4 km × √scale */
  scale: number
  seed?: number
  /** centre, degrees (default: 118.3 E, 29.8 N, 黄山) */
  lon0?: number
  lat0?: number
  /** layer name prefix, so that several sizes can live in one database */
  prefix?: string
  /** patch spacing in metres (default 70 m: 204 patches per km² before labelling) */
  spacing?: number
  /** find and keep each layer's contacts as an import does (default true; stats/cells/read/contacts.ts) */
  prepare?: boolean
}

export interface GeneratedCounty {
  bbox: [number, number, number, number]
  sideKm: number
  layers: { name: string; id: number; features: number; vertices: number }[]
  /** seconds spent finding the layers' contacts (part of an import's cost) */
  prepareS: number
}

const FOREST = ['国家级公益林', '省级公益林']
const FARMLAND = ['0101', '0102', '0103']
const WETLAND = ['河流湿地', '湖泊湿地', '沼泽湿地']
const REDLINE = ['水源涵养', '生物多样性维护', '水土保持']
const PROTECTED = ['国家公园', '自然保护区', '自然公园']

/** Deterministic noise in [0, 1) from integers (a small avalanche hash). */
export function noise(seed: number, ...xs: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x85ebca6b) >>> 0
    h = (h ^ (h >>> 13)) >>> 0
    h = Math.imul(h, 0xc2b2ae35) >>> 0
    h = (h ^ (h >>> 16)) >>> 0
  }
  return h / 2 ** 32
}

type Ring = [number, number][]

export async function generateCounty(db: Db, o: CountyOptions): Promise<GeneratedCounty> {
  const seed = o.seed ?? 20261123
  const d = o.spacing ?? 70
  const side = 4000 * Math.sqrt(o.scale)
  const lon0 = o.lon0 ?? 118.3
  const lat0 = o.lat0 ?? 29.8
  const prefix = o.prefix ?? ''
  // local metres → degrees (synthetic data: a local equirectangular frame is enough)
  const mPerDegLat = 110_946
  const mPerDegLon = 111_320 * Math.cos((lat0 * Math.PI) / 180)
  const toLonLat = ([x, y]: [number, number]): [number, number] => [lon0 + (x - side / 2) / mPerDegLon, lat0 + (y - side / 2) / mPerDegLat]

  // the tiling: node (i, j) jittered by up to ±22 % of the spacing; each edge gets three
  // inner vertices pushed sideways by up to ±7 %, the same for both patches sharing it
  const n = Math.floor(side / d)
  const node = (i: number, j: number): [number, number] => [
    i * d + (i > 0 && i < n ? (noise(seed, 1, i, j) - 0.5) * 0.44 * d : 0),
    j * d + (j > 0 && j < n ? (noise(seed, 2, i, j) - 0.5) * 0.44 * d : 0),
  ]
  const edge = (a: [number, number], b: [number, number], id: number[], border: boolean): Ring => {
    const out: Ring = []
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]]
    for (let k = 1; k <= 3; k++) {
      const off = border ? 0 : (noise(seed, 3, k, ...id) - 0.5) * 0.14
      out.push([a[0] + (dx * k) / 4 - dy * off, a[1] + (dy * k) / 4 + dx * off])
    }
    return out
  }
  const hEdge = (i: number, j: number) => [node(i, j), ...edge(node(i, j), node(i + 1, j), [0, i, j], j === 0 || j === n)] as Ring
  const vEdge = (i: number, j: number) => [node(i, j), ...edge(node(i, j), node(i, j + 1), [1, i, j], i === 0 || i === n)] as Ring
  const patch = (i: number, j: number): Ring => {
    const bottom = hEdge(i, j)
    const right = vEdge(i + 1, j)
    const top = [...hEdge(i, j + 1), node(i + 1, j + 1)].reverse().slice(0, -1) as Ring
    const left = [...vEdge(i, j), node(i, j + 1)].reverse().slice(0, -1) as Ring
    const ring = [...bottom, ...right, ...top, ...left]
    return [...ring, ring[0]!]
  }
  const blob = (cx: number, cy: number, r: number, k: number, vertices: number): Ring => {
    const ring: Ring = []
    const phases = [noise(seed, 7, k, 1), noise(seed, 7, k, 2), noise(seed, 7, k, 3)].map((p) => p * 2 * Math.PI)
    for (let v = 0; v < vertices; v++) {
      const t = (2 * Math.PI * v) / vertices
      const rr = r * (1 + 0.25 * Math.sin(3 * t + phases[0]!) + 0.12 * Math.sin(7 * t + phases[1]!) + 0.05 * Math.sin(19 * t + phases[2]!))
      ring.push([cx + rr * Math.cos(t), cy + rr * Math.sin(t)])
    }
    return [...ring, ring[0]!]
  }

  const out: Record<string, { cat: string; ring: Ring }[]> = { forest: [], farmland: [], wetland: [], redline: [], protected_area: [] }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const u = noise(seed, 4, i, j)
      const c = noise(seed, 5, i, j)
      if (u < 0.42) {
        out.forest!.push({ cat: FOREST[Math.floor(c * FOREST.length)]!, ring: patch(i, j) })
        if (noise(seed, 6, i, j) < 0.03) {
          // a second, overlapping polygon of the other class: 0.6 × the patch, shifted
          const ring = patch(i, j)
          const [cx, cy] = [(i + 0.5) * d, (j + 0.5) * d]
          out.forest!.push({ cat: FOREST[(Math.floor(c * FOREST.length) + 1) % FOREST.length]!, ring: ring.map(([x, y]) => [cx + (x - cx) * 0.6 + 0.3 * d, cy + (y - cy) * 0.6]) })
        }
      } else if (u < 0.74) out.farmland!.push({ cat: FARMLAND[Math.floor(c * FARMLAND.length)]!, ring: patch(i, j) })
      else if (u < 0.79) out.wetland!.push({ cat: WETLAND[Math.floor(c * WETLAND.length)]!, ring: patch(i, j) })
    }
  }
  const km2 = (side / 1000) ** 2
  const blobs = (count: number, rMin: number, rMax: number, cats: string[], key: number) => {
    for (let k = 0; k < count; k++) {
      const r = rMin + (rMax - rMin) * noise(seed, key, k, 1)
      const [cx, cy] = [noise(seed, key, k, 2) * side, noise(seed, key, k, 3) * side]
      const ring = blob(cx, cy, r, key * 100000 + k, Math.round(160 + 320 * noise(seed, key, k, 4)))
        .map(([x, y]) => [Math.min(side, Math.max(0, x)), Math.min(side, Math.max(0, y))] as [number, number])
      ;(key === 8 ? out.redline! : out.protected_area!).push({ cat: cats[Math.floor(noise(seed, key, k, 5) * cats.length)]!, ring })
    }
  }
  blobs(Math.max(2, Math.round(km2 / 4)), 400, 2500, REDLINE, 8)
  blobs(Math.max(1, Math.round(km2 / 12)), 800, 3500, PROTECTED, 9)

  const layers: GeneratedCounty['layers'] = []
  for (const [kind, items] of Object.entries(out)) {
    const name = `${prefix}${kind}`
    await db.query('DELETE FROM layer WHERE name = $1', [name])
    const [layer] = await db.query<{ id: number }>(
      `INSERT INTO layer (name, kind, vintage, source_file, source_checksum, source_crs, category_field, feature_count, report)
       VALUES ($1, $2, '2025', 'county-gen', $3, 'EPSG:4490', 'class', $4, '{}') RETURNING id`,
      [name, kind, `seed:${seed}:scale:${o.scale}`, items.length],
    )
    let vertices = 0
    for (let b = 0; b < items.length; b += 2000) {
      const chunk = items.slice(b, b + 2000)
      const wkt = chunk.map((it) => {
        vertices += it.ring.length
        // clamping blob vertices to the square can repeat a point; ST_RemoveRepeatedPoints below
        return `POLYGON((${it.ring.map((p) => toLonLat(p).map((v) => v.toFixed(9)).join(' ')).join(',')}))`
      })
      await db.query(
        `WITH src AS (
           SELECT i, c, ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_RemoveRepeatedPoints(ST_GeomFromText(w, 4490))), 3)) AS g
           FROM unnest($2::int[], $3::text[], $4::text[]) AS x(i, c, w)
         ),
         ins AS (
           INSERT INTO feature (layer_id, src_index, attributes, category, geom, area_m2, zone)
           SELECT $1, i, jsonb_build_object('class', c), c, g, ST_Area(g::geography), gk6_zone((ST_XMin(g) + ST_XMax(g)) / 2) FROM src RETURNING 1
         )
         SELECT count(*)::int AS n FROM ins`,
        [layer!.id, chunk.map((_, k) => b + k), chunk.map((it) => it.cat), wkt],
      )
    }
    // as an import records it: how far a feature's box centre lies from its edge (migration 018)
    await db.query('UPDATE layer SET zone_reach = (SELECT max(box_x1 - box_x0) / 2 FROM feature WHERE layer_id = $1) WHERE id = $1', [layer!.id])
    layers.push({ name, id: layer!.id, features: items.length, vertices })
  }
  await db.query('ANALYZE feature')
  const t0 = performance.now()
  if (o.prepare !== false) for (const l of layers) await prepareLayer(db, l.id)
  const prepareS = (performance.now() - t0) / 1000
  const [w, s] = toLonLat([0, 0])
  const [e, nn] = toLonLat([side, side])
  return { bbox: [w, s, e, nn], sideKm: side / 1000, layers, prepareS }
}
