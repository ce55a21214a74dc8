import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import geodesic from 'geographiclib-geodesic'
import type { Geometry, Position } from 'geojson'

export function tmpDir(prefix = 'eco-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** A lon/lat box with extra vertices every `step` degrees along its edges. */
export function box(w: number, s: number, e: number, n: number, step = e - w): Position[] {
  const xs: number[] = []
  for (let x = w; x < e - 1e-12; x += step) xs.push(round(x))
  xs.push(e)
  const ring: Position[] = []
  for (const x of xs) ring.push([x, s])
  ring.push([e, n])
  for (const x of [...xs].reverse().slice(1)) ring.push([x, n])
  ring.push([w, s])
  return ring
}

const round = (v: number) => Math.round(v * 1e9) / 1e9

export function featureCollection(features: { props?: Record<string, unknown>; geometry: Geometry | null }[], crs?: string) {
  return {
    type: 'FeatureCollection',
    ...(crs ? { crs: { type: 'name', properties: { name: crs } } } : {}),
    features: features.map((f) => ({ type: 'Feature', properties: f.props ?? {}, geometry: f.geometry })),
  }
}

export function writeJson(dir: string, name: string, doc: unknown): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return file
}

// GeographicLib (Karney 2013), JS port — an implementation independent of PostGIS's C copy.
const GRS80 = new geodesic.Geodesic.Geodesic(6378137, 1 / 298.257222101)

/** Ellipsoidal area (GRS80, geodesic edges) of a GeoJSON Polygon or MultiPolygon, m². */
export function geodesicArea(g: Geometry): number {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : []
  let total = 0
  for (const poly of polys) {
    poly.forEach((ring, i) => {
      const p = GRS80.Polygon(false)
      for (const [lon, lat] of ring.slice(0, -1)) p.AddPoint(lat!, lon!)
      const a = Math.abs(p.Compute(false, true).area)
      total += i === 0 ? a : -a
    })
  }
  return total
}
