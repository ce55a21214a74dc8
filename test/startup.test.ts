// Start-up: the compiled JavaScript the CLI and the service run (scripts/build.mjs), the
// embedded database's trimmed PostGIS bundle (db/postgis-bundle.ts) and its template
// (db/pglite-template.ts), and its shared_buffers setting.
import fs from 'node:fs'
import path from 'node:path'
import { createGunzip } from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { postgis } from '@electric-sql/pglite-postgis'
import tar from 'tar-stream'
import { describe, expect, it } from 'vitest'
import { openPglite } from '../server/db/pglite.ts'
import { postgisExtension, trimBundle } from '../server/db/postgis-bundle.ts'
import { loadSettings, ROOT } from '../server/settings.ts'
import { siblingModule } from '../server/module-url.ts'
import { runCli } from './helpers/cli.ts'
import { tmpDir } from './helpers/fixtures.ts'

// @ts-expect-error the build script is plain JavaScript
const { ensureBuilt } = (await import('../scripts/build.mjs')) as { ensureBuilt: (o?: { quiet?: boolean }) => Promise<string> }

const SERVER = path.join(ROOT, 'server')

function files(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
}

async function entries(bundle: string): Promise<string[]> {
  const names: string[] = []
  const x = tar.extract()
  x.on('entry', (h, s, next) => { if (h.type === 'file') names.push(h.name.replace(/^\.\//, '')); s.on('end', next); s.resume() })
  await pipeline(fs.createReadStream(bundle), createGunzip(), x)
  return names
}

describe('compiled JavaScript', () => {
  it('has every module, every file a module reads beside itself, and every worker entry', async () => {
    const main = fileURLToPath(await ensureBuilt({ quiet: true }))
    const out = path.resolve(path.dirname(main), '..')
    const src = files(SERVER)
    const built = new Set(files(out))
    for (const f of src) {
      if (f.endsWith('.mjs') || f.endsWith('.d.ts')) continue // tsx shims of worker threads, type declarations
      const want = f.endsWith('.ts') ? f.slice(0, -3) + '.js' : f
      expect(built.has(want), want).toBe(true)
    }
    // no module still imports a .ts file
    for (const f of built) if (f.endsWith('.js')) expect(fs.readFileSync(path.join(out, f), 'utf8'), f).not.toMatch(/from\s+["'][^"']+\.ts["']|import\(["'][^"']+\.ts["']\)/)
    // every module started by URL exists beside the compiled module that names it
    let named = 0
    for (const f of src.filter((x) => x.endsWith('.ts'))) {
      for (const m of fs.readFileSync(path.join(SERVER, f), 'utf8').matchAll(/siblingModule\(import\.meta\.url, '([\w-]+)'/g)) {
        named++
        const compiled = siblingModule(`file://${path.join(out, f.slice(0, -3) + '.js')}`, m[1]!)
        expect(fs.existsSync(fileURLToPath(compiled)), compiled.href).toBe(true)
        expect(fs.existsSync(fileURLToPath(siblingModule(`file://${path.join(SERVER, f)}`, m[1]!, { thread: true }))), f).toBe(true)
      }
      // accumulator modules of a zonal scan, named from server/ (raster/zonal-job.ts)
      for (const m of fs.readFileSync(path.join(SERVER, f), 'utf8').matchAll(/module: '([a-z]+\/[a-z-]+)'/g)) {
        named++
        expect(built.has(`${m[1]}.js`), m[1]).toBe(true)
        expect(fs.existsSync(path.join(SERVER, `${m[1]}.ts`)), m[1]).toBe(true)
      }
    }
    expect(named).toBe(4) // three worker pools and the GEP kernel
  })

  it('the compiled CLI and the TypeScript sources answer alike', () => {
    const compiled = runCli(['units', '--help'], { ...process.env })
    const sources = runCli(['units', '--help'], { ...process.env, ECOCENSUS_TSX: '1' })
    expect(compiled.code).toBe(0)
    expect(compiled.out).toContain('Usage: ecocensus units')
    expect(compiled.out).toBe(sources.out)
  })
})

describe('embedded database', () => {
  it('loads a PostGIS bundle holding postgis and PROJ only; the template adds the install script', async () => {
    const run = await entries(fileURLToPath((await postgisExtension().then((p) => p.extension.setup({} as never, { PGLITE_ENV: {} } as never))).bundlePath!))
    expect(run).toContain('lib/postgresql/postgis-3.so')
    expect(run).toContain('share/proj/proj.db')
    expect(run).toContain('share/postgresql/extension/postgis.control')
    expect(run.filter((n) => n.endsWith('.so'))).toEqual(['lib/postgresql/postgis-3.so'])
    expect(run.filter((n) => n.endsWith('.sql'))).toEqual([])
    const install = await entries(fileURLToPath((await postgisExtension(() => {}, { install: true }).then((p) => p.extension.setup({} as never, { PGLITE_ENV: {} } as never))).bundlePath!))
    expect(install.filter((n) => n.endsWith('.sql'))).toEqual([expect.stringMatching(/^share\/postgresql\/extension\/postgis--\d+\.\d+\.\d+\.sql$/)])
    // a bundle without what a pattern names is refused, not written
    const original = fileURLToPath((await postgis.setup({} as never, { PGLITE_ENV: {} } as never)).bundlePath!)
    const dir = tmpDir()
    await expect(trimBundle(original, path.join(dir, 'x.tar.gz'), [/^lib\/postgresql\/postgis-9\.so$/])).rejects.toThrow(/nothing matching/)
  })

  it('a database made from the template is the one initdb and CREATE EXTENSION make', async () => {
    const fromTemplate = await openPglite('memory://')
    // the reference: initdb and the extension script, as without a template
    const install = await postgisExtension(() => {}, { install: true })
    const made = new PGlite({ extensions: { postgis: install.extension } })
    try {
      await made.exec('CREATE EXTENSION postgis')
      const probe = `SELECT postgis_full_version() AS v, (SELECT count(*)::int FROM spatial_ref_sys) AS srs,
        (SELECT count(*)::int FROM pg_proc WHERE proname LIKE 'st\\_%') AS fns,
        round(ST_Area(ST_Transform(ST_GeomFromText('POLYGON((117 30,117.1 30,117.1 30.1,117 30))', 4326), 4527))::numeric, 6) AS gk,
        round(ST_Area(ST_GeomFromText('POLYGON((117 30,117.1 30,117.1 30.1,117 30))', 4326)::geography)::numeric, 6) AS geog`
      const [a] = await fromTemplate.query<Record<string, unknown>>(probe)
      const { rows: [b] } = await made.query<Record<string, unknown>>(probe)
      expect(a).toEqual(b)
      expect(a!.srs).toBeGreaterThan(8000)
      expect(a!.fns).toBeGreaterThan(300)
    } finally {
      await made.close()
      await fromTemplate.close()
    }
  })

  it('shared_buffers follows ECOCENSUS_EMBEDDED_BUFFERS_MB (16 MB by default)', async () => {
    expect(loadSettings({}).embeddedBuffersMb).toBe(16)
    expect(loadSettings({ ECOCENSUS_EMBEDDED_BUFFERS_MB: '48' }).embeddedBuffersMb).toBe(48)
    expect(() => loadSettings({ ECOCENSUS_EMBEDDED_BUFFERS_MB: 'lots' })).toThrow(/ECOCENSUS_EMBEDDED_BUFFERS_MB=lots/)
    const db = await openPglite('memory://', () => {}, { sharedBuffersMb: 48 })
    try {
      expect(await db.query("SELECT current_setting('shared_buffers') AS s")).toEqual([{ s: '48MB' }])
    } finally {
      await db.close()
    }
  })
})
