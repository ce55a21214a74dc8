// Binary COPY taken apart into columns (db/copy-columns.ts): every type it reads, NULLs,
// and the unit cache's rows and polygons read that way equal to the same read as query rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Polygon } from 'geojson'
import type { Db, Queryable } from '../server/db/db.ts'
import { copyColumns } from '../server/db/copy-columns.ts'
import { importUnits } from '../server/units/import-units.ts'
import { unitPolygons, unitRows } from '../server/units/unit-cache.ts'
import { createRuntime } from '../server/runtime.ts'
import { backends } from './helpers/backends.ts'
import { box, featureCollection, tmpDir, writeJson } from './helpers/fixtures.ts'

// PGlite streams no COPY (its reads stay query rows): the tests need PostgreSQL
const pgBackend = backends().find((b) => b.name === 'pg')
describe.skipIf(!pgBackend)('binary COPY columns on PostgreSQL', () => {
  let db: Db
  beforeAll(async () => {
    db = await pgBackend!.open()
  }, 60_000)
  afterAll(async () => {
    await db?.close()
  })

  it('int8 as text, text, float8 and bytes, NULL in any of them, in row order', async () => {
    const b = await db.copyBinary!(`SELECT * FROM (VALUES
      ('-9223372036854775808'::int8, 'a,"b"'::text, -0::float8, '\\x00ff'::bytea),
      (NULL, NULL, NULL, NULL),
      (42, '林地', 'NaN'::float8, ''::bytea),
      (9007199254740993, '', '-Infinity'::float8, '\\x01'::bytea)) v(a, b, c, d) ORDER BY a NULLS LAST`, {})
    const [a, t, f, bytes] = copyColumns(b, ['int8text', 'text', 'float8', 'bytes'] as const)
    expect(a).toEqual(['-9223372036854775808', '42', '9007199254740993', null])
    expect(t).toEqual(['a,"b"', '林地', '', null])
    expect(Object.is(f[0], -0)).toBe(true)
    expect(f.slice(1)).toEqual([NaN, -Infinity, null])
    expect(bytes.map((x) => (x ? Array.from(x) : null))).toEqual([[0, 255], [], [1], null])
    expect(() => copyColumns(b, ['text'] as const)).toThrow(/4 fields, 1 expected/)
    expect(() => copyColumns(Buffer.from('not a copy at all, no'), ['text'] as const)).toThrow(/PGCOPY/)
  })

  it('a unit set read by COPY equals the same set read as query rows: ids, codes, names, areas, rings', async () => {
    const dir = tmpDir()
    const ring = (w: number, s: number): Polygon => ({ type: 'Polygon', coordinates: [box(w, s, w + 0.1, s + 0.05, 0.02)] })
    await importUnits(db, { file: writeJson(dir, 'u.geojson', featureCollection([
      { props: { code: 'B2', name: '乙镇' }, geometry: ring(118, 30) },
      { props: { code: 'A1' }, geometry: { type: 'MultiPolygon', coordinates: [ring(117, 30).coordinates, ring(117.2, 30).coordinates] } },
      { props: { code: 'C3', name: 'x,"y"' }, geometry: ring(119, 31) },
    ], 'EPSG:4490')), set: 'cc', maxBytes: 1 << 24 })
    const [{ id }] = await db.query<{ id: number }>("SELECT id FROM unit_set WHERE name = 'cc'")
    const rowsOnly: Queryable = { query: db.query.bind(db) } as Queryable
    const viaCopy = await unitPolygons(db, id)
    const viaRows = await unitPolygons(rowsOnly, id)
    expect(viaCopy!.rows.map((r) => r.code)).toEqual(['A1', 'B2', 'C3'])
    expect(viaCopy!.rows).toEqual(viaRows!.rows)
    expect(viaCopy!.rows[0]!.name).toBeNull()
    expect(viaCopy!.polygons.polygons.map((p) => p.length)).toEqual([2, 1, 1])
    expect(viaCopy!.polygons.polygons).toEqual(viaRows!.polygons.polygons)
    expect(viaCopy!.polygons.boxes).toEqual(viaRows!.polygons.boxes)
    // in a runtime's cache: rows read first (a result read back), the polygons on their own later
    const rt = createRuntime({})
    try {
      const later = await rt.run(async () => {
        await unitRows(db, id)
        return unitPolygons(db, id)
      })
      expect(later!.rows).toEqual(viaRows!.rows)
      expect(later!.polygons.polygons).toEqual(viaRows!.polygons.polygons)
      expect(later!.polygons.boxes).toEqual(viaRows!.polygons.boxes)
    } finally {
      await rt.close()
    }
  })
})
