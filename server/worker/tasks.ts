// The kinds of task a worker computes (worker.ts), by the name the coordinator queues them
// under (distribute.ts): one tile of a cell coverage or change run; one group of units of a
// zonal scan, or of GEP's (whose made sources the worker makes: gep/scan-sources.ts); one
// file of an import, staged (ingest/stage-parts.ts). Each answers the part's result, which
// its coordinator adds up in part order.
import type { StepContext } from '../runs/execute.ts'
import { cellTask, type CellTaskSpec } from '../stats/cells/coverage.ts'
import { scanTask, type ScanTaskSpec } from '../raster/scan-distributed.ts'
import { GEP_SOURCES } from '../gep/scan-sources.ts'
import { ingestPartTask, type IngestPartSpec } from '../ingest/stage-parts.ts'
import type { Db } from '../db/db.ts'

/** What a task finds in the worker: what it keeps of one run between that run's tasks (dropped when it has seen enough other runs), and this host's raster store. */
export interface TaskHere {
  memo: Map<string, unknown>
  rasterDir: string
  /** the worker's database (a task that writes in a transaction of its own: ingest parts) */
  db: Db
}

export type Task = (ctx: StepContext, spec: unknown, part: number, parts: number, here: TaskHere) => Promise<unknown>

export const TASKS: Record<string, Task> = {
  cells: (ctx, spec, part, _parts, here) => cellTask(ctx, spec as CellTaskSpec, part, here.memo),
  'ingest-part': (ctx, spec, part, _parts, here) => ingestPartTask(ctx, here.db, spec as IngestPartSpec, part),
  scan: (ctx, spec, part, parts, here) => scanTask(ctx, spec as ScanTaskSpec, part, parts, here.rasterDir, { resolvers: GEP_SOURCES, memo: here.memo }),
}
