// Lambert azimuthal equal-area on the GRS80 ellipsoid (CGCS2000), forward only, pure
// (Snyder, Map Projections — A Working Manual, eqs. 3-12, 24-13 … 24-19). Equal-area
// exactly, so a polygon's planar area in it is the ellipsoidal area of the polygon whose
// edges are the images of straight map segments. Near the centre those images are
// geodesics to within a curvature of ~d/R² (d: distance from the centre, R: Earth radius):
// a 250 m edge 50 km from the centre bends ~1e-5 m from the geodesic, so a cell's area
// moves by ~1e-8 of itself — far inside the 1e-6 at which results are compared with
// PostGIS's ST_Area(geography) (GeographicLib). Per vertex it costs one log, one sin/cos
// pair and two square roots instead of a geodesic inverse per edge.

const A = 6378137
const F = 1 / 298.257222101
const E2 = F * (2 - F)
const E = Math.sqrt(E2)
const D2R = Math.PI / 180

/** Snyder's q(φ) from sin φ. */
function q(s: number): number {
  const es = E * s
  return (1 - E2) * (s / (1 - E2 * s * s) - (1 / (2 * E)) * Math.log((1 - es) / (1 + es)))
}

const QP = q(1)
const RQ = A * Math.sqrt(QP / 2)

export interface Laea {
  /** projects lon/lat degrees; writes x, y (metres) into out[at], out[at + 1] */
  forward(lon: number, lat: number, out: Float64Array | number[], at: number): void
  lon0: number
  lat0: number
}

export function laea(lon0: number, lat0: number): Laea {
  const s1 = Math.sin(lat0 * D2R)
  const sinB1 = q(s1) / QP
  const cosB1 = Math.sqrt(1 - sinB1 * sinB1)
  const m1 = Math.cos(lat0 * D2R) / Math.sqrt(1 - E2 * s1 * s1)
  const D = (A * m1) / (RQ * cosB1)
  const l0 = lon0 * D2R
  return {
    lon0,
    lat0,
    forward(lon, lat, out, at) {
      const sinB = q(Math.sin(lat * D2R)) / QP
      const cosB = Math.sqrt(Math.max(0, 1 - sinB * sinB))
      const dl = lon * D2R - l0
      const cl = Math.cos(dl)
      const B = RQ * Math.sqrt(2 / (1 + sinB1 * sinB + cosB1 * cosB * cl))
      out[at] = B * D * cosB * Math.sin(dl)
      out[at + 1] = (B / D) * (cosB1 * sinB - sinB1 * cosB * cl)
    },
  }
}
