// The floor plan, checked: server/ folders form layers, and no import points from a lower
// layer to a higher one (so no two folders import each other); the two engines do not
// import each other. CONTRIBUTING.md draws the same map.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const SERVER = path.resolve(import.meta.dirname, '../server')

/** bottom to top; a module may import from its own layer's folder and from the ones before */
const LAYERS = [
  'errors.ts', 'config-file.ts', 'settings.ts', 'scoped.ts', 'module-url.ts', 'types', 'validate', 'geom', 'db', 'crs',
  'catalog', 'audit', 'runs', 'distribute', 'ingest', 'units', 'indicators', 'stats', 'raster', 'gep', 'ledger', 'watershed', 'alerts', 'results', 'auth',
  'factors', 'report', 'tiles', 'worker', 'runtime.ts', 'sample', 'http', 'cli',
]

interface Edge { from: string; to: string; fromFile: string; toFile: string }

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? sources(p) : /\.(ts|mjs)$/.test(e.name) ? [p] : []
  })
}

/** relative imports (static and dynamic) of every module under server/ */
function imports(): Edge[] {
  const out: Edge[] = []
  for (const file of sources(SERVER)) {
    const text = fs.readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), m[1]!)
      const fromFile = path.relative(SERVER, file), toFile = path.relative(SERVER, target)
      out.push({ from: fromFile.split(path.sep)[0]!, to: toFile.split(path.sep)[0]!, fromFile, toFile })
    }
  }
  return out
}

describe('architecture', () => {
  const edges = imports()

  it('finds the imports it checks', () => {
    expect(edges.length).toBeGreaterThan(300)
    expect(edges.every((e) => fs.existsSync(path.join(SERVER, e.toFile)))).toBe(true)
  })

  it('every server folder and top-level module has a layer', () => {
    const entries = fs.readdirSync(SERVER).filter((n) => !n.endsWith('.md'))
    expect(entries.filter((n) => !LAYERS.includes(n))).toEqual([])
  })

  it('no import points upward, so no two folders import each other', () => {
    const rank = (n: string) => LAYERS.indexOf(n)
    const upward = edges.filter((e) => e.from !== e.to && rank(e.to) > rank(e.from)).map((e) => `${e.fromFile} → ${e.toFile}`)
    expect(upward).toEqual([])
  })

  it('the piece engine and the cell engine do not import each other', () => {
    const engine = (f: string) => /^stats\/(pieces|cells)\//.exec(f)?.[1]
    const across = edges.filter((e) => engine(e.fromFile) && engine(e.toFile) && engine(e.fromFile) !== engine(e.toFile)).map((e) => `${e.fromFile} → ${e.toFile}`)
    expect(across).toEqual([])
  })

  it('no module-level mutable state outside a runtime, but for the listed exceptions', () => {
    // a top-level `let`, or a top-level Map/Set/WeakMap/WeakSet/array made empty to be filled
    // later (tables built once from constants are not state); pools,
    // caches, counters and live runs belong to a runtime (server/runtime.ts, server/scoped.ts)
    const ALLOWED: Record<string, string> = {
      'stats/cells/measure.ts': 'scratch arrays of the measuring loop, grown as needed; nothing carries over between calls',
      'stats/cells/threads/measure-worker.ts': "a worker thread's entry: its module is that thread's runtime",
      'raster/raster-store.ts': 'open raster files, a process resource shared by runtimes (closeRasterFiles)',
      'raster/geotiff-file.ts': 'a decoder per open image, attached to the image object (WeakMap)',
      'tiles/vector-tile.ts': "whether a database's PostGIS can encode MVT, attached to the database object (WeakMap)",
      'cli/program.ts': 'the option schema of each command, filled once as the commands are declared',
    }
    const found: string[] = []
    for (const file of sources(SERVER)) {
      const rel = path.relative(SERVER, file)
      const text = fs.readFileSync(file, 'utf8')
      const hits = [...text.matchAll(/^(?:export )?(?:let |const \w+(?:: [^=\n]+)? = (?:new (?:Map|Set|WeakMap|WeakSet)(?:<[^\n]*>)?\(\)|\[\]))/gm)]
      if (hits.length && !ALLOWED[rel]) found.push(`${rel}: ${hits.map((h) => h[0]).join('; ')}`)
    }
    expect(found).toEqual([])
  })

  it('engines and ingest import no shell (http, cli) and no result rendering', () => {
    const low = /^(stats|raster|gep|ingest|units|catalog|db|geom|runs)\//
    const bad = edges.filter((e) => low.test(e.fromFile) && /^(http|cli|results|tiles|factors|sample)\//.test(e.toFile)).map((e) => `${e.fromFile} → ${e.toFile}`)
    expect(bad).toEqual([])
  })
})
