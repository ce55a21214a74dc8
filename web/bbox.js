// The bounding box of a GeoJSON geometry, to fit the map to a feature or unit.
/** [minx, miny, maxx, maxy] of a GeoJSON geometry's coordinates */
export function bboxOf(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity]
  const walk = (c) => (typeof c[0] === 'number' ? (b[0] = Math.min(b[0], c[0]), b[1] = Math.min(b[1], c[1]), b[2] = Math.max(b[2], c[0]), b[3] = Math.max(b[3], c[1])) : c.forEach(walk))
  walk(geometry.coordinates)
  return b
}
