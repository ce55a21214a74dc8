// The built-in CRS table checked against PostGIS's spatial_ref_sys, and .prj resolution.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { BUILTIN } from '../server/crs/registry.ts'
import { crsFromWkt, resolveCrs } from '../server/crs/resolve.ts'
import { reprojector } from '../server/crs/reproject.ts'
import { esriGkZonePrj } from '../scripts/sample/write-shapefile.ts'
import { backends } from './helpers/backends.ts'

/** proj4 string → sorted parameters with numbers compared as numbers. */
function params(p: string): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  for (const tok of p.trim().split(/\s+/)) {
    const m = /^\+(\w+)(?:=(.*))?$/.exec(tok)
    if (!m || ['no_defs', 'wktext', 'units', 'type'].includes(m[1]!)) continue
    const v = m[2] ?? 'true'
    out[m[1]!] = /^-?[\d.]+(e-?\d+)?$/.test(v) ? Number(v) : v
  }
  return out
}

for (const backend of backends()) {
  describe(`CRS on ${backend.name}`, () => {
    let db: Db
    beforeAll(async () => { db = await backend.open() })
    afterAll(async () => db?.close())

    it('every built-in EPSG definition equals spatial_ref_sys (all CGCS2000, Xian 1980, Beijing 1954 GK zones)', async () => {
      const epsg = BUILTIN.filter((d) => d.epsg > 0)
      const rows = await db.query<{ srid: number; proj4text: string }>('SELECT srid, proj4text FROM spatial_ref_sys WHERE srid = ANY($1::int[])', [epsg.map((d) => d.epsg)])
      const byId = new Map(rows.map((r) => [r.srid, r.proj4text]))
      expect(rows.length).toBe(epsg.length)
      for (const d of epsg) expect(params(d.proj4), d.id).toEqual(params(byId.get(d.epsg)!))
      expect(epsg.filter((d) => d.gk).length).toBe(3 * 2 * (11 + 21))
    })

    it('resolves .prj WKT: ESRI names, EPSG authority, PostGIS names; unknown ones ask for --crs', async () => {
      expect((await crsFromWkt(esriGkZonePrj(39), db, 'a.shp')).crs.epsg).toBe(4527)
      const ogc = 'PROJCS["CGCS2000 / 3-degree Gauss-Kruger CM 120E",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["central_meridian",120],PARAMETER["false_easting",500000],UNIT["metre",1],AUTHORITY["EPSG","4549"]]'
      expect((await crsFromWkt(ogc, db, 'b.shp')).crs.epsg).toBe(4549)
      const swiss = 'PROJCS["CH1903+ / LV95",GEOGCS["CH1903+",DATUM["CH1903+",SPHEROID["Bessel 1841",6377397.155,299.1528128]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Hotine_Oblique_Mercator_Azimuth_Center"],UNIT["metre",1]]'
      expect((await crsFromWkt(swiss, db, 'c.shp')).crs.epsg).toBe(2056)
      await expect(crsFromWkt('', db, 'd.shp')).rejects.toThrow(/d\.shp: the \.prj file is empty; pass --crs/)
      await expect(crsFromWkt('hello', db, 'e.shp')).rejects.toThrow(/e\.shp: the \.prj is not WKT/)
    })

    it('falls back to spatial_ref_sys for codes not built in (EPSG:3035, EPSG:2154)', async () => {
      const laea = await resolveCrs('EPSG:3035', db)
      expect(laea.proj4).toMatch(/\+proj=laea/)
      const [lon, lat] = reprojector(laea).toStorage(4321000, 3210000, 'p')
      expect(lon).toBeCloseTo(10, 6)
      expect(lat).toBeCloseTo(52, 6)
      await expect(resolveCrs('EPSG:1', db)).rejects.toThrow(/not a known CRS/)
    })

    // Same definitions through two engines: proj4js (ours) and PROJ inside PostGIS, given
    // the proj4 strings. CGCS2000 is WGS 84 to the centimetre, so the target carries
    // towgs84=0: without it PROJ drops Beijing 1954's 3-parameter shift (~17 m here), as
    // it does when ST_Transform is given EPSG:2431 → EPSG:4490 (see docs/performance.md, "Limits").
    it('proj4js and PostGIS (PROJ) reproject GK zone 39, Xian 1980, Beijing 1954 and UTM points alike (< 1 mm)', async () => {
      for (const [code, x, y] of [['EPSG:4527', 39_512_345.6, 3_321_987.6], ['EPSG:2379', 512_345.6, 3_321_987.6], ['EPSG:2431', 512_345.6, 3_321_987.6], ['EPSG:32618', 400_000, 4_700_000]] as const) {
        const crs = await resolveCrs(code, db)
        const [lon, lat] = reprojector(crs).toStorage(x, y, 'p')
        const [pg] = await db.query<{ x: number; y: number }>(
          "SELECT ST_X(g) AS x, ST_Y(g) AS y FROM (SELECT ST_Transform(ST_MakePoint($1, $2), $3, '+proj=longlat +ellps=GRS80 +towgs84=0,0,0 +no_defs') AS g) s",
          [x, y, crs.proj4],
        )
        // 1e-8° ≈ 1 mm
        expect(Math.abs(lon - pg!.x), code).toBeLessThan(1e-8)
        expect(Math.abs(lat - pg!.y), code).toBeLessThan(1e-8)
      }
    })
  })
}
