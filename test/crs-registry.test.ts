// The built-in CRS registry and lookups by EPSG number and name (pure).
import { describe, expect, it } from 'vitest'
import { builtinCrs, builtinByName, epsgNumber, BUILTIN } from '../server/crs/registry.ts'
import { reprojector } from '../server/crs/reproject.ts'

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
    expect(() => rp.toStorage(40_500_000, 3_320_000, 'f')).toThrow(/zone prefix 40, not 39.*--crs EPSG:4528/)
    const cm = reprojector(builtinCrs('EPSG:4548')!)
    expect(() => cm.toStorage(39_500_000, 3_320_000, 'f')).toThrow(/carries a zone prefix \(39\).*EPSG:4527/)
    // the zone the easting names, not the zone of the wrong CRS's meridian (CM 114°E is zone 38)
    const other = reprojector(builtinCrs('EPSG:4547')!)
    expect(() => other.toStorage(39_500_000, 3_320_000, 'f')).toThrow(/carries a zone prefix \(39\).*--crs EPSG:4527/)
    expect(() => other.toStorage(39_500_000, 3_320_000, 'f')).not.toThrow(/4526/)
    const geo = reprojector(builtinCrs('EPSG:4490')!)
    expect(() => geo.toStorage(500_000, 3_320_000, 'f')).toThrow(/out of range for geographic EPSG:4490/)
    expect(() => geo.toStorage(NaN, 3, 'f')).toThrow(/not a finite number/)
  })
})
