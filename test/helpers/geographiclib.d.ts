declare module 'geographiclib-geodesic' {
  interface PolygonArea { AddPoint(lat: number, lon: number): void; Compute(reverse: boolean, sign: boolean): { number: number; perimeter: number; area: number } }
  const geodesic: { Geodesic: { Geodesic: new (a: number, f: number) => { Polygon(polyline: boolean): PolygonArea } } }
  export default geodesic
}
