// The run table: every statistics computation is a run with its parameters, the exact
// input versions it read, progress, timing and status. Results (run_sum, run_result) belong to
// runs; readers look only at runs whose status is 'done'.
import { createHash } from 'node:crypto'
import type { Queryable } from '../db/db.ts'
import { NotFound } from '../errors.ts'
import { OWNER } from './recover.ts'

export type RunKind = 'coverage' | 'change' | 'zonal' | 'zonal_change' | 'gep' | 'compensation' | 'settlement' | 'alerts' | 'ingest'
export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled'

export interface RunRecord {
  id: number
  kind: RunKind
  params: Record<string, unknown>
  inputs: Record<string, unknown>
  input_key: string
  status: RunStatus
  progress: number
  stage: string | null
  error: string | null
  meta: Record<string, unknown> | null
  row_count: number | null
  created_at: string
  finished_at: string | null
  elapsed_ms: number | null
  /** who started it (key name or cli:<user>); null for runs from before the audit trail */
  created_by: string | null
  /** set when a request was answered by an earlier run with identical inputs */
  reused?: boolean
}

const COLUMNS = `id::int AS id, kind, params, inputs, input_key, status, progress, stage, error, meta, row_count,
  created_at::text AS created_at, finished_at::text AS finished_at, elapsed_ms, created_by`

/** Same kind, parameters and input versions → same key → same answer. */
export function inputKey(kind: RunKind, params: unknown, inputs: unknown): string {
  return createHash('sha256').update(JSON.stringify({ kind, params, inputs })).digest('hex')
}

export async function findReusable(db: Queryable, key: string): Promise<RunRecord | undefined> {
  const rows = await db.query<RunRecord>(`SELECT ${COLUMNS} FROM run WHERE input_key = $1 AND status = 'done' ORDER BY id DESC LIMIT 1`, [key])
  return rows[0]
}

export async function createRun(db: Queryable, kind: RunKind, params: unknown, inputs: unknown, key: string, actor?: string): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO run (kind, params, inputs, input_key, status, owner, created_by) VALUES ($1, $2, $3, $4, 'running', $5, $6) RETURNING id::int AS id`,
    [kind, JSON.stringify(params), JSON.stringify(inputs), key, OWNER, actor ?? null],
  )
  return row!.id
}

/** Records progress; answers whether someone asked (perhaps from another process) to cancel. */
export async function reportProgress(db: Queryable, id: number, progress: number, stage: string): Promise<boolean> {
  const [row] = await db.query<{ cancel_requested: boolean }>(
    'UPDATE run SET progress = $2, stage = $3 WHERE id = $1 RETURNING cancel_requested',
    [id, Math.min(1, Math.max(0, progress)), stage],
  )
  return row?.cancel_requested ?? true
}

export async function requestCancel(db: Queryable, id: number): Promise<RunRecord> {
  const rows = await db.query<RunRecord>(
    `UPDATE run SET cancel_requested = true WHERE id = $1 RETURNING ${COLUMNS}`,
    [id],
  )
  if (!rows.length) throw new NotFound(`no run ${id}`)
  return rows[0]!
}

export async function getRun(db: Queryable, id: number): Promise<RunRecord> {
  const rows = await db.query<RunRecord>(`SELECT ${COLUMNS} FROM run WHERE id = $1`, [id])
  if (!rows.length) throw new NotFound(`no run ${id}`)
  return rows[0]!
}

export async function listRuns(db: Queryable, limit = 100): Promise<RunRecord[]> {
  return db.query<RunRecord>(`SELECT ${COLUMNS} FROM run ORDER BY id DESC LIMIT $1`, [limit])
}
