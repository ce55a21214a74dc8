// Long straight edges of a projected source split into pieces before reprojection, so that
// an edge keeps meaning the line it is in its own CRS: stored in EPSG:4490, an edge between
// two vertices is a geodesic, which departs from a long straight line of a Gauss-Krüger or
// Albers map (by ~1 mm over 250 m, ~0.4 m over 5 km). Pure; units go through it
// (units/import-units.ts), as grid cells do when they are built (units/grid.ts).
import type { Geometry, Position } from 'geojson'
import type { FlatRings, SourceFeature } from './source.ts'

/** The feature with every edge longer than `maxLen` (source units) split into equal pieces; itself when none is. */
export function densifyFeature(f: SourceFeature, maxLen: number): SourceFeature {
  if (f.flat) {
    const flat = densifyFlat(f.flat, maxLen)
    return flat === f.flat ? f : { ...f, flat }
  }
  if (!f.geometry) return f
  const geometry = densifyGeometry(f.geometry, maxLen)
  return geometry === f.geometry ? f : { ...f, geometry }
}

/** How many pieces an edge from (x0, y0) to (x1, y1) is split into. */
function pieces(x0: number, y0: number, x1: number, y1: number, maxLen: number): number {
  const len = Math.hypot(x1 - x0, y1 - y0)
  return len > maxLen ? Math.ceil(len / maxLen) : 1
}

export function densifyFlat(g: FlatRings, maxLen: number): FlatRings {
  const { xy, rings } = g
  const n = xy.length >> 1
  let extra = 0
  for (let j = 0; j + 1 < rings.length; j++) {
    for (let i = rings[j]!; i + 1 < rings[j + 1]!; i++) extra += pieces(xy[2 * i]!, xy[2 * i + 1]!, xy[2 * i + 2]!, xy[2 * i + 3]!, maxLen) - 1
  }
  if (!extra) return g
  const out = new Float64Array(2 * (n + extra))
  const starts = new Int32Array(rings.length)
  let k = 0
  for (let j = 0; j + 1 < rings.length; j++) {
    starts[j] = k
    const end = rings[j + 1]!
    for (let i = rings[j]!; i < end; i++) {
      const x0 = xy[2 * i]!, y0 = xy[2 * i + 1]!
      out[2 * k] = x0
      out[2 * k + 1] = y0
      k++
      if (i + 1 === end) break
      const x1 = xy[2 * i + 2]!, y1 = xy[2 * i + 3]!
      const m = pieces(x0, y0, x1, y1, maxLen)
      for (let p = 1; p < m; p++, k++) {
        out[2 * k] = x0 + ((x1 - x0) * p) / m
        out[2 * k + 1] = y0 + ((y1 - y0) * p) / m
      }
    }
  }
  starts[rings.length - 1] = k
  return { xy: out, rings: starts }
}

function densifyRing(ring: Position[], maxLen: number): Position[] {
  let out: Position[] | undefined
  for (let i = 0; i + 1 < ring.length; i++) {
    const a = ring[i]!, b = ring[i + 1]!
    const x0 = Number(a[0]), y0 = Number(a[1]), x1 = Number(b[0]), y1 = Number(b[1])
    const m = Array.isArray(a) && Array.isArray(b) ? pieces(x0, y0, x1, y1, maxLen) : 1
    if (m > 1 && !out) out = ring.slice(0, i + 1)
    if (!out) continue
    for (let p = 1; p < m; p++) out.push([x0 + ((x1 - x0) * p) / m, y0 + ((y1 - y0) * p) / m])
    out.push(b)
  }
  return out ?? ring
}

function densifyGeometry(g: Geometry, maxLen: number): Geometry {
  const rings = (rs: Position[][]) => {
    const d = rs.map((r) => (Array.isArray(r) ? densifyRing(r, maxLen) : r))
    return d.every((r, i) => r === rs[i]) ? rs : d
  }
  if (g.type === 'Polygon' && Array.isArray(g.coordinates)) {
    const c = rings(g.coordinates)
    return c === g.coordinates ? g : { ...g, coordinates: c }
  }
  if (g.type === 'MultiPolygon' && Array.isArray(g.coordinates)) {
    const c = g.coordinates.map((p) => (Array.isArray(p) ? rings(p) : p))
    return c.every((p, i) => p === g.coordinates[i]) ? g : { ...g, coordinates: c }
  }
  if (g.type === 'GeometryCollection' && Array.isArray(g.geometries)) {
    const c = g.geometries.map((x) => densifyGeometry(x, maxLen))
    return c.every((x, i) => x === g.geometries[i]) ? g : { ...g, geometries: c }
  }
  return g
}
