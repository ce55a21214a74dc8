// The CRS of a GeoTIFF from its GeoKeys: an EPSG code (projected or geographic) where
// the file names one; a user-defined projection built from the projection keys where
// they describe one proj4 knows (Albers, Lambert, transverse Mercator …); else --crs.
import type { Queryable } from '../db/db.ts'
import { CrsError } from '../errors.ts'
import { resolveCrs } from '../crs/resolve.ts'
import type { CrsDef } from '../crs/registry.ts'

const USER_DEFINED = 32767
const WORLD: [number, number, number, number] = [-180, -90, 180, 90]

// GeoTIFF ProjCoordTransGeoKey codes → proj4 projection and which keys hold what.
const TRANSFORMS: Record<number, { proj: string; params: (k: Keys) => Record<string, number | undefined> }> = {
  1: { proj: 'tmerc', params: (k) => ({ lat_0: k.lat0, lon_0: k.lon0, k: k.k0 ?? 1, x_0: k.x0, y_0: k.y0 }) },
  7: { proj: 'merc', params: (k) => ({ lon_0: k.lon0, k: k.k0 ?? 1, x_0: k.x0, y_0: k.y0 }) },
  8: { proj: 'lcc', params: (k) => ({ lat_1: k.sp1, lat_2: k.sp2, lat_0: k.lat0, lon_0: k.lon0, x_0: k.x0, y_0: k.y0 }) },
  9: { proj: 'lcc', params: (k) => ({ lat_1: k.lat0, lat_0: k.lat0, lon_0: k.lon0, k_0: k.k0 ?? 1, x_0: k.x0, y_0: k.y0 }) },
  10: { proj: 'laea', params: (k) => ({ lat_0: k.lat0, lon_0: k.lon0, x_0: k.x0, y_0: k.y0 }) },
  11: { proj: 'aea', params: (k) => ({ lat_1: k.sp1, lat_2: k.sp2, lat_0: k.lat0, lon_0: k.lon0, x_0: k.x0, y_0: k.y0 }) },
  17: { proj: 'eqc', params: (k) => ({ lat_ts: k.sp1 ?? 0, lon_0: k.lon0, x_0: k.x0, y_0: k.y0 }) },
  24: { proj: 'sinu', params: (k) => ({ lon_0: k.lon0, x_0: k.x0, y_0: k.y0 }) },
  28: { proj: 'cea', params: (k) => ({ lat_ts: k.sp1 ?? 0, lon_0: k.lon0, x_0: k.x0, y_0: k.y0 }) },
}

interface Keys {
  lat0?: number
  lon0?: number
  sp1?: number
  sp2?: number
  x0?: number
  y0?: number
  k0?: number
}

export async function crsFromGeoKeys(keys: Record<string, unknown>, db: Queryable, file: string): Promise<{ crs: CrsDef; note?: string }> {
  const num = (name: string) => (typeof keys[name] === 'number' ? (keys[name] as number) : undefined)
  const model = num('GTModelTypeGeoKey')
  const projected = num('ProjectedCSTypeGeoKey')
  const geographic = num('GeographicTypeGeoKey')
  if (projected !== undefined && projected !== USER_DEFINED) return { crs: await resolveCrs(`EPSG:${projected}`, db, `${file}: ProjectedCSTypeGeoKey`) }
  if (model === 2) {
    if (geographic !== undefined && geographic !== USER_DEFINED) return { crs: await resolveCrs(`EPSG:${geographic}`, db, `${file}: GeographicTypeGeoKey`) }
    const ellps = await ellipsoid(keys, db, file)
    return { crs: { id: 'GEOKEYS:longlat', epsg: 0, title: String(keys.GeogCitationGeoKey ?? 'user-defined geographic'), proj4: `+proj=longlat ${ellps} +no_defs`, geographic: true, area: WORLD, aliases: [] }, note: 'geographic CRS defined by the GeoKeys (no EPSG code)' }
  }
  if (model === 1) {
    const code = num('ProjCoordTransGeoKey')
    const t = code === undefined ? undefined : TRANSFORMS[code]
    if (!t) throw new CrsError(`${file}: user-defined projection${code === undefined ? ' without ProjCoordTransGeoKey' : ` with coordinate transformation code ${code}`} is not supported; pass --crs EPSG:XXXX`)
    const unit = num('ProjLinearUnitsGeoKey') ?? 9001
    if (unit !== 9001) throw new CrsError(`${file}: linear unit code ${unit} is not metres; pass --crs EPSG:XXXX`)
    const k: Keys = {
      lat0: num('ProjNatOriginLatGeoKey') ?? num('ProjFalseOriginLatGeoKey') ?? num('ProjCenterLatGeoKey') ?? 0,
      lon0: num('ProjNatOriginLongGeoKey') ?? num('ProjFalseOriginLongGeoKey') ?? num('ProjCenterLongGeoKey') ?? 0,
      sp1: num('ProjStdParallel1GeoKey'),
      sp2: num('ProjStdParallel2GeoKey'),
      x0: num('ProjFalseEastingGeoKey') ?? num('ProjFalseOriginEastingGeoKey') ?? 0,
      y0: num('ProjFalseNorthingGeoKey') ?? num('ProjFalseOriginNorthingGeoKey') ?? 0,
      k0: num('ProjScaleAtNatOriginGeoKey') ?? num('ProjScaleAtCenterGeoKey'),
    }
    const params = Object.entries(t.params(k)).filter(([, v]) => v !== undefined).map(([n, v]) => `+${n}=${v}`).join(' ')
    const ellps = await ellipsoid(keys, db, file)
    const proj4 = `+proj=${t.proj} ${params} ${ellps} +units=m +no_defs`
    const title = String(keys.GTCitationGeoKey ?? keys.PCSCitationGeoKey ?? `user-defined ${t.proj}`)
    return { crs: { id: `GEOKEYS:${t.proj}`, epsg: 0, title, proj4, geographic: false, area: WORLD, aliases: [] }, note: `user-defined projection from the GeoKeys: ${proj4}` }
  }
  throw new CrsError(`${file}: the GeoTIFF names no CRS (GTModelTypeGeoKey ${model ?? 'missing'}); pass --crs EPSG:XXXX`)
}

/** The datum/ellipsoid part of a proj4 string from the geographic keys. */
async function ellipsoid(keys: Record<string, unknown>, db: Queryable, file: string): Promise<string> {
  const geographic = keys.GeographicTypeGeoKey
  if (typeof geographic === 'number' && geographic !== USER_DEFINED) {
    const def = await resolveCrs(`EPSG:${geographic}`, db, `${file}: GeographicTypeGeoKey`)
    const parts = def.proj4.split(/\s+/).filter((p) => /^\+(datum|ellps|a|b|rf|f|towgs84|nadgrids)=/.test(p))
    if (parts.length) return parts.join(' ')
  }
  const a = keys.GeogSemiMajorAxisGeoKey
  const rf = keys.GeogInvFlatteningGeoKey
  const b = keys.GeogSemiMinorAxisGeoKey
  if (typeof a === 'number' && typeof rf === 'number') return `+a=${a} +rf=${rf}`
  if (typeof a === 'number' && typeof b === 'number') return `+a=${a} +b=${b}`
  throw new CrsError(`${file}: the GeoKeys define no ellipsoid; pass --crs EPSG:XXXX`)
}
