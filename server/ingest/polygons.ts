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
 * Source geometry → polygons in EPSG:4490, or null for an empty geometry. Rings are
 * closed when open and dropped when they have fewer than 4 positions (counted in
 * `fixes`); anything non-polygonal is refused with the feature named.
 */
export function toStoragePolygons(geom: Geometry | null, rp: Reprojector, where: string, fixes: GeometryFixes, maxVertices = DEFAULT_MAX_FEATURE_VERTICES): Poly[] | null {
  if (!geom) return null
  const polys: Poly[] = []
  collect(geom, polys, where)
  let vertices = 0
  for (const poly of polys) for (const ring of poly) vertices += Array.isArray(ring) ? ring.length : 0
  if (vertices > maxVertices) {
    throw new TooComplex(`${where} has ${vertices} vertices, more than the limit of ${maxVertices} per feature (ECOCENSUS_MAX_FEATURE_VERTICES); split or simplify it (e.g. mapshaper -simplify, ST_Subdivide) or raise the limit`)
  }
  const out: Poly[] = []
  for (const poly of polys) {
    const rings: Position[][] = []
    poly.forEach((ring, i) => {
      if (!Array.isArray(ring)) throw new BadInput(`${where}: polygon ring is not an array of positions`)
      const r = ring.map((p) => {
        if (!Array.isArray(p) || p.length < 2) throw new BadInput(`${where}: a position is not [x, y]`)
        return rp.toStorage(Number(p[0]), Number(p[1]), where) as Position
      })
      if (r.length > 0 && (r[0]![0] !== r[r.length - 1]![0] || r[0]![1] !== r[r.length - 1]![1])) {
        r.push(r[0]!)
        fixes.closedRings++
      }
      if (r.length < 4) {
        fixes.droppedRings++
        if (i === 0) rings.length = 0
        return
      }
      if (i > 0 && rings.length === 0) return // hole of a dropped shell
      rings.push(r)
    })
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

/** toStoragePolygons for GeoJSON-shaped polygons, as flat rings. */
export function flatten(polys: Poly[]): FlatPolygons {
  return polys.map((p) => p.map((r) => {
    const out = new Float64Array(2 * r.length)
    r.forEach((q, i) => { out[2 * i] = q[0]!; out[2 * i + 1] = q[1]! })
    return out
  }))
}

/**
 * toStoragePolygons for a shapefile's flat rings, with the same result: rings grouped as
 * the `shapefile` package groups them, projected all at once, closed when open, dropped
 * when shorter than 4 positions (with the holes of a dropped shell).
 */
export function flatToStoragePolygons(g: FlatRings, rp: Reprojector, where: string, fixes: GeometryFixes, maxVertices = DEFAULT_MAX_FEATURE_VERTICES): FlatPolygons | null {
  const vertices = g.xy.length / 2
  if (vertices > maxVertices) {
    throw new TooComplex(`${where} has ${vertices} vertices, more than the limit of ${maxVertices} per feature (ECOCENSUS_MAX_FEATURE_VERTICES); split or simplify it (e.g. mapshaper -simplify, ST_Subdivide) or raise the limit`)
  }
  const groups = groupRings(g)
  if (!groups.length) return null
  const xy = g.xy.slice()
  rp.toStorageMany(xy, where)
  const out: FlatPolygons = []
  for (const poly of groups) {
    const rings: Float64Array[] = []
    for (let i = 0; i < poly.length; i++) {
      const j = poly[i]!
      const a = g.rings[j]!, b = g.rings[j + 1]!
      let r = xy.subarray(2 * a, 2 * b)
      const n = b - a
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
