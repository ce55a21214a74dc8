// The GEP account without a database: published value rows recomputed from their quantities
// and prices (甘孜州 GEP, 欧阳志云 et al. 2017, Table 3), InVEST's Fu water yield by hand,
// the photosynthesis coefficients, and a config read with its price and unit tables from files.
import fs from 'node:fs'
import path from 'node:path'
import ExcelJS from 'exceljs'
import { describe, expect, it } from 'vitest'
import { accountUnit, CO2_PER_DM, O2_PER_DM } from '../server/gep/account.ts'
import { checkClassMapping } from '../server/gep/class-mapping.ts'
import { checkConfig, readConfig } from '../server/gep/config.ts'
import { FIELDS, fuYield, rowWidth } from '../server/gep/kernel.ts'
import { tmpDir } from './helpers/fixtures.ts'

const W = rowWidth()
const at = (f: (typeof FIELDS)[number]) => 1 + 2 * FIELDS.indexOf(f)

/** class sums of one class (forest), then unmapped and no-data rows */
function sums(set: Partial<Record<(typeof FIELDS)[number], number>>, area = 1e6) {
  const data = new Array(3 * W).fill(0)
  data[0] = area
  for (const [f, v] of Object.entries(set)) data[at(f as (typeof FIELDS)[number])] = v
  return data
}

const base = {
  year: 2015,
  ecosystem: { raster: 'lc', classes: { '1': 'forest' } },
  inputs: { precipitation: { raster: 'p', unit: 'mm' }, evapotranspiration: { raster: 'et', unit: 'mm' }, erosivity: { raster: 'r', unit: 'MJ·mm/(ha·h·a)' }, erodibility: { raster: 'k', unit: 't·ha·h/(ha·MJ·mm)' }, dem: { raster: 'dem', unit: 'm' } },
  types: { forest: { runoff: 0, c: 0, p: 1 } },
}

