import fs from 'node:fs'
import path from 'node:path'
import type { Feature, Geometry } from 'geojson'
import { BadInput } from '../errors.ts'
import type { ReadOptions, VectorSource } from './source.ts'

// GeoJSON is parsed whole (JSON has no record boundaries to stream on); the byte limit
// keeps that bounded. Large data should come as shapefiles, which stream.
export const GEOJSON_MAX_BYTES = 512 * 1024 * 1024

export async function openGeoJson(file: string, opts: ReadOptions, displayName = path.basename(file)): Promise<VectorSource> {
  const name = displayName
  const size = fs.statSync(file).size
  if (size === 0) throw new BadInput(`${name}: the file is empty`)
  const limit = Math.min(opts.maxBytes, GEOJSON_MAX_BYTES)
  if (size > limit) throw new BadInput(`${name}: ${size} bytes is over the GeoJSON limit of ${limit}; convert large data to a shapefile or GeoPackage`)
  let doc: unknown
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    throw new BadInput(`${name}: not valid JSON (${(err as Error).message})`)
  }
  const features = toFeatures(doc, name)
  const fields = [...new Set(features.flatMap((f) => Object.keys(f.properties ?? {})))]
  const crsName = (doc as { crs?: { properties?: { name?: unknown } } })?.crs?.properties?.name
  return {
    format: 'geojson',
    file: name,
    fields,
    // RFC 7946: coordinates are WGS 84 lon/lat unless an (obsolete but common) crs member says otherwise.
    crs: typeof crsName === 'string' ? { code: crsName, from: 'the GeoJSON crs member' } : { code: 'EPSG:4326', from: 'RFC 7946 default (WGS 84)' },
    expectedCount: features.length,
    async *features(signal) {
      for (let index = 0; index < features.length; index++) {
        signal?.throwIfAborted()
        const f = features[index]!
        const attributes: Record<string, unknown> = { ...(f.properties ?? {}) }
        if (f.id !== undefined && !('id' in attributes)) attributes.id = f.id
        yield { index, attributes, geometry: (f.geometry as Geometry | null) ?? null }
      }
    },
    async close() {},
  }
}

function toFeatures(doc: unknown, name: string): Feature[] {
  const d = doc as { type?: string; features?: unknown }
  if (d?.type === 'FeatureCollection') {
    if (!Array.isArray(d.features)) throw new BadInput(`${name}: FeatureCollection without a features array`)
    return d.features as Feature[]
  }
  if (d?.type === 'Feature') return [d as Feature]
  if (typeof d?.type === 'string' && /Polygon|Point|LineString|GeometryCollection/.test(d.type)) {
    return [{ type: 'Feature', properties: {}, geometry: d as Geometry }]
  }
  throw new BadInput(`${name}: not GeoJSON (no FeatureCollection, Feature or geometry at the top level)`)
}
