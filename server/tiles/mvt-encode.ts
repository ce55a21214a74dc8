// Polygons already in tile coordinates (WKB from tile-geom.sql) → one MVT layer, written by
// @maplibre/vt-pbf. Rings are oriented as the MVT 2.1 spec requires (exterior rings with
// positive surveyor's-formula area in tile coordinates, y down; holes negative) and rings
// that snapping collapsed are dropped. Null properties are left out, as ST_AsMVT does.
import { fromVectorTileJs, type VectorTileFeatureLike, type VectorTileLayerLike } from '@maplibre/vt-pbf'
import { wkbPolygons } from '../geom/wkb.ts'

export interface TileFeature {
  id: number
  properties: Record<string, unknown>
  /** (Multi)Polygon in tile coordinates */
  wkb: Uint8Array
}

interface Pt { x: number; y: number }

export function encodeMvt(layerName: string, features: TileFeature[], extent: number): Uint8Array {
  const out: VectorTileFeatureLike[] = []
  for (const f of features) {
    const rings = tileRings(f.wkb)
    if (!rings.length) continue
    const properties: Record<string, string | number | boolean> = {}
    for (const [k, v] of Object.entries(f.properties)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') properties[k] = v
      else if (v !== null && v !== undefined) properties[k] = JSON.stringify(v)
    }
    out.push({ type: 3, id: f.id, properties, extent, loadGeometry: () => rings as never })
  }
  if (!out.length) return new Uint8Array(0)
  const layer: VectorTileLayerLike = { version: 2, name: layerName, extent, length: out.length, feature: (i: number) => out[i]! }
  return fromVectorTileJs({ layers: { [layerName]: layer } })
}

/** Rings of all polygons, exterior first in each, oriented for MVT; degenerate rings gone. */
export function tileRings(wkb: Uint8Array): Pt[][] {
  const rings: Pt[][] = []
  for (const poly of wkbPolygons(wkb)) {
    let keptExterior = false
    poly.forEach((xy, i) => {
      const ring: Pt[] = []
      for (let k = 0; k < xy.length; k += 2) {
        const x = Math.round(xy[k]!)
        const y = Math.round(xy[k + 1]!)
        const last = ring[ring.length - 1]
        if (!last || last.x !== x || last.y !== y) ring.push({ x, y })
      }
      if (ring.length > 1 && ring[0]!.x === ring[ring.length - 1]!.x && ring[0]!.y === ring[ring.length - 1]!.y) ring.pop()
      if (ring.length < 3) return
      const a = signedArea(ring)
      if (a === 0) return
      if (i === 0) keptExterior = true
      else if (!keptExterior) return // a hole without its polygon
      if ((i === 0) !== (a > 0)) ring.reverse()
      ring.push({ ...ring[0]! }) // closed, as vector-tile-js returns rings
      rings.push(ring)
    })
  }
  return rings
}

/** Surveyor's formula (x to the right, y down: positive = clockwise on screen). */
export function signedArea(ring: Pt[]): number {
  let s = 0
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += ring[j]!.x * ring[i]!.y - ring[i]!.x * ring[j]!.y
  return s / 2
}
