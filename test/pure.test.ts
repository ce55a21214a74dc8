// Pure functions: grid codes and geometry, area units, CRS lookup, small parsers.
import { describe, expect, it } from 'vitest'
import { cellCode, cellRange, cellRing, parseCellCode, segmentsFor } from '../server/units/grid.ts'
import { convertArea, M2_PER } from '../server/stats/area-units.ts'
import { builtinCrs, builtinByName, epsgNumber, BUILTIN } from '../server/crs/registry.ts'
import { reprojector } from '../server/crs/reproject.ts'
import { compareVintage } from '../server/stats/layer-select.ts'
import { shareOf } from '../server/stats/coverage.ts'
import { toCsv } from '../server/stats/csv.ts'
import { returnsRows } from '../server/db/pglite.ts'
import { splitStatements } from '../server/db/migrate.ts'
import { wkbToGeometry, gpkgWkbOffset } from '../server/ingest/wkb.ts'
import { checkName, checkVintage } from '../server/ingest/names.ts'

describe('grid cell codes', () => {
  it('round-trips codes for indices around the origin and far away', () => {
    for (const size of [10, 100, 1000, 5000, 100000]) {
      for (const i of [-123456, -1, 0, 1, 7, 99999]) {
        for (const j of [-5, 0, 3, 4321987]) {
          expect(parseCellCode(cellCode({ size, i, j }))).toEqual({ size, i, j })
        }
      }
    }
  })
  it('writes the documented form', () => {
    expect(cellCode({ size: 1000, i: 1234, j: 3456 })).toBe('G1000_E1234_N3456')
    expect(cellCode({ size: 500, i: -12, j: -3 })).toBe('G500_W12_S3')
    expect(parseCellCode('G1000_E12_X3')).toBeUndefined()
  })
  it('covers a box with the cells that touch it, anchored at the CRS origin', () => {
    expect(cellRange([0, 0, 1000, 1000], 1000)).toEqual({ i0: 0, i1: 0, j0: 0, j1: 0 })
    expect(cellRange([-1, 999, 1001, 2000], 1000)).toEqual({ i0: -1, i1: 1, j0: 0, j1: 1 })
    expect(cellRange([5, 5, 5, 5], 1000)).toEqual({ i0: 0, i1: 0, j0: 0, j1: 0 })
  })
  it('makes rings whose shared edges coincide exactly with the neighbour\'s', () => {
    const seg = segmentsFor(1000)
    const a = cellRing({ size: 1000, i: 3, j: 7 }, seg)
    const b = cellRing({ size: 1000, i: 4, j: 7 }, seg)
    const c = cellRing({ size: 1000, i: 3, j: 8 }, seg)
    const key = (p: [number, number]) => `${p[0]},${p[1]}`
    const aset = new Set(a.map(key))
    expect(b.slice(0, -1).filter((p) => aset.has(key(p))).length).toBe(seg + 1)
    expect(c.slice(0, -1).filter((p) => aset.has(key(p))).length).toBe(seg + 1)
    expect(a[0]).toEqual(a[a.length - 1])
    expect(a.length).toBe(4 * seg + 1)
    // counter-clockwise, area size²
    let s = 0
    for (let k = 0; k < a.length - 1; k++) s += a[k]![0] * a[k + 1]![1] - a[k + 1]![0] * a[k]![1]
    expect(s / 2).toBeCloseTo(1e6, 6)
  })
  it('splits edges into pieces of at most 250 m', () => {
    expect(segmentsFor(100)).toBe(1)
    expect(segmentsFor(1000)).toBe(4)
    expect(segmentsFor(100000)).toBe(16)
  })
})

describe('area units', () => {
  it('converts m² to ha, km² and 亩 (15 亩 = 1 ha)', () => {
    expect(convertArea(10_000, 'ha')).toBe(1)
    expect(convertArea(2_000_000, 'km2')).toBe(2)
    expect(convertArea(10_000, 'mu')).toBeCloseTo(15, 12)
    expect(M2_PER.mu).toBeCloseTo(666.67, 2)
  })
  it('computes shares in 0..1, 0 for empty units', () => {
    expect(shareOf(5, 10)).toBe(0.5)
    expect(shareOf(10.0000001, 10)).toBe(1)
    expect(shareOf(3, 0)).toBe(0)
  })
})

