// Small parsers and writers: vintages, shares, CSV, statement splitting, WKB, names (pure).
import { describe, expect, it } from 'vitest'
import { compareVintage } from '../server/catalog/layer-select.ts'
import { toCsv } from '../server/results/csv.ts'
import { returnsRows } from '../server/db/pglite.ts'
import { splitStatements } from '../server/db/migrate.ts'
import { wkbToGeometry, gpkgWkbOffset } from '../server/geom/wkb.ts'
import { checkName, checkVintage } from '../server/ingest/names.ts'

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
