// GEP accounting on both databases: constant fields on an equal-area grid give every item in
// closed form (water balance, soil retention with LS on a tilted plane, CO₂/O₂ from NPP,
// climate regulation, purification, carbon stock, flood storage), values are quantity ×
// price, per-type rows add up to the unit and any partition of the ground to the whole, a
// declared grid resamples the inputs, and bad configs are refused with what to fix.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import proj4 from 'proj4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { importUnits } from '../server/units/import-units.ts'
import { rolledUp } from '../server/results/rollup.ts'
import { unitSetId } from '../server/units/unit-set.ts'
import { ingestLayer } from '../server/ingest/ingest-layer.ts'
import { ingestRaster } from '../server/raster/ingest-raster.ts'
import { closeRasterFiles } from '../server/raster/raster-store.ts'
import { gep, type GepResult } from '../server/gep/gep.ts'
import { CO2_PER_DM, O2_PER_DM, type GepRow } from '../server/gep/account.ts'
import { render } from '../server/results/export.ts'
import { checkDefinitions, computeFactors } from '../server/factors/factors.ts'
import { runAllocation } from '../server/factors/allocation.ts'
import { gepExport } from '../server/results/gep-tables.ts'
import { GEOKEYS, writeGeoTiff } from '../scripts/raster/write-geotiff.ts'
import ExcelJS from 'exceljs'
import { backends } from './helpers/backends.ts'
import { withServer } from './helpers/http.ts'
import { featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'

const MAX = 1 << 30
const ALBERS = '+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs'
const LL = '+proj=longlat +ellps=GRS80 +no_defs'
const W = 120
const H = 100
const D = 30
const [X0, Y0] = (() => { const [x, y] = proj4(LL, ALBERS).forward([118.2, 29.9]) as [number, number]; return [Math.round(x / D) * D, Math.round(y / D) * D] })()
/** classes: rows 0–9 water (11), else forest (3) west of column 60 and farmland (1) east */
const CLASS = (r: number, c: number) => (r < 10 ? 11 : c < 60 ? 3 : 1)
const SLOPE = 0.05
const ll = (c: number, r: number) => proj4(ALBERS, LL).forward([X0 + c * D, Y0 - r * D]) as [number, number]
/** a polygon of pixel coordinates (column, row), densified so edges stay straight in Albers */
function pixelPolygon(pts: [number, number][]) {
  const ring: [number, number][] = []
  for (let i = 0; i < pts.length; i++) {
    const [a, b] = [pts[i]!, pts[(i + 1) % pts.length]!]
    for (let k = 0; k < 20; k++) ring.push(ll(a[0] + ((b[0] - a[0]) * k) / 20, a[1] + ((b[1] - a[1]) * k) / 20))
  }
  ring.push(ring[0]!)
  return { type: 'Polygon' as const, coordinates: [ring] }
}
const rectPx = (c0: number, r0: number, c1: number, r1: number) => pixelPolygon([[c0, r0], [c1, r0], [c1, r1], [c0, r1]])

const TYPES = {
  forest: { runoff: 0.05, c: 0.01, p: 1, kc: 1, vegetated: true, carbon: { above: 50, below: 10, soil: 80, dead: 2 } },
  farmland: { runoff: 0.3, c: 0.3, p: 0.5, kc: 0.8, vegetated: true, carbon: { above: 5, below: 1, soil: 40, dead: 0 } },
  water: { runoff: 0, c: 0, p: 1, kc: 1, vegetated: false, carbon: { above: 0, below: 0, soil: 0, dead: 0 } },
}
const PRICES = [
  { item: '水源涵养', price: 7.06, unit: '元/m³', year: 2015, source: '甘孜州 GEP (欧阳志云 et al. 2017), reservoir cost' },
  { item: '土壤保持·减少泥沙淤积', price: 15.58, unit: '元/m³', year: 2015, source: 'test' },
  { item: '固碳', price: 100, unit: '元/t', year: 2020, source: 'test' },
  { item: '释氧', price: 1000, unit: '元/t', year: 2020, source: 'test' },
  { item: '气候调节', price: 0.6, unit: '元/kWh', year: 2020, source: 'test' },
  { item: '空气净化·SO2', price: 1260, unit: '元/t', year: 2020, source: 'test' },
  { item: '洪水调蓄', price: 7.06, unit: '元/m³', year: 2020, source: 'test' },
  { item: '农产品', price: 3000, unit: '元/t', year: 2020, source: 'test' },
  { item: '旅游康养', price: 1e6, unit: '元/万人次', year: 2020, source: 'test' },
]
export function baseConfig(over: Record<string, unknown> = {}) {
  return {
    name: 'test', year: 2023,
    ecosystem: { raster: 'lc@{year}', classes: { '3': 'forest', '1': 'farmland', '11': 'water' } },
    inputs: {
      precipitation: { raster: 'precip', unit: 'mm' }, evapotranspiration: { raster: 'et', unit: 'mm' }, npp: { raster: 'npp', unit: 'gC/m2' },
      erosivity: { raster: 'r', unit: 'MJ·mm/(ha·h·a)' }, erodibility: { raster: 'k', unit: 't·ha·h/(ha·MJ·mm)' }, dem: { raster: 'dem', unit: 'm' },
    },
    types: TYPES,
    items: {
      water_conservation: {}, soil_retention: { parts: [{ name: '减少泥沙淤积', factor: 0.24 / 1.35, unit: 'm³' }] }, carbon_sequestration: {}, oxygen_release: {},
      climate_regulation: { efficiency: 3 }, air_purification: { substances: { SO2: { unit: 'kg/(ha·a)', types: { forest: 88.65, farmland: 45 } } } },
      carbon_stock: {}, flood_regulation: { reservoirs: { layer: 'reservoir', capacity_field: 'cap', capacity_unit: '10^4 m3', factor: 0.35 } },
    },
    prices: { version: 'test-2023', rows: PRICES },
    tables: [
      { unit_code: 'U1', category: 'material', item: '农产品', quantity: 10, unit: 't' },
      { unit_code: 'U2', category: 'cultural', item: '旅游康养', quantity: 2, unit: '万人次' },
    ],
    ...over,
  }
}

/** LS of a plane sloping east at SLOPE, column c (Desmet & Govers, McCool; aspect along x) */
function lsAt(c: number): number {
  const sin = SLOPE / Math.sqrt(1 + SLOPE * SLOPE)
  const beta = sin / 0.0896 / (3 * Math.pow(sin, 0.8) + 0.56)
  const m = beta / (1 + beta)
  const A = c * D * D
  const L = (Math.pow(A + D * D, m + 1) - Math.pow(A, m + 1)) / (Math.pow(D, m + 2) * Math.pow(22.13, m))
  return L * (10.8 * sin + 0.03)
}

const item = (r: GepResult, unit: string, name: string, eco = '*', year = 2023) => r.rows.find((x) => x.unit_code === unit && x.item === name && x.ecosystem === eco && x.year === year)

for (const backend of backends()) {
  describe(`GEP on ${backend.name}`, () => {
    let db: Db
    let dir: string
    let store: string
    beforeAll(async () => {
      db = await backend.open()
      dir = tmpDir('eco-gep-')
      store = path.join(dir, 'store')
      const spec = (type: 'uint8' | 'float32', nodata?: number) => ({ width: W, height: H, type, tile: 32, compression: 'deflate' as const, transform: [X0, D, 0, Y0, 0, -D] as [number, number, number, number, number, number], geoKeys: GEOKEYS.albersCn(), nodata })
      const add = async (name: string, kind: 'categorical' | 'continuous', f: (r: number, c: number) => number, vintage = '2023') => {
        const file = path.join(dir, `${name}-${vintage}.tif`)
        writeGeoTiff(file, spec(kind === 'categorical' ? 'uint8' : 'float32', kind === 'categorical' ? 0 : -9999), (_b, r, c) => f(r, c))
        await ingestRaster(db, { file, name, vintage, kind, rasterDir: store })
      }
      await add('lc', 'categorical', CLASS)
      // 2020: the farmland east of column 100 was forest
      await add('lc', 'categorical', (r, c) => (r >= 10 && c >= 100 ? 3 : CLASS(r, c)), '2020')
      await add('precip', 'continuous', () => 1500)
      await add('et', 'continuous', () => 700)
      await add('npp', 'continuous', () => 600)
      await add('r', 'continuous', () => 4000)
      await add('k', 'continuous', () => 0.03)
      await add('dem', 'continuous', (_r, c) => 500 - SLOPE * D * c)
      // U1: forest only; U2: water, forest and farmland; 'whole' and 'parts': one ground, cut two ways
      const units = [
        { props: { code: 'U1' }, geometry: rectPx(10, 20, 50, 60) },
        { props: { code: 'U2' }, geometry: rectPx(50, 5, 100, 45) },
      ]
      await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection(units, 'EPSG:4490')), set: 'u', maxBytes: MAX })
      // a unit hanging 20 pixels over the east edge of the rasters (of 60 columns: a third outside)
      await importUnits(db, { file: writeJson(dir, 'edge.geojson', featureCollection([{ props: { code: 'E' }, geometry: rectPx(80, 20, 140, 50) }], 'EPSG:4490')), set: 'edge', maxBytes: MAX })
      await importUnits(db, { file: writeJson(dir, 'whole.geojson', featureCollection([{ props: { code: 'W' }, geometry: rectPx(5, 3, 115, 97) }], 'EPSG:4490')), set: 'whole', maxBytes: MAX })
      // a diagonal cut through pixels: partial pixels on every row
      const parts = [
        { props: { code: 'P1' }, geometry: pixelPolygon([[5, 3], [70.3, 3], [40.7, 97], [5, 97]]) },
        { props: { code: 'P2' }, geometry: pixelPolygon([[70.3, 3], [115, 3], [115, 50], [55.5, 50]]) },
        { props: { code: 'P3' }, geometry: pixelPolygon([[55.5, 50], [115, 50], [115, 97], [40.7, 97]]) },
      ]
      await importUnits(db, { file: writeJson(dir, 'parts.geojson', featureCollection(parts, 'EPSG:4490')), set: 'parts', maxBytes: MAX })
      // the land cover as a layer of three patches with 三调-like categories (a vector ecosystem map)
      const patches = [
        { props: { dlbm: '11' }, geometry: rectPx(0, 0, W, 10) },
        { props: { dlbm: '3' }, geometry: rectPx(0, 10, 60, H) },
        { props: { dlbm: '1' }, geometry: rectPx(60, 10, W, H) },
      ]
      await ingestLayer(db, { file: writeJson(dir, 'landuse.geojson', featureCollection(patches, 'EPSG:4490')), layer: 'landuse', kind: 'other', vintage: '2023', categoryField: 'dlbm', maxBytes: MAX })
      // a reservoir of 100·10⁴ m³ capacity, 3/8 of it inside U2 (columns 85–105, rows 20–40)
      await ingestLayer(db, { file: writeJson(dir, 'res.geojson', featureCollection([{ props: { cap: 100 }, geometry: rectPx(85, 20, 105, 40) }], 'EPSG:4490')), layer: 'reservoir', kind: 'water', vintage: '2023', maxBytes: MAX })
    }, 120_000)
    afterAll(async () => {
      await closeRasterFiles()
      await db?.close()
    })

    it('constant fields give every item in closed form; value = quantity × price', async () => {
      const r = await gep(db, { units: 'u', config: baseConfig() }, store)
      const px = D * D
      // U1: 40×40 forest pixels
      const aF = 1600 * px
      expect(item(r, 'U1', '水源涵养', '森林')!.quantity).toBeCloseTo((1500 * (1 - 0.05) - 700) * 1e-3 * aF, 3)
      expect(item(r, 'U1', '水源涵养')!.value_yuan).toBeCloseTo((1500 * 0.95 - 700) * 1e-3 * aF * 7.06, 1)
      // soil retention: Σ over columns of R·K·LS·(1 − C·P)·A
      let sr1 = 0
      for (let c = 10; c < 50; c++) sr1 += 4000 * 0.03 * lsAt(c) * (1 - 0.01) * 40 * px * 1e-4
      expect(item(r, 'U1', '土壤保持')!.quantity! / sr1 - 1).toBeLessThan(1e-6)
      expect(Math.abs(item(r, 'U1', '土壤保持')!.quantity! / sr1 - 1)).toBeLessThan(1e-6)
      const sed = item(r, 'U1', '土壤保持·减少泥沙淤积')!
      expect(sed.quantity! / (sr1 * 0.24 / 1.35) - 1).toBeLessThan(1e-6)
      expect(item(r, 'U1', '土壤保持')!.value_yuan).toBeCloseTo(sed.quantity! * 15.58, 3)
      // CO₂ and O₂: NPP 600 gC/m² = 600/0.45 g dry matter
      const dm = (600 / 0.45) * aF * 1e-6
      expect(item(r, 'U1', '固碳')!.quantity).toBeCloseTo(dm * CO2_PER_DM, 6)
      expect(item(r, 'U1', '释氧')!.quantity).toBeCloseTo(dm * O2_PER_DM, 6)
      expect(CO2_PER_DM).toBeCloseTo(1.63, 2)
      expect(O2_PER_DM).toBeCloseTo(1.18, 2)
      // climate: 700 kg/m² of water × 2.45 MJ/kg / 3.6 MJ/kWh / 3
      expect(item(r, 'U1', '气候调节')!.quantity).toBeCloseTo((700 * aF * 2.45) / 3.6 / 3, 0)
      expect(item(r, 'U1', '空气净化·SO2')!.quantity).toBeCloseTo((88.65 * aF) / 1e4 / 1e3, 9)
      expect(item(r, 'U1', '碳储量')!.quantity).toBeCloseTo((142 * aF) / 1e4, 6)
      expect(item(r, 'U1', '碳储量')!.value_yuan).toBeNull()
      // U2: water 5×50, forest 10×35, farmland 40×35 pixels
      const [aW, aFo, aFa] = [250 * px, 350 * px, 1400 * px]
      expect(item(r, 'U2', '水源涵养', '水体')!.quantity).toBeCloseTo((1500 - 700) * 1e-3 * aW, 3)
      expect(item(r, 'U2', '水源涵养', '农田')!.quantity).toBeCloseTo((1500 * 0.7 - 700) * 1e-3 * aFa, 3)
      expect(item(r, 'U2', '水源涵养')!.quantity).toBeCloseTo(((1500 - 700) * aW + (1425 - 700) * aFo + (1050 - 700) * aFa) * 1e-3, 2)
      // flood: 100·10⁴ m³ × 0.35, 15/20 of the reservoir's columns inside U2 (ellipsoidal areas: 1e-4)
      expect(item(r, 'U2', '洪水调蓄')!.quantity! / (100e4 * 0.35 * 0.75) - 1).toBeLessThan(1e-4)
      expect(Math.abs(item(r, 'U2', '洪水调蓄')!.quantity! / (100e4 * 0.35 * 0.75) - 1)).toBeLessThan(1e-4)
      expect(item(r, 'U1', '洪水调蓄')!.quantity).toBe(0)
      // tables: material and cultural
      expect(item(r, 'U1', '农产品')!.value_yuan).toBe(30000)
      expect(item(r, 'U2', '旅游康养')!.value_yuan).toBe(2e6)
      // identities: per-type rows add to '*', items to categories, categories to GEP
      for (const u of ['U1', 'U2']) {
        const mine = r.rows.filter((x) => x.unit_code === u)
        for (const it of new Set(mine.filter((x) => x.ecosystem !== '*').map((x) => x.item))) {
          const parts = mine.filter((x) => x.item === it && x.ecosystem !== '*')
          const star = mine.find((x) => x.item === it && x.ecosystem === '*')!
          if (star.quantity !== null) expect(parts.reduce((s, x) => s + x.quantity!, 0)).toBeCloseTo(star.quantity, 6)
          if (star.value_yuan !== null) expect(parts.reduce((s, x) => s + x.value_yuan!, 0)).toBeCloseTo(star.value_yuan, 6)
        }
        const cats = mine.filter((x) => x.item === '*' && x.category !== '*')
        const top = mine.filter((x) => x.ecosystem === '*' && x.part_of === null && x.item !== '*' && x.category !== 'stock')
        for (const c of cats) expect(top.filter((x) => x.category === c.category).reduce((s, x) => s + x.value_yuan!, 0)).toBeCloseTo(c.value_yuan!, 6)
        const g = mine.find((x) => x.category === '*')!
        expect(cats.reduce((s, x) => s + x.value_yuan!, 0)).toBeCloseTo(g.value_yuan!, 6)
        expect(r.units.find((x) => x.unit_code === u)!.gep_yuan).toBe(g.value_yuan)
      }
      // the long-form CSV contract
      const csv = (await render(db, 'csv', gepExport(r, 0))).body as string
      expect(csv.replace(/^\ufeff/, '').split(/\r?\n/)[0]).toBe('unit_code,unit_name,year,category,item,ecosystem,quantity,quantity_unit,price,price_unit,value_yuan,item_id,part_of,nodata_m2')
    })

    it('soil retention: streams (accumulation above the threshold) erode nothing; L capped at l_max', async () => {
      const cfg = baseConfig({ tables: [], items: { soil_retention: { stream_threshold: 30, l_max: 3, parts: [{ name: '减少泥沙淤积', factor: 1, unit: 'm³' }] }, water_conservation: {} } })
      const r = await gep(db, { units: 'u', config: cfg }, store)
      let sr1 = 0
      const lCap = (c: number) => Math.min(3, lsAt(c) / (10.8 * (SLOPE / Math.sqrt(1 + SLOPE * SLOPE)) + 0.03)) * (10.8 * (SLOPE / Math.sqrt(1 + SLOPE * SLOPE)) + 0.03)
      // accumulation on the plane is column + 1: columns ≥ 30 are streams
      for (let c = 10; c < 30; c++) sr1 += 4000 * 0.03 * lCap(c) * (1 - 0.01) * 40 * D * D * 1e-4
      expect(Math.abs(item(r, 'U1', '土壤保持')!.quantity! / sr1 - 1)).toBeLessThan(1e-6)
    })

    it('a land-cover layer rasterized onto a declared grid gives the account of the same raster', async () => {
      const items = { water_conservation: {}, carbon_sequestration: {}, air_purification: baseConfig().items.air_purification }
      const viaLayer = await gep(db, { units: 'u', config: baseConfig({ grid: { crs: 'ALBERS-CN', resolution: 30 }, ecosystem: { layer: 'landuse', classes: { '3': 'forest', '1': 'farmland', '11': 'water' } }, tables: [], items }) }, store)
      const viaRaster = await gep(db, { units: 'u', config: baseConfig({ tables: [], items }) }, store)
      expect(viaLayer.inputs['2023']![0]).toMatchObject({ role: 'ecosystem', layer: true, raster: 'landuse' })
      for (const u of ['U1', 'U2']) {
        for (const eco of ['*', '森林', '农田', '水体']) {
          const a = item(viaRaster, u, '水源涵养', eco)
          if (!a) continue
          const b = item(viaLayer, u, '水源涵养', eco)!.quantity!
          if (a.quantity === 0) expect(Math.abs(b), `${u} ${eco}`).toBeLessThan(1e-6)
          else expect(Math.abs(b / a.quantity! - 1), `${u} ${eco}`).toBeLessThan(1e-9)
        }
      }
      await expect(gep(db, { units: 'u', config: baseConfig({ ecosystem: { layer: 'landuse', classes: { '3': 'forest', '1': 'farmland', '11': 'water' } } }) }, store)).rejects.toThrow(/declare the model grid/)
      await expect(gep(db, { units: 'u', config: baseConfig({ grid: { crs: 'ALBERS-CN', resolution: 30 }, ecosystem: { layer: 'landuse', classes: { '3': 'forest', '1': 'farmland' } } }) }, store)).rejects.toThrow(/does not map category 11 of layer landuse@2023/)
      await expect(gep(db, { units: 'u', config: baseConfig({ ecosystem: { raster: 'lc@{year}', layer: 'landuse', classes: {} } }) }, store)).rejects.toThrow(/either raster or layer/)
    })

    it('any partition of the ground adds up to the whole (partial pixels on a diagonal cut)', async () => {
      const cfg = baseConfig({ tables: [], items: { ...baseConfig().items, flood_regulation: undefined } })
      const whole = await gep(db, { units: 'whole', config: cfg }, store)
      const parts = await gep(db, { units: 'parts', config: cfg }, store)
      const sum = (r: GepResult, name: string, eco = '*') => r.rows.filter((x) => x.item === name && x.ecosystem === eco).reduce((s, x) => s + (x.quantity ?? x.value_yuan ?? 0), 0)
      for (const name of ['水源涵养', '土壤保持', '固碳', '释氧', '气候调节', '空气净化·SO2', '碳储量', '*']) {
        for (const eco of ['*', '森林', '农田', '水体']) {
          const a = sum(whole, name, eco)
          if (!a) continue
          expect(Math.abs(sum(parts, name, eco) / a - 1), `${name} ${eco}`).toBeLessThan(1e-9)
        }
      }
    })

    it('rolled up to the parent, the parts give the whole measured directly (1e-6): values, quantities, per km², extent shares', async () => {
      const parts = [
        { props: { code: 'P1', parent: 'W' }, geometry: pixelPolygon([[5, 3], [70.3, 3], [40.7, 97], [5, 97]]) },
        { props: { code: 'P2', parent: 'W' }, geometry: pixelPolygon([[70.3, 3], [115, 3], [115, 50], [55.5, 50]]) },
        { props: { code: 'P3', parent: 'W' }, geometry: pixelPolygon([[55.5, 50], [115, 50], [115, 97], [40.7, 97]]) },
      ]
      await importUnits(db, { file: writeJson(dir, 'parts-w.geojson', featureCollection(parts, 'EPSG:4490')), set: 'parts_w', parentField: 'parent', maxBytes: MAX })
      const cfg = baseConfig({ tables: [], items: { ...baseConfig().items, flood_regulation: undefined } })
      const up = await rolledUp(db, gepExport(await gep(db, { units: 'parts_w', config: cfg }, store), await unitSetId(db, 'parts_w')), 'parent')
      const whole = gepExport(await gep(db, { units: 'whole', config: cfg }, store), await unitSetId(db, 'whole'))
      for (const [table, key] of [['units', ['year']], ['gep', ['year', 'category', 'item', 'ecosystem']], ['extent', ['year', 'ecosystem']]] as const) {
        const want = new Map((whole.tables.find((t) => t.name === table)!.rows as Record<string, unknown>[]).map((r) => [key.map((k) => r[k]).join('|'), r]))
        const got = up.tables.find((t) => t.name === table)!.rows as Record<string, unknown>[]
        expect(got.length, table).toBe(want.size)
        for (const g of got) {
          const w = want.get(key.map((k) => g[k]).join('|'))!
          expect(g.unit_code).toBe('W')
          // areas within 1e-6 of the unit's area (an uncovered area of 0 sums to float noise), the rest within 1e-6 relative
          const scale = (c: string, v: number) => Math.max(1, Math.abs(v), c.endsWith('_m2') ? Number(whole.tables[1]!.rows[0] && (whole.tables[1]!.rows[0] as { area_m2: number }).area_m2) : 0)
          for (const [c, v] of Object.entries(w)) if (typeof v === 'number') expect(Math.abs((g[c] as number) - v), `${table} ${c}`).toBeLessThanOrEqual(1e-6 * scale(c, v))
        }
      }
    })

    it('--compare: ΔGEP per unit with a decline flag, constant prices; carbon stock change', async () => {
      // tables without a year count for the config's year only: none here, so both years are alike
      const r = await gep(db, { units: 'u', config: baseConfig({ tables: [], thresholds: { max_nodata_share: 0.02, decline_share: 0.01 } }), compare: 2020 }, store)
      expect(r.years).toEqual([2020, 2023])
      const g = r.change.find((c) => c.unit_code === 'U2' && c.category === '*')!
      // U2 lost forest east of column 100? No: U2 ends at column 100, so nothing changed there
      expect(Math.abs(g.delta_yuan)).toBeLessThan(1e-9 * g.value_from)
      expect(g.declined).toBe(false)
      const u1 = r.change.find((c) => c.unit_code === 'U1' && c.item === '碳储量')!
      expect(u1.delta_yuan).toBeCloseTo(0, 9)
      const w = await gep(db, { units: 'whole', config: baseConfig({ tables: [], items: { ...baseConfig().items, flood_regulation: undefined } }), compare: 2020 }, store)
      // whole: forest → farmland on columns 100–114, rows 10–96 (15 × 87 pixels)
      const lost = 15 * 87 * D * D
      const stock = w.change.find((c) => c.item === '碳储量')!
      expect(stock.delta_yuan).toBeCloseTo(((46 - 142) * lost) / 1e4, 3)
      const gw = w.change.find((c) => c.category === '*')!
      expect(gw.delta_yuan).toBeLessThan(0)
      expect(gw.declined).toBe(gw.delta_share! < -0.05)
    })

    it('a declared model grid resamples every input (recorded) and agrees with the native grid', async () => {
      const cfg = baseConfig({ grid: { crs: 'ALBERS-CN', resolution: 30 }, tables: [], items: { water_conservation: {}, carbon_sequestration: {} } })
      const r = await gep(db, { units: 'u', config: cfg }, store)
      expect(r.grid.from).toMatch(/declared: .* at 30 m/)
      expect(r.inputs['2023']!.every((i) => i.resampling !== '')).toBe(true)
      const native = await gep(db, { units: 'u', config: baseConfig({ tables: [], items: { water_conservation: {}, carbon_sequestration: {} } }) }, store)
      for (const u of ['U1', 'U2']) expect(item(r, u, '水源涵养')!.quantity! / item(native, u, '水源涵养')!.quantity! - 1).toBeLessThan(1e-6)
    })

    it('GEP as factors of an allocation: gep_total, an item value, ΔGEP and the decline flag', async () => {
      const config = baseConfig({ tables: [], items: { ...baseConfig().items, flood_regulation: undefined } })
      const defs = [
        { id: 'gep_total', label: 'GEP', measure: 'gep_total', gep: { config } },
        { id: 'wc_value', label: '水源涵养价值', measure: 'gep_value', item: 'water_conservation', gep: { config } },
        { id: 'wc_m3', label: '水源涵养量', measure: 'gep_quantity', item: 'water_conservation', gep: { config } },
        { id: 'gep_delta', label: 'ΔGEP', measure: 'gep_delta', gep: { config, compare: 2020 } },
        { id: 'gep_declined', label: 'GEP 下降', measure: 'gep_declined', gep: { config, compare: 2020 } },
      ]
      const f = await computeFactors(db, 'whole', checkDefinitions(defs), { rasterDir: store })
      const direct = await gep(db, { units: 'whole', config }, store)
      expect(f.values.get('W')!.gep_total).toBe(direct.units[0]!.gep_yuan)
      expect(f.values.get('W')!.wc_value).toBe(item(direct, 'W', '水源涵养')!.value_yuan)
      expect(f.rows.find((r) => r.factor === 'wc_m3')!.value_unit).toBe('m³')
      expect(f.values.get('W')!.gep_delta).toBeLessThan(0)
      expect(f.provenance.runs.map((r) => r.kind)).toEqual(['gep', 'gep'])
      const a = await runAllocation(db, { units: 'u', budget: 1e6, definitions: [{ id: 'gep_total', label: 'GEP', measure: 'gep_total', gep: { config: baseConfig() } }, { id: 'redline_m2', label: 'x', measure: 'area', layer: 'reservoir' }], factors: [{ factor: 'gep_total', weight: 1 }] }, { rasterDir: store })
      const r = await gep(db, { units: 'u', config: baseConfig() }, store)
      const g1 = r.units.find((u) => u.unit_code === 'U1')!.gep_yuan
      const g2 = r.units.find((u) => u.unit_code === 'U2')!.gep_yuan
      expect(a.allocation.units.find((u) => u.unit_code === 'U1')!.amount).toBeCloseTo((1e6 * g1) / (g1 + g2), 1)
      expect(() => checkDefinitions([{ id: 'g', measure: 'gep_total', gep: { config: 'gep.yaml' } }])).toThrow(/over HTTP give the config itself/)
      expect(() => checkDefinitions([{ id: 'g', measure: 'gep_delta', gep: { config } }])).toThrow(/needs gep.compare/)
    })

    it('over HTTP: POST /api/gep answers CSV, the workbook and the run; a bad config is a 400 naming the fix', async () => {
      await withServer(db, { settings: { rasterDir: store } }, async (base) => {
        const post = (body: unknown, q = '') => fetch(`${base}/api/gep${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        let res = await post({ units: 'u', config: baseConfig() }, '?format=csv&table=units')
        expect(res.status).toBe(200)
        const run = Number(res.headers.get('x-run-id'))
        const csv = (await res.text()).replace(/^\ufeff/, '').trim().split(/\r?\n/)
        expect(csv[0]).toBe('unit_code,unit_name,year,area_m2,gep_yuan,material_yuan,regulating_yuan,cultural_yuan,gep_per_km2,population,gep_per_capita,outside_m2,nodata_m2')
        expect(csv).toHaveLength(3)
        const direct = await gep(db, { units: 'u', config: baseConfig() }, store)
        expect(direct.run.id).toBe(run)
        res = await fetch(`${base}/api/runs/${run}/result?format=json`)
        const body = (await res.json()) as { rows: GepRow[]; years: number[] }
        expect(body.years).toEqual([2023])
        expect(body.rows.find((x) => x.unit_code === 'U1' && x.category === '*')!.value_yuan).toBe(direct.units[0]!.gep_yuan)
        res = await post({ units: 'u', config: baseConfig() }, '?format=xlsx')
        const wb = new ExcelJS.Workbook()
        await wb.xlsx.load(Buffer.from(await res.arrayBuffer()) as unknown as ArrayBuffer)
        expect(wb.worksheets.map((w) => w.name)).toEqual(['GEP核算表', 'gep', 'units', 'extent', 'prices', '数据来源 provenance'])
        const sheet = wb.getWorksheet('GEP核算表')!
        const gepRow = sheet.getRows(1, sheet.rowCount)!.find((r) => r.getCell(5).value === 'GEP' && r.getCell(1).value === 'U1')!
        expect(gepRow.getCell(10).value).toBeCloseTo(direct.units[0]!.gep_yuan / 1e4, 6)
        res = await post({ units: 'u', config: { ...baseConfig(), prices: { version: 'v', rows: [] } } })
        expect(res.status).toBe(400)
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/prices/)
        res = await post({ units: 'u', config: baseConfig(), extra: 1 })
        expect(res.status).toBe(400)
      })
    })

    it('a unit the rasters do not cover: refused above the threshold, the uncovered area reported below it', async () => {
      const cfg = (share: number) => baseConfig({ tables: [], items: { water_conservation: {} }, thresholds: { max_nodata_share: share, decline_share: 0.05 } })
      await expect(gep(db, { units: 'edge', config: cfg(0.02) }, store)).rejects.toThrow(/E: [0-9.]+ km² outside the model grid/)
      const r = await gep(db, { units: 'edge', config: cfg(0.5) }, store)
      const u = r.units[0]!
      // 20 of 60 columns outside the raster (ellipsoidal unit area vs Albers pixels: 1e-3)
      expect(Math.abs(u.outside_m2 / u.area_m2 - 1 / 3)).toBeLessThan(1e-3)
      expect(item(r, 'E', '水源涵养')!.quantity).toBeCloseTo((1500 * 0.7 - 700) * 1e-3 * 40 * 30 * D * D, 3)
    })

    it('a raster file gone from the store fails the run with its name, and nothing else (no crash while the terrain is computed)', async () => {
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-gep-empty-'))
      await expect(gep(db, { units: 'u', config: baseConfig() }, empty, { reuse: false })).rejects.toThrow(/no such file/)
      // the database answers, and the account computes again from the real store
      expect((await gep(db, { units: 'u', config: baseConfig() }, store)).units.length).toBeGreaterThan(0)
    })

    it('refuses bad configs with what to fix, and stores no run', async () => {
      const before = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run'))[0]!.n
      const bad = async (cfg: unknown, re: RegExp) => expect(gep(db, { units: 'u', config: cfg }, store)).rejects.toThrow(re)
      await bad(baseConfig({ ecosystem: { raster: 'lc@{year}', classes: { '3': 'forest', '1': 'farmland' } } }), /does not map class 11/)
      await bad(baseConfig({ ecosystem: { raster: 'lc@{year}', classes: { '3': 'jungle', '1': 'farmland', '11': 'water' } } }), /unknown ecosystem type 'jungle'/)
      await bad(baseConfig({ inputs: { ...baseConfig().inputs, precipitation: { raster: 'precip', unit: 'cm' } } }), /precipitation is declared in 'cm'/)
      await bad(baseConfig({ prices: { version: 'v', rows: PRICES.filter((p) => p.item !== '固碳') } }), /no price for '固碳'/)
      await bad(baseConfig({ prices: { version: 'v', rows: PRICES.map((p) => (p.item === '水源涵养' ? { ...p, unit: '元/t' } : p)) } }), /price of '水源涵养' is in 元\/t but its quantity is in m³/)
      await bad(baseConfig({ tables: [{ unit_code: 'X9', category: 'material', item: '农产品', quantity: 1, unit: 't' }] }), /unit code X9 not in unit set u/)
      await bad(baseConfig({ inputs: { precipitation: { raster: 'precip', unit: 'mm' } } }), /item water_conservation needs inputs.evapotranspiration/)
      const after = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run'))[0]!.n
      expect(after).toBe(before)
    })
  })
}
