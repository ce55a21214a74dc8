// A measure worker: measures the layers it is sent (measure-pool.ts) over connections of
// its own to the run's database and sends back each set's sums per cell, moved.
import { parentPort } from 'node:worker_threads'
import type { Db } from '../../../db/db.ts'
import { openPg } from '../../../db/pg.ts'
import { cellSet, type CellSet } from '../measure.ts'
import { FEATURE_CACHE, FeatureCache } from '../feature-cache.ts'
import { laea } from '../../../geom/laea.ts'
import { measureLayerAlone } from '../layer-measure.ts'
import { CELL_OPTIONS } from '../options.ts'
import { bind, current, within } from '../../../scoped.ts'
import type { JobDone, MeasureJob } from './measure-pool.ts'

const port = parentPort!
/** a pool per database, opened on first use */
const dbs = new Map<string, Promise<Db>>()
let cells: { tag: number; cs: CellSet } | undefined
const running = new Map<number, AbortController>()
/** split reads sampled whole in this worker, and as last reported: jobs run side by side, so
 *  each answer carries the count since the last one (the pool adds them to its counters) */
const counts = { sampledWhole: 0 }
let reported = 0
const sampledSince = () => {
  const n = counts.sampledWhole - reported
  reported = counts.sampledWhole
  return n
}
const options = { ...current(CELL_OPTIONS), counts }
/** this worker's own feature cache: a layer it measured goes to it again while it holds it */
const cache = new FeatureCache()

const dbOf = (server: MeasureJob['server']): Promise<Db> => {
  let db = dbs.get(server.url)
  if (!db) {
    db = openPg(server.url, server.statementTimeoutMs)
    db.catch(() => dbs.delete(server.url))
    dbs.set(server.url, db)
  }
  return db
}

async function run(m: MeasureJob): Promise<void> {
  const ac = new AbortController()
  running.set(m.job, ac)
  try {
    if (m.cells) cells = { tag: m.cells.tag, cs: cellSet(m.cells.list) }
    if (!cells || cells.tag !== m.task.cellsTag) throw new Error(`measure worker: cells ${m.task.cellsTag} were not sent`)
    const db = await dbOf(m.server)
    const sums = await within([bind(CELL_OPTIONS, options), bind(FEATURE_CACHE, cache)], () => measureLayerAlone(db, m.task, cells!.cs, laea(m.lon0, m.lat0), ac.signal))
    const moved = sums.sets.flatMap((s) => [s.sums.area.buffer, s.sums.count.buffer, s.sums.degenerate.buffer]) as ArrayBuffer[]
    port.postMessage({ job: m.job, sums, sampledWhole: sampledSince() } satisfies JobDone, moved)
  } catch (err) {
    port.postMessage({ job: m.job, sampledWhole: sampledSince(), error: err instanceof Error ? err.message : String(err) } satisfies JobDone)
  } finally {
    running.delete(m.job)
  }
}

port.on('message', (m: MeasureJob & { clear?: boolean; cancel?: number }) => {
  if (m.clear) cache.clear()
  else if (m.cancel) running.get(m.cancel)?.abort(new Error('cancelled'))
  else void run(m)
})
port.postMessage({ ready: true })
