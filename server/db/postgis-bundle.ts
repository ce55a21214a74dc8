// The PostGIS extension of the embedded database, trimmed to what ecocensus loads.
//
// @electric-sql/pglite-postgis ships one bundle (a 20 MB tar.gz) that PGlite unpacks into
// its in-memory file system at every start, compiling every WebAssembly library in it:
// postgis, postgis_raster and postgis_topology (48 MB of WebAssembly), plus the tiger
// geocoder and upgrade scripts. We create only `postgis`, so a copy of the bundle holding
// postgis-3.so, its control file and PROJ's data is written once (embedded-cache.ts) and
// handed to PGlite instead: each start is ~0.9 s faster and the process ~350 MiB smaller.
// The extension's install script (7.5 MB, kept in memory by PGlite) is only in the copy
// used to create the extension (the template, pglite-template.ts).
import fs from 'node:fs'
import path from 'node:path'
import { createGunzip, createGzip } from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import type { Extension } from '@electric-sql/pglite'
import { postgis } from '@electric-sql/pglite-postgis'
import tar from 'tar-stream'
import { cached } from './embedded-cache.ts'

/** Files of the bundle PGlite needs to run every function of postgis ... */
const RUN = [/^lib\/postgresql\/postgis-3\.so$/, /^share\/proj\//, /^share\/postgresql\/extension\/postgis\.control$/]
/** ... and to create the extension: the install script of the current version (not the upgrade or `unpackaged` scripts). */
const INSTALL = [...RUN, /^share\/postgresql\/extension\/postgis--[0-9.]+\.sql$/]

export interface PostgisExtension {
  extension: Extension
  /** names the package's bundle (a template made with one version of it is not used with another) */
  stamp: string
  /** node_modules that holds pglite-postgis */
  nodeModules: string
}

/** postgis with the trimmed bundle (written on first use), or the whole one when it cannot
 *  be written; `install`: one that can also run CREATE EXTENSION postgis. */
export async function postgisExtension(log: (msg: string) => void = () => {}, opts: { install?: boolean } = {}): Promise<PostgisExtension> {
  const original = await originalBundle()
  const st = fs.statSync(original)
  const stamp = `${st.size}-${Math.round(st.mtimeMs)}`
  // <node_modules>/@electric-sql/pglite-postgis/dist/postgis.tar.gz
  const nodeModules = path.resolve(path.dirname(original), '..', '..', '..')
  const purpose = opts.install ? 'install' : 'run'
  const file = await cached(nodeModules, `postgis-${purpose}-${stamp}.tar.gz`, async (tmp) => { await trimBundle(original, tmp, opts.install ? INSTALL : RUN) }, log)
  if (!file) {
    log('embedded database: using the whole PostGIS bundle (slower start, more memory)')
    return { extension: postgis, stamp, nodeModules }
  }
  const extension: Extension = {
    name: 'postgis',
    setup: async (pg, opts) => ({ ...(await postgis.setup(pg, opts)), bundlePath: new URL(`file://${path.resolve(file)}`) }),
  }
  return { extension, stamp, nodeModules }
}

async function originalBundle(): Promise<string> {
  // the package's own setup names its bundle; nothing else of it runs here
  const { bundlePath } = await postgis.setup({} as never, { PGLITE_ENV: {} } as never)
  if (!bundlePath) throw new Error('@electric-sql/pglite-postgis names no bundle')
  return fileURLToPath(bundlePath)
}

/** Copies the entries of `from` that `keep` names (and every directory) to `to`; fails when a pattern matches nothing. */
export async function trimBundle(from: string, to: string, keep: RegExp[]): Promise<{ kept: number; dropped: number }> {
  const extract = tar.extract()
  const pack = tar.pack()
  const counts = { kept: 0, dropped: 0 }
  const matched = new Set<number>()
  const kept = (name: string) => {
    const i = keep.findIndex((re) => re.test(name.replace(/^\.\//, '')))
    if (i >= 0) matched.add(i)
    return i >= 0
  }
  extract.on('entry', (header, stream, next) => {
    if (header.type === 'directory' || kept(header.name)) {
      if (header.type !== 'directory') counts.kept++
      stream.pipe(pack.entry(header, next))
    } else {
      counts.dropped++
      stream.on('end', next)
      stream.resume()
    }
  })
  extract.on('finish', () => pack.finalize())
  await Promise.all([
    pipeline(fs.createReadStream(from), createGunzip(), extract),
    pipeline(pack, createGzip({ level: 1 }), fs.createWriteStream(to)),
  ])
  const missing = keep.filter((_, i) => !matched.has(i))
  if (missing.length) throw new Error(`${from} has nothing matching ${missing.join(', ')}`)
  return counts
}
