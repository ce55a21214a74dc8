// The floor plan, checked: server/ folders form layers, and no import points from a lower
// layer to a higher one (so no two folders import each other); the two engines do not
// import each other. CONTRIBUTING.md draws the same map.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const SERVER = path.resolve(import.meta.dirname, '../server')

/** bottom to top; a module may import from its own layer's folder and from the ones before */
const LAYERS = [
  'errors.ts', 'config-file.ts', 'settings.ts', 'types', 'validate', 'geom', 'db', 'crs',
  'catalog', 'audit', 'runs', 'ingest', 'units', 'stats', 'raster', 'results', 'auth',
  'factors', 'tiles', 'sample', 'http', 'cli',
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

  it('engines and ingest import no shell (http, cli) and no result rendering', () => {
    const low = /^(stats|raster|ingest|units|catalog|db|geom|runs)\//
    const bad = edges.filter((e) => low.test(e.fromFile) && /^(http|cli|results|tiles|factors|sample)\//.test(e.toFile)).map((e) => `${e.fromFile} → ${e.toFile}`)
    expect(bad).toEqual([])
  })
})
