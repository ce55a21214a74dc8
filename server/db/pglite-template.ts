// A new embedded database starts from a template: a data directory on which initdb and
// CREATE EXTENSION postgis have already run, dumped once per install (PGlite's
// dumpDataDir) and loaded into every new database (PGlite's loadDataDir, the way its own
// clone() works). initdb and the extension script take ~8 s; loading the template ~2 s.
// `npm install` writes it (scripts/prepare.mjs); otherwise the first new database does.
import fs from 'node:fs'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { cached } from './embedded-cache.ts'
import { postgisExtension, type PostgisExtension } from './postgis-bundle.ts'

/** The template's file (written when missing), or undefined when it cannot be written. */
export async function templateFile(postgis: PostgisExtension, log: (msg: string) => void = () => {}): Promise<string | undefined> {
  const pgliteVersion = JSON.parse(fs.readFileSync(path.join(postgis.nodeModules, '@electric-sql', 'pglite', 'package.json'), 'utf8')).version as string
  return cached(postgis.nodeModules, `pgdata-${pgliteVersion}-${postgis.stamp}.tar.gz`, async (tmp) => {
    log('embedded database: preparing its template (initdb and PostGIS, once per install; ~10 s)')
    const install = await postgisExtension(log, { install: true })
    const pg = new PGlite({ extensions: { postgis: install.extension } })
    try {
      await pg.exec('CREATE EXTENSION postgis')
      const dump = await pg.dumpDataDir('gzip')
      fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()))
    } finally {
      await pg.close()
    }
  }, log)
}

/** The template as PGlite's loadDataDir wants it. */
export function templateBlob(file: string): Blob {
  return new Blob([fs.readFileSync(file)])
}
