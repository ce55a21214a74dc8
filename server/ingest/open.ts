import fs from 'node:fs'
import path from 'node:path'
import { BadInput, Unsupported } from '../errors.ts'
import type { ReadOptions, VectorSource } from './source.ts'
import { openShapefile } from './read-shapefile.ts'
import { openGeoJson } from './read-geojson.ts'
import { openGeoPackage } from './read-geopackage.ts'
import { extractZip } from './unzip.ts'

/** Picks the reader by file name; a .zip is unpacked and must hold one dataset. */
export async function openVectorSource(file: string, opts: ReadOptions, displayName = path.basename(file)): Promise<VectorSource> {
  if (!fs.existsSync(file)) throw new BadInput(`${displayName}: no such file`)
  if (!fs.statSync(file).isFile()) throw new BadInput(`${displayName}: not a file`)
  const ext = path.extname(displayName).toLowerCase()
  switch (ext) {
    case '.shp':
      return openShapefile(file, opts, displayName)
    case '.geojson':
    case '.json':
      return openGeoJson(file, opts, displayName)
    case '.gpkg':
      return openGeoPackage(file, opts, displayName)
    case '.zip':
      return openZip(file, opts, displayName)
    case '.dbf':
    case '.shx':
    case '.prj':
      throw new BadInput(`${displayName}: give the .shp file (its .dbf, .shx, .prj and .cpg are found next to it)`)
    default:
      throw new Unsupported(`${displayName}: unsupported format '${ext || 'no extension'}'; use .shp, .zip (of a shapefile), .geojson or .gpkg`)
  }
}

async function openZip(file: string, opts: ReadOptions, name: string): Promise<VectorSource> {
  const { dir, files } = await extractZip(file, opts.maxBytes, name)
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  try {
    const datasets = files.filter((f) => /\.(shp|geojson|json|gpkg)$/i.test(f))
    if (datasets.length !== 1) {
      throw new BadInput(
        datasets.length
          ? `${name}: holds ${datasets.length} datasets (${datasets.map((f) => path.basename(f)).join(', ')}); zip one at a time`
          : `${name}: holds no .shp, .geojson or .gpkg file`,
      )
    }
    const inner = datasets[0]!
    const source = await openVectorSource(inner, opts, `${name}/${path.basename(inner)}`)
    return {
      ...source,
      async close() {
        await source.close()
        cleanup()
      },
    }
  } catch (err) {
    cleanup()
    throw err
  }
}
