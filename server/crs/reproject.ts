import proj4 from 'proj4'
import type { CrsDef } from './registry.ts'
import { BadInput } from '../errors.ts'
import { BUILTIN } from './registry.ts'
import { probeGrid, transformPairs } from './probe-grid.ts'

/** CGCS2000 lon/lat (EPSG:4490) as proj4 knows it */
export const CGCS2000 = '+proj=longlat +ellps=GRS80 +no_defs'

export type Position = number[]
export type Ring = Position[]
export type PolygonCoords = Ring[]

export interface Reprojector {
  /** source → EPSG:4490 lon/lat; throws BadInput naming `where` for impossible coordinates */
  toStorage(x: number, y: number, where: string): [number, number]
  /** EPSG:4490 lon/lat → source (grids) */
  fromStorage(lon: number, lat: number): [number, number]
  /**
   * toStorage for many points (flat x, y pairs, rewritten in place as lon, lat): the same
   * numbers bit for bit and the same refusals, without an array per point. Where the
   * transform comes down to the projection alone (one ellipsoid, metres, east-north), its
   * inverse is called directly — checked against the full transform on a grid of points
   * over the CRS's area, as lonlat-forward.ts does — ~10× faster on survey files.
   */
  toStorageMany(xy: Float64Array, where: string): void
}

const R2D = 180 / Math.PI


export function reprojector(crs: CrsDef): Reprojector {
  const identity = crs.epsg === 4490 || crs.epsg === 4326
  const conv = identity ? undefined : proj4(crs.proj4, CGCS2000)
  const [w, s, e, n] = crs.area
  const out: Reprojector = {
    toStorage(x, y, where) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new BadInput(`${where}: coordinate (${x}, ${y}) is not a finite number`)
      const hint = crs.gk ? gkHint(crs, x, y) : undefined
      if (hint) throw new BadInput(`${where}: ${hint}`)
      if (crs.geographic && (Math.abs(x) > 180 || Math.abs(y) > 90)) {
        throw new BadInput(
          `${where}: coordinate (${x}, ${y}) is out of range for geographic ${crs.id} (longitude ±180, latitude ±90); the data are probably projected: pass --crs EPSG:XXXX`,
        )
      }
      const [lon, lat] = conv ? (conv.forward([x, y]) as [number, number]) : [x, y]
      if (!Number.isFinite(lon) || !Number.isFinite(lat) || lon < w || lon > e || lat < s || lat > n) {
        throw new BadInput(
          `${where}: coordinate (${x}, ${y}) falls outside the area of ${crs.id} ${crs.title} (lon ${w}..${e}, lat ${s}..${n}); check the CRS or pass --crs EPSG:XXXX`,
        )
      }
      return [lon, lat]
    },
    fromStorage(lon, lat) {
      return conv ? (conv.inverse([lon, lat]) as [number, number]) : [lon, lat]
    },
    toStorageMany(xy, where) {
      const ok = quickCheck(crs)
      for (let k = 0; k < xy.length; k += 2) {
        const x = xy[k]!, y = xy[k + 1]!
        // anything the quick check doubts goes through toStorage, which names the fault
        if (!ok(x, y)) self.toStorage(x, y, where)
      }
      const src = xy.slice()
      if (inverse) inverse(xy)
      else if (conv) transformPairs((p) => conv.forward(p) as number[], xy, xy)
      for (let k = 0; k < xy.length; k += 2) {
        const lon = xy[k]!, lat = xy[k + 1]!
        if (!(Number.isFinite(lon) && Number.isFinite(lat) && lon >= w && lon <= e && lat >= s && lat <= n)) self.toStorage(src[k]!, src[k + 1]!, where)
      }
    },
  }
  const self = out
  const inverse = conv ? directInverse(crs, conv) : undefined
  return out
}

/** The cheap part of toStorage's checks: true when toStorage would raise nothing before projecting. */
function quickCheck(crs: CrsDef): (x: number, y: number) => boolean {
  const gk = crs.gk
  if (crs.geographic) return (x, y) => Number.isFinite(x) && Number.isFinite(y) && Math.abs(x) <= 180 && Math.abs(y) <= 90
  if (gk?.prefixed) return (x, y) => Number.isFinite(x) && Number.isFinite(y) && Math.floor(x / 1_000_000) === gk.zone
  if (gk) return (x, y) => Number.isFinite(x) && Number.isFinite(y) && x < 10_000_000 && !(x > 1_000_000 && y > 0 && y < 1_000_000)
  return (x, y) => Number.isFinite(x) && Number.isFinite(y)
}

