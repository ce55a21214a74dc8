import crypto from 'node:crypto'
import path from 'node:path'
import type { Db, Queryable } from '../db/db.ts'
import { openVectorSource } from './open.ts'
import { datasetChecksum } from './checksum.ts'
import { sourceCrs } from './source-crs.ts'
import { stageSources, type InvalidPolicy, type StageOptions, type StageReport, type StageSink, type StageTotals } from './stage.ts'
import { stageOnWorkers, storeStaged, type IngestPartSpec, type StagedParts } from './stage-parts.ts'
import { DISTRIBUTOR, type Distributor } from '../distribute/distribute.ts'
import { runToEnd } from '../runs/execute.ts'
import { current } from '../scoped.ts'
import { BadInput } from '../errors.ts'
import type { VectorSource } from './source.ts'
import { catalogChanged } from '../catalog/generation.ts'

/** Options every vector import (layers, admin units) takes. */
export interface SourceImportOptions {
  /** one dataset, or the parts of one (a province in several shapefiles) loaded as one */
  file: string | string[]
  /** name shown in messages and stored as source_file (uploads pass the original name) */
  displayName?: string
  crs?: string
  encoding?: string
  table?: string
  replace?: boolean
  invalid?: InvalidPolicy
  maxBytes: number
  /** vertices one feature may have (default polygons.ts DEFAULT_MAX_FEATURE_VERTICES) */
  maxFeatureVertices?: number
  signal?: AbortSignal
  progress?: (done: number, total: number | undefined) => void
}

/** What is known of the input before its features are read. */
export interface SourceHead {
  /** the file, or the parts joined with ' + ' */
  file: string
  format: string
  /** the dataset's sha256; of several parts, the sha256 of their checksums, one per line in order */
  checksum: string
  crs: string
  crsNote?: string
  encoding?: string
  /** when the input came in several parts: each one's file, checksum, CRS, features read and first src_index */
  parts?: { file: string; checksum: string; crs: string; read: number; first_index: number }[]
}

export interface SourceReport extends SourceHead, StageReport {}

/** What a caller does with an opened source: checks run in `prepare`, writes in the transaction. */
export interface ImportPlan<T> {
  tags: StageOptions['tags']
  /** inside the transaction, before staging: free a name being replaced, make the target row; returns where the rows go */
  begin: (tx: Queryable, head: SourceHead) => Promise<StageSink>
  /** inside the transaction, after staging: counts and report onto the target row */
  finish: (tx: Queryable, report: SourceReport, stored: { n: number; areaM2: number }) => Promise<T>
  /** edges of a projected source longer than this many of its units split before reprojection (ingest/densify.ts) */
  densify?: number
  /** the tags as fields (tag → attribute field): an import that gives them may be staged on the workers when runs are distributed (stage-parts.ts) */
  tagFields?: Record<string, string>
  /** what a run of the import on the workers records as its parameters */
  what?: Record<string, unknown>
}

/**
 * open → resolve CRS → checksum → one transaction (begin, stage through the sink, finish)
 * → close. Several files are parts of one input: opened and checked before anything is
 * written, staged in order, stored by one transaction. A failure anywhere leaves the
 * database exactly as it was.
 */
export async function importSource<T>(db: Db, o: SourceImportOptions, prepare: (source: VectorSource) => Promise<ImportPlan<T>>): Promise<T> {
  const files = Array.isArray(o.file) ? o.file : [o.file]
  if (!files.length) throw new BadInput('no file given')
  if (files.length > 1 && o.displayName) throw new Error('importSource: displayName names one file')
  if (new Set(files.map((f) => path.resolve(f))).size !== files.length) throw new BadInput(`the same file is given twice (${files.join(', ')})`)
  const sources: VectorSource[] = []
  try {
    // each file by the name the user gave (a zip's inner dataset is named inside the source only)
    const names = files.map((f) => (files.length === 1 ? (o.displayName ?? path.basename(f)) : path.basename(f)))
    for (const [k, f] of files.entries()) sources.push(await openVectorSource(f, { encoding: o.encoding, table: o.table, maxBytes: o.maxBytes }, names[k]))
    checkSameFields(sources)
    const plan = await prepare(sources[0]!)
    const crss: Awaited<ReturnType<typeof sourceCrs>>[] = []
    for (const s of sources) crss.push(await sourceCrs(db, s, o.crs))
    const sums: string[] = []
    for (const f of files) sums.push(await datasetChecksum(f))
    const crsIds = [...new Set(crss.map((c) => c.crs.id))]
    const encodings = [...new Set(sources.map((s) => s.encoding).filter((e) => e !== undefined))]
    const head: SourceHead = {
      file: names.join(' + '),
      format: [...new Set(sources.map((s) => s.format))].join(' + '),
      checksum: sums.length === 1 ? sums[0]! : 'sha256:' + crypto.createHash('sha256').update(sums.join('\n')).digest('hex'),
      crs: crsIds.join(', '),
      crsNote: [...new Set(crss.map((c) => c.note).filter(Boolean))].join('; ') || undefined,
      encoding: encodings.length ? encodings.join(', ') : undefined,
    }
    const parts = sources.map((source, k) => ({ source, crs: crss[k]!.crs }))
    const reportOf = (staged: StageReport, partTotals: StageTotals['parts']): SourceReport => {
      const report: SourceReport = { ...head, ...staged }
      if (sources.length > 1) report.parts = sources.map((s, k) => ({ file: names[k]!, checksum: sums[k]!, crs: crss[k]!.crs.id, read: partTotals[k]!.read, first_index: partTotals[k]!.firstIndex }))
      return report
    }
    const d = current(DISTRIBUTOR)
    if (d && sources.length > 1 && plan.tagFields) {
      const spec: IngestPartSpec = {
        files: files.map((f, k) => ({ path: path.resolve(f), name: names[k]!, crs: crss[k]!.crs })),
        read: { encoding: o.encoding, table: o.table, maxBytes: o.maxBytes },
        tagFields: plan.tagFields,
        maxFeatureVertices: o.maxFeatureVertices,
        densify: plan.densify,
      }
      const expected = sources.every((s) => s.expectedCount !== undefined) ? sources.reduce((n, s) => n + s.expectedCount!, 0) : undefined
      return await importOnWorkers(db, d, o, spec, plan, head, reportOf, expected)
    }
    return await db.transaction(async (tx) => {
      const sink = await plan.begin(tx, head)
      const { stored, areaM2, parts: partTotals, ...staged } = await stageSources(tx, parts, { invalid: o.invalid ?? 'repair', tags: plan.tags, sink, checker: db.server ? db : undefined, maxFeatureVertices: o.maxFeatureVertices, densify: plan.densify, signal: o.signal, progress: o.progress })
      return plan.finish(tx, reportOf(staged, partTotals), { n: stored, areaM2 })
    })
  } finally {
    catalogChanged()
    for (const s of sources) await s.close()
  }
}

