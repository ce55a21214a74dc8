import proj4 from 'proj4'
import type { Queryable } from '../db/db.ts'
import { CrsError } from '../errors.ts'
import { builtinByName, builtinCrs, epsgNumber, type CrsDef } from './registry.ts'

const WORLD: [number, number, number, number] = [-180, -90, 180, 90]

/**
 * Resolves a user-given code ('EPSG:2056', '4527', 'ALBERS-CN') to a definition:
 * built-in first, then the database's spatial_ref_sys (8,500 EPSG codes in PostGIS).
 */
export async function resolveCrs(code: string, db: Queryable, what = 'CRS'): Promise<CrsDef> {
  const builtin = builtinCrs(code)
  if (builtin) return builtin
  const epsg = epsgNumber(code)
  if (epsg !== undefined) {
    const rows = await db.query<{ proj4text: string; srtext: string }>(
      "SELECT proj4text, srtext FROM spatial_ref_sys WHERE auth_name = 'EPSG' AND auth_srid = $1",
      [epsg],
    )
    const row = rows[0]
    if (row?.proj4text?.trim()) {
      const geographic = /\+proj=longlat/.test(row.proj4text)
      return {
        id: `EPSG:${epsg}`,
        epsg,
        title: /^\w+\["([^"]+)"/.exec(row.srtext)?.[1] ?? `EPSG:${epsg}`,
        proj4: row.proj4text.trim(),
        geographic,
        area: WORLD,
        aliases: [],
      }
    }
  }
  throw new CrsError(`${what} '${code}' is not a known CRS; give an EPSG code such as EPSG:4490, EPSG:4527 or EPSG:2056`)
}

/**
 * The CRS a .prj (WKT1, ESRI or OGC flavour) describes. Order: an EPSG AUTHORITY on the
 * outermost object; a known name (CGCS2000_3_Degree_GK_CM_117E …); else a WKT proj4 can
 * parse into a projection on a known ellipsoid, reported as such. Anything else is an
 * error that asks for --crs.
 */
export async function crsFromWkt(wkt: string, db: Queryable, source: string): Promise<{ crs: CrsDef; note?: string }> {
  const text = wkt.trim()
  if (!text) throw new CrsError(`${source}: the .prj file is empty; pass --crs EPSG:XXXX`)
  const outer = /^\s*(PROJCS|GEOGCS|PROJCRS|GEOGCRS|GEODCRS)\s*\[\s*"([^"]*)"/i.exec(text)
  if (!outer) throw new CrsError(`${source}: the .prj is not WKT (it starts '${text.slice(0, 30)}'); pass --crs EPSG:XXXX`)
  const name = outer[2]!
  const authority = /AUTHORITY\s*\[\s*"EPSG"\s*,\s*"?(\d+)"?\s*\]\s*\]\s*$/i.exec(text) ?? /ID\s*\[\s*"EPSG"\s*,\s*(\d+)\s*\]\s*\]\s*$/i.exec(text)
  if (authority) return { crs: await resolveCrs(`EPSG:${authority[1]}`, db, `${source}: .prj EPSG code`) }
  const known = builtinByName(name)
  if (known) return { crs: known }
  // Exact name match on the outer object of PostGIS's own WKT (e.g. 'CH1903+ / LV95').
  const spaced = name.replace(/_/g, ' ')
  const fromDb = await db.query<{ srid: number }>(
    "SELECT auth_srid AS srid FROM spatial_ref_sys WHERE auth_name = 'EPSG' AND (left(srtext, length($1)) = $1 OR left(srtext, length($2)) = $2) LIMIT 2",
    [`PROJCS["${spaced}"`, `GEOGCS["${spaced}"`],
  )
  if (fromDb.length === 1) return { crs: await resolveCrs(`EPSG:${fromDb[0]!.srid}`, db) }
  let parsed: proj4.Converter | undefined
  try {
    parsed = proj4(text)
  } catch {
    parsed = undefined
  }
  // proj4 accepts some WKT it cannot really use; insist on a usable inverse round trip.
  if (parsed && usable(parsed)) {
    return {
      crs: { id: `WKT:${name}`, epsg: 0, title: name, proj4: text, geographic: /^\s*GEOG/i.test(text), area: WORLD, aliases: [] },
      note: `CRS '${name}' matched no EPSG code; used the .prj's own parameters`,
    }
  }
  throw new CrsError(`${source}: .prj names an unknown CRS '${name}'; pass --crs EPSG:XXXX`)
}

function usable(conv: proj4.Converter): boolean {
  try {
    const p = conv.forward([105, 35])
    return p.every(Number.isFinite)
  } catch {
    return false
  }
}