/**
 * The projection's own inverse (metres → radians → degrees), used only when it gives, bit
 * for bit, what the full transform gives on a 17 × 17 grid over the CRS's area.
 */
function directInverse(crs: CrsDef, conv: proj4.Converter): ((xy: Float64Array) => void) | undefined {
  let proj: { inverse(p: { x: number; y: number }): { x: number; y: number } }
  try {
    proj = new proj4.Proj(crs.proj4) as unknown as typeof proj
  } catch {
    return undefined
  }
  const o = { x: 0, y: 0 }
  const direct = (xy: Float64Array) => {
    for (let k = 0; k < xy.length; k += 2) {
      o.x = xy[k]!
      o.y = xy[k + 1]!
      const q = proj.inverse(o)
      xy[k] = q.x * R2D
      xy[k + 1] = q.y * R2D
    }
  }
  const probe = probeGrid(crs.area)
  try {
    transformPairs((p) => conv.inverse(p) as number[], probe, probe)
    if (!probe.every(Number.isFinite)) return undefined
    const a = new Float64Array(probe.length)
    transformPairs((p) => conv.forward(p) as number[], probe, a)
    const b = probe.slice()
    direct(b)
    for (let k = 0; k < a.length; k++) if (!(a[k] === b[k])) return undefined
  } catch {
    return undefined
  }
  return direct
}

/**
 * Gauss-Krüger data often arrive with the zone prefix missing or added, or with
 * northing first (EPSG's axis order for 4491–4554): name the likely cause.
 */
function gkHint(crs: CrsDef, x: number, y: number): string | undefined {
  const gk = crs.gk!
  const sibling = (prefixed: boolean) =>
    BUILTIN_GK.find((d) => d.gk!.datum === gk.datum && d.gk!.width === gk.width && d.gk!.zone === gk.zone && d.gk!.prefixed === prefixed)?.id
  // the zone-prefixed CRS of the zone the easting names: same datum, this width first
  const prefixedFor = (zone: number) => {
    const of = (width: number) => BUILTIN_GK.find((d) => d.gk!.datum === gk.datum && d.gk!.width === width && d.gk!.zone === zone && d.gk!.prefixed)
    const d = of(gk.width) ?? of(gk.width === 3 ? 6 : 3)
    return d ? `${d.id} (${d.title})` : undefined
  }
  const zoneOf = (v: number) => Math.floor(v / 1_000_000)
  if (gk.prefixed) {
    if (zoneOf(x) === gk.zone) return undefined
    if (zoneOf(y) === gk.zone && y > 1e6) return `coordinate (${x}, ${y}) looks swapped (northing first, EPSG axis order): the zone-${gk.zone} easting is the second value; swap the axes`
    if (x > 0 && x < 1_000_000) return `coordinate (${x}, ${y}): the easting lacks the zone prefix ${gk.zone}; the data are probably in ${sibling(false)} (${gk.datum} GK CM ${gk.cm}E): pass --crs ${sibling(false)}`
    if (x >= 10_000_000) {
      const right = prefixedFor(zoneOf(x))
      return `coordinate (${x}, ${y}) carries zone prefix ${zoneOf(x)}, not ${gk.zone} of ${crs.id}; ${right ? `the data are probably in ${right}: pass --crs ${right.split(' ')[0]}` : 'check the zone and pass the right --crs'}`
    }
    return undefined
  }
  if (x >= 10_000_000) {
    const right = prefixedFor(zoneOf(x))
    return `coordinate (${x}, ${y}): the easting carries a zone prefix (${zoneOf(x)}); ${right ? `the data are probably in ${right}: pass --crs ${right.split(' ')[0]}` : 'pass the zone-prefixed --crs of that zone'}`
  }
  if (x > 1_000_000 && y > 0 && y < 1_000_000) return `coordinate (${x}, ${y}) looks swapped (northing first, EPSG axis order); swap the axes`
  return undefined
}

const BUILTIN_GK = BUILTIN.filter((d) => d.gk)
