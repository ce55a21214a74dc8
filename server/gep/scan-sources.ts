// The sources of a GEP scan that are made, not read (raster/scan-distributed.ts, deferred
// sources): the land-cover layer rasterized onto the model grid, and the terrain of the DEM
// (slope, aspect, flow accumulation) over the whole grid, because flow paths do not stop at
// a unit's or a task's edge. Whichever process scans makes them, once per run: this one, or
// each worker that takes a part of the run. The same code on the same inputs gives the same
// arrays to the last bit, so the sums are the same wherever they are made.
import { performance } from 'node:perf_hooks'
import type { StepContext } from '../runs/execute.ts'
import { openSource, type SourceSpec } from '../raster/raster-store.ts'
import type { DeferredSource, Resolvers } from '../raster/scan-distributed.ts'
import type { ZonalGrid } from '../raster/zonal-job.ts'
import type { GeoTransform } from '../raster/geotiff-file.ts'
import { rasterizeLayer } from './rasterize.ts'
import { drainage, flowAccumulation, heights, hornGradient } from './terrain.ts'

interface RasterizeArgs { layerId: number; grid: ZonalGrid; classes: string[] }
export type TerrainPart = 'tan' | 'xaspect' | 'acc'
interface TerrainArgs { grid: { width: number; height: number; transform: GeoTransform }; fill: boolean | undefined; part: TerrainPart }
type ArraySource = Extract<SourceSpec, { op: 'array' }>
type Terrain = Record<TerrainPart, ArraySource>

/** Where the terrain's stage times (ms) are kept in a scan's memo, for the run's meta. */
export const STAGES = 'stages'

/** The layer `layerId`'s categories as classes on the grid (gep/rasterize.ts). */
export const rasterizedLayer = (layerId: number, grid: ZonalGrid, classes: string[]): DeferredSource =>
  ({ op: 'deferred', kind: 'gep-rasterize', args: { layerId, grid, classes } satisfies RasterizeArgs, inputs: [] })

/** One of the DEM's terrain arrays on the grid `dem` is read on. */
export const terrainOf = (dem: SourceSpec, grid: TerrainArgs['grid'], fill: boolean | undefined, part: TerrainPart): DeferredSource =>
  ({ op: 'deferred', kind: 'gep-terrain', args: { grid: { width: grid.width, height: grid.height, transform: grid.transform }, fill, part } satisfies TerrainArgs, inputs: [dem] })

const stagesIn = (memo: Map<string, unknown>) => (memo.get(STAGES) ?? memo.set(STAGES, {}).get(STAGES)) as Record<string, number>

/** Made once per run and process: the promise is kept, so parts scanned at once share it. */
function once<T>(memo: Map<string, unknown>, key: string, make: () => Promise<T>): Promise<T> {
  let p = memo.get(key) as Promise<T> | undefined
  if (!p) {
    memo.set(key, (p = make()))
    // a failed make is not kept: the next part tries again
    p.catch(() => memo.delete(key))
  }
  return p
}

async function terrain(ctx: StepContext, a: TerrainArgs, dem: SourceSpec, stages: Record<string, number>): Promise<Terrain> {
  const { width, height, transform: T } = a.grid
  let t = performance.now()
  const lap = (k: string) => { stages[k] = Math.round(performance.now() - t); t = performance.now() }
  const src = await openSource(dem)
  const z = heights(await src.read(0, 0, width, height, ctx.signal), src.nodata)
  lap('dem')
  // slope, aspect and accumulation over the whole grid; LS itself is computed per covered
  // pixel in the scan threads, from these arrays written straight into shared memory
  const g = { width, height, dx: Math.abs(T[1]), dy: Math.abs(T[5]) }
  const shared = (type: 'float32' | 'uint32'): ArraySource => ({ op: 'array', type, data: new SharedArrayBuffer(z.length * 4), width, height, transform: T })
  const out: Terrain = { tan: shared('float32'), xaspect: shared('float32'), acc: shared('uint32') }
  hornGradient(z, g, { tan: new Float32Array(out.tan.data), xAspect: new Float32Array(out.xaspect.data) })
  lap('slope')
  const { z: filled, dir } = drainage(z, g, { fill: a.fill, inPlace: true })
  lap('drainage')
  flowAccumulation(dir, filled, g, new Uint32Array(out.acc.data))
  lap('accumulation')
  return out
}

/** The resolvers of GEP's made sources, for a scan here or on a worker. */
export const GEP_SOURCES: Resolvers = {
  'gep-rasterize': (ctx, args, _inputs, memo) => {
    const a = args as RasterizeArgs
    return once(memo, `rasterize ${a.layerId} ${JSON.stringify(a.grid)} ${JSON.stringify(a.classes)}`, async () => {
      const t = performance.now()
      const out = await rasterizeLayer(ctx.db, a.layerId, a.grid, a.classes, ctx.signal)
      stagesIn(memo).rasterize = Math.round(performance.now() - t)
      return out
    })
  },
  'gep-terrain': async (ctx, args, inputs, memo) => {
    const { part, ...a } = args as TerrainArgs
    const t = await once(memo, `terrain ${JSON.stringify(a)} ${JSON.stringify(inputs)}`, () => terrain(ctx, { ...a, part }, inputs[0]!, stagesIn(memo)))
    return t[part]
  },
}
