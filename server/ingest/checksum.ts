import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** sha256 over a dataset's files (a shapefile's .shp/.dbf/.prj/.cpg/.shx in name order). */
export async function datasetChecksum(file: string): Promise<string> {
  const hash = crypto.createHash('sha256')
  const files = /\.shp$/i.test(file) ? shapefileParts(file) : [file]
  for (const f of files) {
    await new Promise<void>((resolve, reject) => {
      fs.createReadStream(f).on('data', (c) => hash.update(c)).on('end', resolve).on('error', reject)
    })
  }
  return 'sha256:' + hash.digest('hex')
}

function shapefileParts(shp: string): string[] {
  const dir = path.dirname(shp)
  const base = path.basename(shp).replace(/\.shp$/i, '').toLowerCase()
  return fs
    .readdirSync(dir)
    .filter((f) => /^(.*)\.(shp|shx|dbf|prj|cpg)$/i.test(f) && f.replace(/\.[^.]+$/, '').toLowerCase() === base)
    .sort()
    .map((f) => path.join(dir, f))
}
