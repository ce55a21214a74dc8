// Compiles server/**/*.ts to JavaScript under dist/<stamp>/server/ with esbuild, one output
// per module (no bundling: every relative import stays an import, `.ts` rewritten to `.js`,
// packages stay imports of node_modules), and copies the files the modules read beside
// themselves (.sql, migrations). `npm install` runs it (prepare); the launcher
// (scripts/ecocensus.mjs) runs it again when a source is newer than the build.
//
// The output directory is named by a stamp of the sources (paths, sizes, mtimes), written
// under a temporary name and renamed into place, so two processes that build at once both
// end with a complete build and never read a half-written one.
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SRC = path.join(ROOT, 'server')
const DIST = path.join(ROOT, 'dist')
const VERSION = 1 // bump when the build's output changes for the same sources

/** Every file under server/, relative, sorted. */
function sources() {
  const out = []
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) out.push(p)
    }
  }
  walk(SRC)
  return out.sort()
}

/** The stamp of the current sources: a build made from them lives in dist/<stamp>. */
export function stampOf(files = sources()) {
  const h = createHash('sha1').update(`v${VERSION}\n`)
  for (const f of files) {
    const st = fs.statSync(f)
    h.update(`${path.relative(SRC, f)}\t${st.size}\t${st.mtimeMs}\n`)
  }
  return h.digest('hex').slice(0, 16)
}

/** Builds when no complete build of the current sources exists; returns the URL of the CLI's entry. */
export async function ensureBuilt({ quiet = false } = {}) {
  const files = sources()
  const stamp = stampOf(files)
  const out = path.join(DIST, stamp)
  if (!fs.existsSync(path.join(out, 'COMPLETE'))) await build(files, out, quiet)
  return pathToFileURL(path.join(out, 'server', 'cli', 'main.js')).href
}

async function build(files, out, quiet) {
  const t0 = performance.now()
  const { build: esbuild } = await import('esbuild')
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`
  const entries = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  const relativeTs = {
    name: 'relative-imports-stay-imports',
    setup(b) {
      // every import of another of our modules stays an import of its compiled file
      b.onResolve({ filter: /^\.\.?\// }, (a) => {
        if (a.kind === 'entry-point') return undefined
        if (!a.path.endsWith('.ts')) throw new Error(`${path.relative(ROOT, a.importer)}: relative import without .ts: ${a.path}`)
        return { path: a.path.slice(0, -3) + '.js', external: true }
      })
    },
  }
  try {
    await esbuild({
      entryPoints: entries,
      outdir: path.join(tmp, 'server'),
      outbase: SRC,
      bundle: true,
      packages: 'external',
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      logLevel: 'warning',
      plugins: [relativeTs],
    })
    for (const f of files) {
      if (f.endsWith('.ts') || f.endsWith('.mjs')) continue
      const to = path.join(tmp, 'server', path.relative(SRC, f))
      fs.mkdirSync(path.dirname(to), { recursive: true })
      fs.copyFileSync(f, to)
    }
    fs.writeFileSync(path.join(tmp, 'COMPLETE'), `${new Date().toISOString()}\n`)
    try {
      fs.renameSync(tmp, out)
    } catch (e) {
      // another process finished the same build first: use it
      if (!fs.existsSync(path.join(out, 'COMPLETE'))) throw e
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true })
    throw e
  }
  prune(path.basename(out))
  if (!quiet) process.stderr.write(`compiled ${entries.length} modules to ${path.relative(ROOT, out)}/ in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
}

/** Removes builds of older sources: those a day old, past the two newest (a server started
 * from one may still load modules from it: worker threads, lazily imported code). */
function prune(keep) {
  const now = Date.now()
  const builds = fs
    .readdirSync(DIST)
    .filter((n) => n !== keep)
    .map((n) => ({ p: path.join(DIST, n), t: fs.statSync(path.join(DIST, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
  for (const { p, t } of builds.slice(1)) {
    if (now - t > 86_400_000) fs.rmSync(p, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await ensureBuilt()
}