describe('CRS registry', () => {
  it('knows the CGCS2000 Gauss-Krüger zones by EPSG pattern', () => {
    const z39 = builtinCrs('EPSG:4527')!
    expect(z39.gk).toMatchObject({ zone: 39, cm: 117, prefixed: true, width: 3 })
    expect(z39.proj4).toContain('+x_0=39500000')
    expect(builtinCrs('4534')!.gk).toMatchObject({ cm: 75, prefixed: false })
    expect(builtinCrs('EPSG:4554')!.gk).toMatchObject({ cm: 135 })
    expect(builtinCrs('EPSG:4491')!.gk).toMatchObject({ zone: 13, cm: 75, width: 6, prefixed: true })
    expect(builtinCrs('EPSG:4512')!.gk).toMatchObject({ cm: 135, width: 6, prefixed: false })
  })
  it('resolves ESRI .prj names and URNs', () => {
    expect(builtinByName('CGCS2000_3_Degree_GK_CM_117E')!.epsg).toBe(4548)
    expect(builtinByName('Xian_1980_3_Degree_GK_Zone_40')!.epsg).toBe(2364)
    expect(builtinByName('Beijing_1954_GK_Zone_20')!.epsg).toBe(21420)
    expect(builtinCrs('urn:ogc:def:crs:EPSG::4490')!.epsg).toBe(4490)
    expect(builtinCrs('urn:ogc:def:crs:OGC:1.3:CRS84')!.epsg).toBe(4326)
    expect(epsgNumber('EPSG:2056')).toBe(2056)
    expect(epsgNumber('nonsense')).toBeUndefined()
  })
  it('has unique codes', () => {
    expect(new Set(BUILTIN.map((d) => d.id)).size).toBe(BUILTIN.length)
  })
  it('reprojects GK zone 39 and back (central meridian maps to x = 39 500 000)', () => {
    const rp = reprojector(builtinCrs('EPSG:4527')!)
    const [lon, lat] = rp.toStorage(39_500_000, 3_320_000, 't')
    expect(lon).toBeCloseTo(117, 9)
    expect(lat).toBeGreaterThan(29.9)
    const [x, y] = rp.fromStorage(lon, lat)
    expect(x).toBeCloseTo(39_500_000, 4)
    expect(y).toBeCloseTo(3_320_000, 4)
  })
  it('names the likely cause of Gauss-Krüger coordinate mistakes', () => {
    const rp = reprojector(builtinCrs('EPSG:4527')!)
    expect(() => rp.toStorage(500_000, 3_320_000, 'f')).toThrow(/lacks the zone prefix 39.*EPSG:4548/)
    expect(() => rp.toStorage(3_320_000, 39_500_000, 'f')).toThrow(/swapped/)
    expect(() => rp.toStorage(40_500_000, 3_320_000, 'f')).toThrow(/zone prefix 40, not 39/)
    const cm = reprojector(builtinCrs('EPSG:4548')!)
    expect(() => cm.toStorage(39_500_000, 3_320_000, 'f')).toThrow(/carries a zone prefix \(39\).*EPSG:4527/)
    const geo = reprojector(builtinCrs('EPSG:4490')!)
    expect(() => geo.toStorage(500_000, 3_320_000, 'f')).toThrow(/out of range for geographic EPSG:4490/)
    expect(() => geo.toStorage(NaN, 3, 'f')).toThrow(/not a finite number/)
  })
})

describe('small parsers', () => {
  it('orders vintages as years and dates', () => {
    expect(compareVintage('2023', '2020')).toBeGreaterThan(0)
    expect(compareVintage('2020-06-30', '2020-12-31')).toBeLessThan(0)
  })
  it('writes RFC 4180 CSV', () => {
    expect(toCsv(['a', 'b'], [{ a: 'x,y', b: 1.5 }, { a: 'say "hi"', b: null }])).toBe('\uFEFFa,b\r\n"x,y",1.5\r\n"say ""hi""",\r\n')
  })
  it('knows which statements return rows (PGlite lost-error guard)', () => {
    expect(returnsRows('-- c\nSELECT 1')).toBe(true)
    expect(returnsRows('WITH a AS (SELECT 1) SELECT * FROM a')).toBe(true)
    expect(returnsRows('INSERT INTO t VALUES (1) RETURNING id')).toBe(true)
    expect(returnsRows('CREATE TEMP TABLE x (a int)')).toBe(false)
    expect(returnsRows('UPDATE t SET a = 1')).toBe(false)
  })
  it('splits migration files into statements', () => {
    expect(splitStatements('-- x;\nCREATE TABLE a (b int);\nCREATE INDEX i ON a (b);\n')).toEqual(['CREATE TABLE a (b int)', 'CREATE INDEX i ON a (b)'])
  })
  it('reads WKB and GeoPackage blobs', () => {
    // POLYGON((0 0,1 0,1 1,0 0)) little-endian, wrapped in a GP header with no envelope
    const wkb = Buffer.alloc(1 + 4 + 4 + 4 + 4 * 16)
    let o = 0
    wkb.writeUInt8(1, o); o += 1
    wkb.writeUInt32LE(3, o); o += 4
    wkb.writeUInt32LE(1, o); o += 4
    wkb.writeUInt32LE(4, o); o += 4
    for (const [x, y] of [[0, 0], [1, 0], [1, 1], [0, 0]]) { wkb.writeDoubleLE(x!, o); wkb.writeDoubleLE(y!, o + 8); o += 16 }
    const gp = Buffer.concat([Buffer.from([0x47, 0x50, 0, 1]), Buffer.from([0xe6, 0x10, 0, 0]), wkb])
    const { offset, srsId } = gpkgWkbOffset(gp)
    expect(srsId).toBe(4326)
    expect(wkbToGeometry(gp, offset)).toEqual({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] })
    expect(() => wkbToGeometry(wkb.subarray(0, 20))).toThrow(/truncated/)
  })
  it('accepts names with CJK letters and refuses path or SQL characters', () => {
    expect(checkName('生态保护红线_2023', 'layer')).toBe('生态保护红线_2023')
    expect(() => checkName('../etc', 'layer')).toThrow(/not allowed/)
    expect(() => checkName("x'; drop table layer;--", 'layer')).toThrow(/not allowed/)
    expect(() => checkVintage('2023/06')).toThrow(/vintage/)
  })
})
