declare module 'geographiclib-geodesic' {
  interface PolygonArea { AddPoint(lat: number, lon: number): void; Compute(reverse: boolean, sign: boolean): { number: number; perimeter: number; area: number } }
  interface Geodesic {
    Polygon(polyline: boolean): PolygonArea
    Inverse(lat1: number, lon1: number, lat2: number, lon2: number, outmask?: number): { s12: number; S12: number }
  }
  const geodesic: { Geodesic: { Geodesic: new (a: number, f: number) => Geodesic; AREA: number } }
  export default geodesic
}
