// The runtime of one shell (a CLI command, a service, a test) over one database: its worker
// pools, sized from the settings once, and its caches (features, units, result documents),
// bound for the work it runs (server/scoped.ts). Nothing here is a
// module global: two runtimes in one process (a test's with thresholds 0 beside a service's)
// keep their pools, caches and counters apart. The engines find them with current(SLOT); work
// run outside any runtime uses the defaults (no threads, nothing cached).
import { bind, within, type Binding } from './scoped.ts'
import { ScanPool, SCAN_POOL } from './raster/scan-pool.ts'
import { MeasurePool, MEASURE_POOL, type MeasurePoolOptions } from './stats/cells/threads/measure-pool.ts'
import { ParsePool, PARSE_POOL } from './stats/cells/threads/parse-pool.ts'
import { CELL_OPTIONS, type CellOptions } from './stats/cells/options.ts'
import { FEATURE_CACHE, FeatureCache } from './stats/cells/feature-cache.ts'
import { UNIT_CACHE, UnitCache } from './units/unit-cache.ts'
import { RESULT_MEMO, ResultMemo } from './runs/result-memo.ts'
import { LIVE_RUNS, LiveRuns } from './runs/execute.ts'
import { RUN_STATS, RunStatsCache, SOURCE_MEMO, SourceMemo } from './tiles/vector-source.ts'
import { CATALOG_GENERATION, CatalogGeneration } from './catalog/generation.ts'
import { DISTRIBUTOR, type Distributor } from './distribute/distribute.ts'

/** Settings (server/settings.ts) are RuntimeOptions: the thread counts are read from them. */
export interface RuntimeOptions {
  measureThreads?: number
  parseThreads?: number
  scanThreads?: number
  /** tests: thresholds and hooks of the measure pool */
  measure?: Omit<MeasurePoolOptions, 'threads'>
  /** tests: the parse pool's size below which a range stays in the calling thread */
  parseMinRows?: number
  /** tests: the scan pool's raster size below which a job stays in the calling thread */
  scanMinPixels?: number
  /** tests and benchmarks: the cell engine's tiling and split reads */
  cells?: Partial<CellOptions>
  /** runs hand parts of their work to worker processes through this (closed with the runtime) */
  distributor?: Distributor
}

export interface Runtime {
  readonly measure: MeasurePool
  readonly parse: ParsePool
  readonly scan: ScanPool
  readonly cells: CellOptions
  readonly features: FeatureCache
  readonly units: UnitCache
  readonly results: ResultMemo
  readonly live: LiveRuns
  readonly runStats: RunStatsCache
  readonly sources: SourceMemo
  readonly catalog: CatalogGeneration
  readonly distributor?: Distributor
  /** runs fn (and everything it starts, awaited or not) with this runtime's pools */
  run<T>(fn: () => T): T
  /** stops every worker */
  close(): Promise<void>
}

export function createRuntime(o: RuntimeOptions = {}): Runtime {
  const features = new FeatureCache()
  const units = new UnitCache()
  const results = new ResultMemo()
  const live = new LiveRuns()
  const runStats = new RunStatsCache()
  const sources = new SourceMemo()
  const catalog = new CatalogGeneration()
  const measure = new MeasurePool({ threads: o.measureThreads, cache: features, ...o.measure })
  const parse = new ParsePool({ threads: o.parseThreads, minRows: o.parseMinRows })
  const scan = new ScanPool({ ...(o.scanThreads === undefined ? {} : { threads: o.scanThreads }), ...(o.scanMinPixels === undefined ? {} : { minPixels: o.scanMinPixels }) })
  const cells: CellOptions = { ...CELL_OPTIONS.byDefault, ...o.cells }
  const bindings: Binding[] = [
    bind(MEASURE_POOL, measure), bind(PARSE_POOL, parse), bind(SCAN_POOL, scan),
    bind(FEATURE_CACHE, features), bind(UNIT_CACHE, units), bind(RESULT_MEMO, results), bind(LIVE_RUNS, live), bind(RUN_STATS, runStats),
    bind(SOURCE_MEMO, sources), bind(CATALOG_GENERATION, catalog),
  ]
  // only when given: a test's own choice (withCells) around a runtime's work stays in force
  if (o.cells) bindings.push(bind(CELL_OPTIONS, cells))
  if (o.distributor) bindings.push(bind(DISTRIBUTOR, o.distributor))
  return {
    measure, parse, scan, cells, features, units, results, live, runStats, sources, catalog, distributor: o.distributor,
    run: (fn) => within(bindings, fn),
    close: async () => void (await Promise.all([measure.close(), parse.stop(), scan.close(), o.distributor?.queue.close()])),
  }
}
