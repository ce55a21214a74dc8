import type { Geometry } from 'geojson'

/** One record as a reader yields it: attributes with original field names, geometry in the source CRS. */
export interface SourceFeature {
  /** 0-based position in the file, kept as feature.src_index for traceability */
  index: number
  attributes: Record<string, unknown>
  geometry: Geometry | null
  /** a shapefile's polygon as stored (rings in file order, source CRS), given instead of `geometry` by the fast reader */
  flat?: FlatRings
}

/** Rings as a shapefile holds them: points as x, y pairs; ring j is points rings[j] … rings[j+1]−1. */
export interface FlatRings {
  xy: Float64Array
  rings: Int32Array
}

/** What a reader knows of the CRS before the first feature. */
export interface CrsHint {
  /** WKT from a .prj or gpkg_spatial_ref_sys */
  wkt?: string
  /** 'EPSG:4490' from GeoJSON's crs member, GeoPackage's srs organisation, or the RFC 7946 default */
  code?: string
  /** where the hint came from, for messages */
  from: string
}

export interface VectorSource {
  format: 'shapefile' | 'geojson' | 'geopackage'
  /** file name as the user gave it, for messages and provenance */
  file: string
  fields: string[]
  crs: CrsHint | undefined
  encoding?: string
  /** record count when the header states it */
  expectedCount?: number
  features(signal?: AbortSignal): AsyncIterable<SourceFeature>
  close(): Promise<void>
}

export interface ReadOptions {
  encoding?: string
  /** GeoPackage table when the file holds several */
  table?: string
  /** largest file (or sum of extracted zip entries) accepted, bytes */
  maxBytes: number
  /** the geometry a dataset must hold: polygons (layers, units; the default) or points (monitoring sections only) */
  geometry?: 'polygon' | 'point'
}
