import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import yauzl from 'yauzl'
import { BadInput, TooLarge } from '../errors.ts'

const WANTED = /\.(shp|shx|dbf|prj|cpg|geojson|json|gpkg)$/i
const MAX_ENTRIES = 10_000

/**
 * Extracts the GIS files of a .zip into a fresh temp folder, flattening paths (so no
 * entry can escape it: zip-slip is impossible) and counting real bytes written against
 * `maxBytes` (so a zip bomb stops at the limit, whatever the headers claim).
 */
export async function extractZip(zipPath: string, maxBytes: number, name = path.basename(zipPath)): Promise<{ dir: string; files: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecocensus-zip-'))
  const files: string[] = []
  let total = 0
  try {
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(zipPath, { lazyEntries: true, strictFileNames: false }, (err, z) => (err ? reject(new BadInput(`${name}: not a readable zip (${err.message})`)) : resolve(z!))),
    )
    if (zip.entryCount > MAX_ENTRIES) throw new BadInput(`${name}: ${zip.entryCount} entries is more than ${MAX_ENTRIES}`)
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (err) =>
        reject(
          new BadInput(
            /invalid relative path|absolute path/.test(err.message)
              ? `${name}: an entry name points outside the archive (${err.message.replace(/^.*?: /, '')}); refused`
              : `${name}: damaged zip (${err.message})`,
          ),
        ),
      )
      zip.on('end', () => resolve())
      zip.on('entry', (entry: yauzl.Entry) => {
        const base = path.basename(entry.fileName.replace(/\\/g, '/'))
        if (entry.fileName.endsWith('/') || !WANTED.test(base) || base.startsWith('.') || entry.fileName.includes('__MACOSX')) {
          zip.readEntry()
          return
        }
        const target = path.join(dir, base)
        if (files.includes(target)) return reject(new BadInput(`${name}: holds two files named ${base}; zip one dataset at a time`))
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(new BadInput(`${name}: cannot read ${entry.fileName} (${err?.message})`))
          const out = fs.createWriteStream(target)
          stream.on('data', (chunk: Buffer) => {
            total += chunk.length
            if (total > maxBytes) {
              stream.destroy()
              out.destroy()
              reject(new TooLarge(`${name}: unpacks to more than ${maxBytes} bytes; split it or raise ECOCENSUS_MAX_UPLOAD_BYTES`))
            }
          })
          stream.on('error', (e) => reject(new BadInput(`${name}: damaged entry ${entry.fileName} (${e.message})`)))
          out.on('finish', () => {
            files.push(target)
            zip.readEntry()
          })
          stream.pipe(out)
        })
      })
      zip.readEntry()
    })
    zip.close()
    return { dir, files }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }
}
