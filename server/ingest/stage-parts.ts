// An import of several files (the parts of a province's layer) staged by the worker
// processes when runs are distributed (docs/scale.md): one task per file. A worker reads
// its file, reprojects, checks, repairs and measures every feature as one process would
// (stage.ts, the same code and statements) and stages the rows in ingest_stage (migration
// 019), replacing its part's rows whole under a lock of (run, part), so a part staged twice
// counts once. The import itself is a run of kind 'ingest'; its last step moves the parts'
// rows into the target in one transaction, numbered on from part to part as one process
// numbers them, so the layer holds the same rows, to the last bit, as a one-process import.
import type { Db, Queryable } from '../db/db.ts'
import type { CrsDef } from '../crs/registry.ts'
import { BadInput } from '../errors.ts'
import type { StepContext } from '../runs/execute.ts'
import type { Distributor } from '../distribute/distribute.ts'
import { distribute, type DistributedMeta } from '../distribute/distribute.ts'
import { openVectorSource } from './open.ts'
import { refuseEmpty, refuseInvalid, stageSources, type InvalidPolicy, type StageReport, type StageSink, type StageTotals } from './stage.ts'
import type { SourceFeature } from './source.ts'

/** What a worker needs to stage one file: where it is (the same path on every host: a shared mount), how to read it, what to keep. */
export interface IngestPartSpec {
  files: { path: string; name: string; crs: CrsDef }[]
  read: { encoding?: string; table?: string; maxBytes: number }
  /** tag name → attribute field (a layer's category) */
  tagFields: Record<string, string>
  maxFeatureVertices?: number
  densify?: number
}

/** A part's answer: what staging it found, or why its file is refused (a 400 for the import, not a task to retry). */
export type IngestPartResult = { staged: StageReport & StageTotals } | { refused: string }

const STAGE_SINK = `INSERT INTO ingest_stage (run_id, part, src_index, attributes, tags, geom, area_m2)
SELECT $1, $2, src_index, attributes, tags, geom, area_m2 FROM fixed WHERE NOT ST_IsEmpty(geom)
RETURNING area_m2`

/** The tags of a feature from the fields named (a missing value is null). */
export function tagsOf(fields: Record<string, string>): (f: SourceFeature) => Record<string, string | null> {
  const named = Object.entries(fields)
  return (f) => Object.fromEntries(named.map(([tag, field]) => [tag, f.attributes[field] != null ? String(f.attributes[field]) : null]))
}

/** File `part` staged by a worker: the work of stage.ts on one file, into ingest_stage. */
export async function ingestPartTask(ctx: StepContext, db: Db, spec: IngestPartSpec, part: number): Promise<IngestPartResult> {
  const f = spec.files[part]
  if (!f) throw new Error(`ingest part ${part + 1}: the import has ${spec.files.length} files`)
  let source
  try {
    source = await openVectorSource(f.path, spec.read, f.name)
  } catch (err) {
    if (err instanceof BadInput) return { refused: err.message }
    throw err
  }
  try {
    return await db.transaction(async (tx) => {
      // a copy of this part on another worker waits here, then replaces these rows
      await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [ctx.runId, part])
      await tx.query('DELETE FROM ingest_stage WHERE run_id = $1 AND part = $2', [ctx.runId, part])
      const staged = await stageSources(tx, [{ source: source!, crs: f.crs }], {
        invalid: 'repair', // the import's policy is applied over all parts at once (stageOnWorkers)
        tags: tagsOf(spec.tagFields),
        sink: { sql: STAGE_SINK, params: [ctx.runId, part] },
        checker: db,
        someParts: true,
        maxFeatureVertices: spec.maxFeatureVertices,
        densify: spec.densify,
        signal: ctx.signal,
        progress: (done, total) => { if (total) ctx.progress(done / total).catch(() => {}) },
      })
      return { staged }
    })
  } catch (err) {
    if (err instanceof BadInput) return { refused: err.message }
    throw err
  } finally {
    await source.close()
  }
}

export interface StagedParts extends StageReport, StageTotals {
  distributed: DistributedMeta
}

/**
 * Stages the files on the workers (one task each) for the run of `ctx`; answers what
 * staging found over all parts, numbered on from part to part as stage.ts numbers them.
 */
export async function stageOnWorkers(ctx: StepContext, d: Distributor, spec: IngestPartSpec, invalid: InvalidPolicy): Promise<StagedParts> {
  const all: StagedParts = { read: 0, emptyGeometry: [], fixes: { closedRings: 0, droppedRings: 0 }, repaired: [], droppedAfterRepair: [], stored: 0, areaM2: 0, parts: [], distributed: undefined! }
  const refused: string[] = []
  all.distributed = await distribute<IngestPartResult>(ctx, d, 'ingest-part', spec, spec.files.length, (_, r) => {
    if ('refused' in r) return void refused.push(r.refused)
    const s = r.staged
    const first = all.read
    all.parts.push({ read: s.read, firstIndex: first })
    all.read += s.read
    all.emptyGeometry.push(...s.emptyGeometry.map((i) => first + i))
    all.fixes.closedRings += s.fixes.closedRings
    all.fixes.droppedRings += s.fixes.droppedRings
    all.repaired.push(...s.repaired.map((x) => ({ ...x, index: first + x.index })))
    all.droppedAfterRepair.push(...s.droppedAfterRepair.map((i) => first + i))
    all.stored += s.stored
    all.areaM2 += s.areaM2
  })
  if (refused.length) throw new BadInput(refused.join('; '))
  const names = spec.files.map((f) => f.name)
  refuseEmpty(names, all.read, all.emptyGeometry.length)
  if (invalid === 'fail') refuseInvalid(names, all.parts, all.repaired)
  return all
}

/** The staged rows of run `runId` through `sink` (in the caller's transaction), in src_index order; then gone. */
export async function storeStaged(tx: Queryable, runId: number, parts: StageTotals['parts'], sink: StageSink): Promise<{ n: number; areaM2: number }> {
  const k = sink.params.length
  const [r] = await tx.query<{ n: number; area: number }>(
    `WITH fixed AS (
       SELECT s.src_index + o.first AS src_index, s.attributes, s.tags, s.geom, s.area_m2
       FROM ingest_stage s JOIN unnest($${k + 2}::int[]) WITH ORDINALITY AS o(first, n) ON s.part = o.n - 1
       WHERE s.run_id = $${k + 1}
     ),
     stored AS (${sink.sql})
     SELECT count(*)::int AS n, coalesce(sum(area_m2), 0)::float8 AS area FROM stored`,
    [...sink.params, runId, parts.map((p) => p.firstIndex)])
  await tx.query('DELETE FROM ingest_stage WHERE run_id = $1', [runId])
  return { n: r!.n, areaM2: r!.area }
}