/**
 * The import as a run of kind 'ingest' whose files the workers stage (stage-parts.ts): its
 * progress, cancel and record as any distributed run's; its last step stores the staged
 * rows through the plan's sink in one transaction, as the one-process import would.
 */
async function importOnWorkers<T>(db: Db, d: Distributor, o: SourceImportOptions, spec: IngestPartSpec, plan: ImportPlan<T>, head: SourceHead, reportOf: (s: StageReport, p: StageTotals['parts']) => SourceReport, expected: number | undefined): Promise<T> {
  let staged: StagedParts | undefined
  let result: T | undefined
  const meta: Record<string, unknown> = { ...plan.what, files: spec.files.map((f) => f.name), checksum: head.checksum }
  await runToEnd(db, {
    kind: 'ingest',
    params: { ...plan.what, files: spec.files.map((f) => f.name) },
    inputs: { checksum: head.checksum },
    meta,
    steps: [
      { label: 'stage', weight: 0.9, run: async (ctx) => { staged = await stageOnWorkers(ctx, d, spec, o.invalid ?? 'repair'); meta.distributed = staged.distributed } },
      {
        label: 'store',
        weight: 0.1,
        run: async (ctx) => {
          const { stored: _n, areaM2: _a, parts, distributed: _d, ...report } = staged!
          result = await db.transaction(async (tx) => plan.finish(tx, reportOf(report, parts), await storeStaged(tx, ctx.runId, parts, await plan.begin(tx, head))))
        },
      },
    ],
  }, {
    reuse: false,
    signal: o.signal,
    actor: (plan.what as { actor?: string } | undefined)?.actor,
    // as features of the whole import where the files say how many they hold
    onProgress: (p) => o.progress?.(Math.round(p * (expected ?? 1e4)), expected ?? 1e4),
  })
  return result!
}

/** Parts of one input must carry the same fields, or a category or code would go missing part-way. */
function checkSameFields(sources: VectorSource[]): void {
  const first = sources[0]!
  const want = new Set(first.fields)
  for (const s of sources.slice(1)) {
    const have = new Set(s.fields)
    const missing = [...want].filter((f) => !have.has(f))
    const extra = [...have].filter((f) => !want.has(f))
    if (missing.length || extra.length) {
      throw new BadInput(`${s.file}: its fields differ from ${first.file}'s (${[missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `extra ${extra.join(', ')}` : ''].filter(Boolean).join('; ')}); the parts of one layer must carry the same fields`)
    }
  }
}

export function missingField(source: VectorSource, field: string, option: string): string {
  return `${source.file}: no field '${field}' for ${option} (${fieldList(source)})`
}

/** The source's field names for a message; when they did not decode (U+FFFD), which encoding to pass. */
export function fieldList(source: Pick<VectorSource, 'fields' | 'encoding'>): string {
  const list = `fields: ${source.fields.join(', ') || 'none'}`
  if (!source.fields.some((f) => f.includes('\uFFFD'))) return list
  const hint = source.encoding === 'gbk' || source.encoding === 'gb18030'
    ? 'the field names are not valid GBK text: pass --encoding UTF-8 (or the right one)'
    : `the field names are not valid ${(source.encoding ?? 'UTF-8').toUpperCase()} text: Chinese .dbf files are often GBK, pass --encoding GBK or add a .cpg file`
  return `${list}; ${hint}`
}

/** The refusal of an import that yields no polygon area: what was read and dropped, and that nothing changed. */
export function emptyImport(report: SourceReport, what: string): string {
  const dropped = report.droppedAfterRepair.length + report.emptyGeometry.length
  return `${report.file}: no polygon area to import (${report.read} feature(s) read, ${dropped} empty or degenerate); ${what} was not changed — check the file, or pass --allow-empty to store an empty version`
}
