// The fast shapefile reader (ingest/shp-records.ts) against the `shapefile` package it
// replaces for polygons: the same attributes, the same rings grouped the same way, and
// after reprojection the same stored coordinates bit for bit, on the sample, a public
// external file, a survey-like file and files with holes, several parts, Null shapes and
// every dBASE type. No database: the readers are pure.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import * as shapefile from 'shapefile'
import type { Geometry, Position } from 'geojson'
import { openShapefile } from '../server/ingest/read-shapefile.ts'
import { flatToStoragePolygons, toStoragePolygons } from '../server/ingest/polygons.ts'
import { groupRings } from '../server/ingest/shp-records.ts'
import { reprojector } from '../server/crs/reproject.ts'
import { builtinCrs } from '../server/crs/registry.ts'
import { writeShapefile, esriGkZonePrj } from '../scripts/sample/write-shapefile.ts'
import { writeSurveyShapefile } from '../scripts/bench/survey-shapefile.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-shp-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

async function packageRead(file: string, encoding: string) {
  const dbf = file.replace(/\.shp$/i, '.dbf')
  const src = await shapefile.open(file, dbf, { encoding })
  const out: { attributes: Record<string, unknown>; geometry: Geometry | null }[] = []
  for (;;) {
    const s = await src.read()
    if (s.done) break
    out.push({ attributes: s.value.properties as Record<string, unknown>, geometry: s.value.geometry as Geometry | null })
  }
  return out
}

/** the fast reader's rings as the package's GeoJSON coordinates */
function asGeoJson(flat: { xy: Float64Array; rings: Int32Array }): Geometry {
  const polys = groupRings(flat).map((p) => p.map((j) => {
    const ring: Position[] = []
    for (let i = flat.rings[j]!; i < flat.rings[j + 1]!; i++) ring.push([flat.xy[2 * i]!, flat.xy[2 * i + 1]!])
    return ring
  }))
  return polys.length === 1 ? { type: 'Polygon', coordinates: polys[0]! } : { type: 'MultiPolygon', coordinates: polys }
}

async function compare(file: string, crsId: string) {
  const source = await openShapefile(file, { maxBytes: 2 ** 40 })
  const reference = await packageRead(file, source.encoding!)
  const rp = reprojector(builtinCrs(crsId)!)
  let k = 0
  let vertices = 0
  for await (const f of source.features()) {
    const ref = reference[k]!
    expect(f.index).toBe(k)
    const attrs = { ...ref.attributes }
    for (const [key, v] of Object.entries(attrs)) if (typeof v === 'string' && v.includes('\u0000')) attrs[key] = v.replace(/\u0000+/g, '')
    expect(f.attributes).toEqual(attrs)
    if (ref.geometry === null || f.flat === undefined) {
      expect(f.flat === undefined && f.geometry === null).toBe(ref.geometry === null)
    } else {
      expect(asGeoJson(f.flat)).toEqual(ref.geometry)
      const fixesA = { closedRings: 0, droppedRings: 0 }, fixesB = { closedRings: 0, droppedRings: 0 }
      const fast = flatToStoragePolygons(f.flat, rp, 'x', fixesA)
      const slow = toStoragePolygons(ref.geometry, rp, 'x', fixesB)
      expect(fast).toEqual(slow)
      expect(fixesA).toEqual(fixesB)
      vertices += f.flat.xy.length / 2
    }
    k++
  }
  await source.close()
  expect(k).toBe(reference.length)
  return { features: k, vertices }
}

describe('fast shapefile reader', () => {
  it('reads the sample layers as the shapefile package does, coordinates stored bit for bit alike', async () => {
    const layers = path.join(import.meta.dirname, '..', 'data', 'sample', 'layers')
    let n = 0
    for (const f of fs.readdirSync(layers).filter((x) => x.endsWith('.shp'))) n += (await compare(path.join(layers, f), 'EPSG:4527')).features
    expect(n).toBeGreaterThan(100)
  })

  it('reads an external file (NY8, UTM 18N) alike', async () => {
    const r = await compare(path.join(import.meta.dirname, 'fixtures', 'external', 'NY8_utm18.shp'), 'EPSG:32618')
    expect(r.features).toBe(281)
  })

  it('reads a survey-like GBK tiling alike', async () => {
    const f = writeSurveyShapefile(path.join(dir, 'survey'), 3000, { cols: 60 })
    const r = await compare(f.shp, 'EPSG:4527')
    expect(r).toEqual({ features: 3000, vertices: 3000 * 29 })
  })

  it('groups holes, islands in holes, several parts, open and short rings, and Null shapes alike; every dBASE type', async () => {
    const sq = (x: number, y: number, s: number) => [[x, y], [x, y + s], [x + s, y + s], [x + s, y], [x, y]]
    const ccw = (r: number[][]) => [...r].reverse()
    const X = 39_500_000, Y = 3_300_000
    const records = [
      { attributes: { NAME: '有洞', N: 1.5, D: '20230415', L: 'T', I: 7 }, polygons: [[sq(X, Y, 100), ccw(sq(X + 10, Y + 10, 20))]] },
      { attributes: { NAME: 'two parts', N: null, D: '', L: 'n', I: -3 }, polygons: [[sq(X, Y, 10)], [sq(X + 50, Y, 10)]] },
      { attributes: { NAME: null, N: 0, D: '19991231', L: '?', I: 0 }, polygons: null },
      // a hole given first, a shell after it; an island inside the hole
      { attributes: { NAME: '岛', N: -2.25, D: '20000229', L: 'f', I: 1 }, polygons: [[sq(X, Y, 100), ccw(sq(X + 10, Y + 10, 50))], [sq(X + 20, Y + 20, 10)]] },
      // an open ring (closed on storage) and a 3-point ring (dropped)
      { attributes: { NAME: 'open', N: 3, D: '20010101', L: 'Y', I: 2 }, polygons: [[sq(X, Y, 30).slice(0, 4)], [[[X + 200, Y], [X + 200, Y + 5], [X + 205, Y]]]] },
    ]
    writeShapefile(path.join(dir, 'odd'), [
      { name: 'NAME', type: 'C', length: 20 }, { name: 'N', type: 'N', length: 10, decimals: 2 }, { name: 'D', type: 'C', length: 8 },
      { name: 'L', type: 'C', length: 1 }, { name: 'I', type: 'N', length: 5 },
    ], records as never, { encoding: 'gbk', prj: esriGkZonePrj(39), raw: true })
    // retype D as a date and L as a logical field in the .dbf header (the writer knows C and N)
    const dbf = fs.readFileSync(path.join(dir, 'odd.dbf'))
    dbf.write('D', 32 + 2 * 32 + 11, 'latin1')
    dbf.write('L', 32 + 3 * 32 + 11, 'latin1')
    fs.writeFileSync(path.join(dir, 'odd.dbf'), dbf)
    const r = await compare(path.join(dir, 'odd.shp'), 'EPSG:4527')
    expect(r.features).toBe(5)
    const source = await openShapefile(path.join(dir, 'odd.shp'), { maxBytes: 2 ** 40 })
    const got = []
    for await (const f of source.features()) got.push(f)
    await source.close()
    expect(got[0]!.attributes).toMatchObject({ NAME: '有洞', N: 1.5, L: true, I: 7 })
    expect((got[0]!.attributes.D as Date).getFullYear()).toBe(2023)
    expect(got[1]!.attributes).toMatchObject({ N: null, L: false })
    expect(got[2]!.flat).toBeUndefined()
  })
})
