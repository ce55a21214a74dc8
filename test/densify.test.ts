// Long edges of projected sources split before reprojection (ingest/densify.ts): the
// shapefile reader's flat rings and GeoJSON rings get the same points.
import { describe, expect, it } from 'vitest'
import type { Polygon } from 'geojson'
import { densifyFeature, densifyFlat } from '../server/ingest/densify.ts'

describe('densify', () => {
  const outer = [[0, 0], [1000, 0], [1000, 100], [0, 100], [0, 0]]
  const hole = [[10, 10], [10, 20], [20, 20], [20, 10], [10, 10]]
  it('splits every edge over the limit into equal pieces, keeps the others and the closing vertex', () => {
    const g = densifyFeature({ index: 0, attributes: {}, geometry: { type: 'Polygon', coordinates: [outer, hole] } }, 300).geometry as Polygon
    expect(g.coordinates[0]).toEqual([[0, 0], [250, 0], [500, 0], [750, 0], [1000, 0], [1000, 100], [750, 100], [500, 100], [250, 100], [0, 100], [0, 0]])
    expect(g.coordinates[1]).toBe(hole)
  })
  it('flat rings (shapefile reader) get the same points as GeoJSON rings', () => {
    const xy = new Float64Array([...outer, ...hole].flat())
    const flat = densifyFlat({ xy, rings: new Int32Array([0, 5, 10]) }, 300)
    const g = densifyFeature({ index: 0, attributes: {}, geometry: { type: 'Polygon', coordinates: [outer, hole] } }, 300).geometry as Polygon
    expect(Array.from(flat.rings)).toEqual([0, 11, 16])
    expect(Array.from(flat.xy)).toEqual([...g.coordinates[0]!, ...g.coordinates[1]!].flat())
  })
  it('a feature without long edges is returned as it is', () => {
    const f = { index: 0, attributes: {}, geometry: { type: 'Polygon' as const, coordinates: [hole] } }
    expect(densifyFeature(f, 300)).toBe(f)
  })
})