describe('GEP account', () => {
  it('甘孜州 Table 3: 水源涵养 321.49 亿 m³ × 7.06 元/m³ = 2 269.71 亿元; 减少泥沙淤积 10.03 亿 m³ × 15.58 元/m³ = 156.26 亿元', () => {
    const c = checkConfig({
      ...base,
      items: { water_conservation: {}, soil_retention: { parts: [{ name: '减少泥沙淤积', factor: 1, unit: 'm³' }] } },
      prices: { version: 'ganzi-2015', rows: [
        { item: '水源涵养', price: 7.06, unit: '元/m³', year: 2015, source: '欧阳志云 et al. 2017, 生态学报 37(19):6302, Table 3' },
        { item: '土壤保持·减少泥沙淤积', price: 15.58, unit: '元/m³', year: 2015, source: 'ibid.' },
      ] },
    })
    // quantities as the table prints them: Q = ΣP·(1 − α) − ΣET (mm·m²) × 1e-3; soil retention R·K·LS·A × 1e-4 with C = 0
    const data = sums({ wb_p: 321.49e8 * 1e3, wb_et: 0, rkls: 10.03e8 * 1e4 })
    const rows = accountUnit(c, checkClassMapping(c.ecosystem.classes, ['forest'], 'm'), ['1'], { code: '513300', name: '甘孜州' }, 2015, { data }, [])
    const row = (item: string) => rows.find((r) => r.item === item && r.ecosystem === '*')!
    expect(row('水源涵养').quantity).toBeCloseTo(321.49e8, -2)
    // published values are rounded to 0.01 亿元 from quantities rounded to 0.01 亿
    expect(Math.abs(row('水源涵养').value_yuan! / 1e8 - 2269.71)).toBeLessThan(0.011)
    expect(Math.abs(row('土壤保持·减少泥沙淤积').value_yuan! / 1e8 - 156.26)).toBeLessThan(0.011)
    expect(row('土壤保持').value_yuan).toBe(row('土壤保持·减少泥沙淤积').value_yuan)
    const regulating = rows.find((r) => r.category === 'regulating' && r.item === '*')!
    expect(regulating.value_yuan).toBeCloseTo(row('水源涵养').value_yuan! + row('土壤保持').value_yuan!, 0)
  })

  it("InVEST's Fu water yield by hand", () => {
    // P 1000, ET0 1200, Kc 1, AWC 100, Z 5: ω = 1.75, AET/P = 2.2 − (1 + 1.2^1.75)^(1/1.75)
    expect(fuYield(1000, 1200, 100, 1, true, 5)).toBeCloseTo(439.65482525801144, 9)
    expect(fuYield(800, 1200, 100, 1, true, 5)).toBeCloseTo(272.417386447176, 9)
    // ω is capped at 5; non-vegetated: AET = min(Kc·ET0, P)
    // P 100, ET0 100, AWC 1000: ω = 51.25 → 5; Y = P − (2 − 2^(1/5))·P = 14.8698…
    expect(fuYield(100, 100, 1000, 1, true, 5)).toBeCloseTo(14.869835499703509, 9)
    expect(fuYield(800, 1200, 100, 0.5, false, 5)).toBe(200)
    expect(fuYield(0, 1200, 100, 1, true, 5)).toBe(0)
  })

  it('CO₂ and O₂ per gram of dry matter from the photosynthesis equation (the literature rounds to 1.62 and 1.20)', () => {
    expect(CO2_PER_DM).toBeCloseTo(1.62857, 4)
    expect(O2_PER_DM).toBeCloseTo(1.18411, 4)
    expect(Math.abs(CO2_PER_DM - 1.62)).toBeLessThan(0.01)
    expect(Math.abs(O2_PER_DM - 1.2)).toBeLessThan(0.02)
  })

  it('reads prices (CSV), unit tables (XLSX) and population from files named in the config', async () => {
    const dir = tmpDir('eco-gepcfg-')
    fs.writeFileSync(path.join(dir, 'prices.csv'), 'item,price,unit,year,source,method\n水源涵养,7.06,元/m³,2015,"欧阳志云 et al. 2017, Table 3",影子工程\n农产品,3000,元/t,2023,统计年鉴,市场价值\n')
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('t')
    ws.addRow(['unit_code', 'category', 'item', 'quantity', 'unit'])
    ws.addRow(['341002', 'material', '农产品', 12.5, 't'])
    await wb.xlsx.writeFile(path.join(dir, 'tables.xlsx'))
    fs.writeFileSync(path.join(dir, 'pop.csv'), 'unit_code,population\n341002,10000\n')
    fs.writeFileSync(path.join(dir, 'gep.yaml'), ['year: 2023', 'ecosystem: {raster: lc, classes: {"1": forest}}', 'items: {}', 'prices: prices.csv', 'tables: tables.xlsx', 'population: pop.csv'].join('\n'))
    const c = checkConfig(await readConfig(path.join(dir, 'gep.yaml')))
    expect(c.prices.version).toBe('prices.csv')
    expect(c.prices.rows[0]).toMatchObject({ item: '水源涵养', price: 7.06, unit: '元/m³', year: 2015, method: '影子工程' })
    expect(c.tables).toEqual([{ unit_code: '341002', category: 'material', item: '农产品', quantity: 12.5, unit: 't' }])
    expect(c.population).toEqual({ '341002': 10000 })
    fs.writeFileSync(path.join(dir, 'bad.yaml'), ['year: 2023', 'ecosystem: {raster: lc, classes: {"1": forest}}', 'items: {}', 'prices: nowhere.csv'].join('\n'))
    await expect(readConfig(path.join(dir, 'bad.yaml'))).rejects.toThrow(/nowhere.csv \(named in bad.yaml\) does not exist/)
    fs.writeFileSync(path.join(dir, 'p2.csv'), 'item,price,unit,year,source\n水源涵养,seven,元/m³,2015,x\n')
    fs.writeFileSync(path.join(dir, 'bad2.yaml'), ['year: 2023', 'ecosystem: {raster: lc, classes: {"1": forest}}', 'items: {}', 'prices: p2.csv'].join('\n'))
    await expect(readConfig(path.join(dir, 'bad2.yaml')).then(checkConfig)).rejects.toThrow(/prices.*rows.0.price.*must be a number/)
  })
})

