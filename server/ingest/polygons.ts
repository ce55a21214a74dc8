import type { Geometry, Position } from 'geojson'
import type { Reprojector } from '../crs/reproject.ts'
import type { FlatRings } from './source.ts'
import { groupRings } from './shp-records.ts'
import { BadInput, TooComplex } from '../errors.ts'
import { DEFAULT_MAX_FEATURE_VERTICES } from '../settings.ts'

/** Vertices one feature may have (all rings of all its polygons). A survey patch (图斑) has
 *  hundreds to thousands; a ring of 10⁶ is a digitising or export accident, and one such
 *  feature would make every overlay it takes part in slow. */

export interface GeometryFixes {
  closedRings: number
  droppedRings: number
}

type Poly = Position[][]

/**
 * Source geometry → polygons in EPSG:4490 as flat rings, or null for an empty geometry.
 * Rings are closed when open and dropped when they have fewer than 4 positions (counted in
 * `fixes`); anything non-polygonal is refused with the feature named.
 */
export function toStoragePolygons(geom: Geometry | null, rp: Reprojector, where: string, fixes: GeometryFixes, maxVertices = DEFAULT_MAX_FEATURE_VERTICES): FlatPolygons | null {
  if (!geom) return null
  const polys: Poly[] = []
  collect(geom, polys, where)
  let vertices = 0
  for (const poly of polys) for (const ring of poly) vertices += Array.isArray(ring) ? ring.length : 0
  if (vertices > maxVertices) throw tooComplex(where, vertices, maxVertices)
  return keepRings(polys.map((poly) => poly.map((ring) => {
    if (!Array.isArray(ring)) throw new BadInput(`${where}: polygon ring is not an array of positions`)
    const r = new Float64Array(2 * ring.length)
    ring.forEach((p, i) => {
      if (!Array.isArray(p) || p.length < 2) throw new BadInput(`${where}: a position is not [x, y]`)
      const [lon, lat] = rp.toStorage(Number(p[0]), Number(p[1]), where)
      r[2 * i] = lon
      r[2 * i + 1] = lat
    })
    return r
  })), fixes)
}

function tooComplex(where: string, vertices: number, maxVertices: number): TooComplex {
  return new TooComplex(`${where} has ${vertices} vertices, more than the limit of ${maxVertices} per feature (ECOCENSUS_MAX_FEATURE_VERTICES); split or simplify it (e.g. mapshaper -simplify, ST_Subdivide) or raise the limit`)
}

/**
 * Polygons (shell first) of projected rings, as stored: an open ring closed, a ring of
 * fewer than 4 positions dropped, and with a dropped shell its holes; null when none is left.
 */
function keepRings(polys: Float64Array[][], fixes: GeometryFixes): FlatPolygons | null {
  const out: FlatPolygons = []
  for (const poly of polys) {
    const rings: Float64Array[] = []
    for (let i = 0; i < poly.length; i++) {
      let r = poly[i]!
      const n = r.length / 2
      if (n > 0 && (r[0] !== r[2 * n - 2] || r[1] !== r[2 * n - 1])) {
        const closed = new Float64Array(2 * n + 2)
        closed.set(r)
        closed[2 * n] = r[0]!
        closed[2 * n + 1] = r[1]!
        r = closed
        fixes.closedRings++
      }
      if (r.length < 8) {
        fixes.droppedRings++
        if (i === 0) rings.length = 0
        continue
      }
      if (i > 0 && rings.length === 0) continue // hole of a dropped shell
      rings.push(r)
    }
    if (rings.length) out.push(rings)
  }
  return out.length ? out : null
}

function collect(geom: Geometry, out: Poly[], where: string): void {
  switch (geom.type) {
    case 'Polygon':
      if (!Array.isArray(geom.coordinates)) throw new BadInput(`${where}: Polygon without coordinates`)
      out.push(geom.coordinates)
      return
    case 'MultiPolygon':
      if (!Array.isArray(geom.coordinates)) throw new BadInput(`${where}: MultiPolygon without coordinates`)
      out.push(...geom.coordinates)
      return
    case 'GeometryCollection': {
      const before = out.length
      for (const g of geom.geometries ?? []) if (g?.type === 'Polygon' || g?.type === 'MultiPolygon') collect(g, out, where)
      if (out.length === before && (geom.geometries?.length ?? 0) > 0) throw new BadInput(`${where}: a GeometryCollection with no polygons; layers and units need polygons`)
      return
    }
    default:
      throw new BadInput(`${where}: is a ${(geom as { type?: string }).type ?? 'geometry of no type'}; layers and units need polygons (Polygon or MultiPolygon)`)
  }
}

/** Rings in EPSG:4490 as flat lon, lat pairs, closed: per polygon, shell first. */
export type FlatPolygons = Float64Array[][]

/**
 * toStoragePolygons for a shapefile's flat rings, with the same result: rings grouped as
 * the `shapefile` package groups them, projected all at once, then kept as keepRings keeps them.
 */
export function flatToStoragePolygons(g: FlatRings, rp: Reprojector, where: string, fixes: GeometryFixes, maxVertices = DEFAULT_MAX_FEATURE_VERTICES): FlatPolygons | null {
  const vertices = g.xy.length / 2
  if (vertices > maxVertices) throw tooComplex(where, vertices, maxVertices)
  const groups = groupRings(g)
  if (!groups.length) return null
  const xy = g.xy.slice()
  rp.toStorageMany(xy, where)
  return keepRings(groups.map((poly) => poly.map((j) => xy.subarray(2 * g.rings[j]!, 2 * g.rings[j + 1]!))), fixes)
}
