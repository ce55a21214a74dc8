// The audit trail: every catalogue write, key change, run, allocation and export request,
// with who asked (key name and id, or cli:<os user>), when, what, with which inputs and how
// it ended. The HTTP shell and the CLI each write it in one place (http/audit-http.ts, the
// CLI's command wrapper); nothing updates or deletes a row.
import type { Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'

export interface AuditEntry {
  actor: string
  keyId?: number | null
  /** e.g. 'POST /api/layers', 'cli ingest', 'cli keys add' */
  action: string
  /** what it acted on: layer@vintage, unit set, run id … */
  target?: string | null
  inputs?: Record<string, unknown>
  /** 'ok' or the error's one-line message */
  outcome: string
  status?: number | null
  detail?: Record<string, unknown> | null
}

/** Parameters that must never reach the trail (keys, passwords in URLs). */
const SECRET = /key|token|password|secret|authorization/i

function clean(inputs: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(inputs)) {
    if (v === undefined) continue
    if (SECRET.test(k)) out[k] = '***'
    else if (typeof v === 'string' && /^postgres(ql)?:\/\//.test(v)) out[k] = v.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@')
    else out[k] = v
  }
  return out
}

export async function recordAudit(db: Queryable, e: AuditEntry): Promise<void> {
  const inputs = JSON.stringify(clean(e.inputs))
  await db.query(
    'INSERT INTO audit (actor, key_id, action, target, inputs, outcome, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [e.actor, e.keyId ?? null, e.action, e.target ?? null, inputs.length > 16_384 ? JSON.stringify({ truncated: inputs.slice(0, 16_000) }) : inputs,
      e.outcome.slice(0, 2000), e.status ?? null, e.detail ? JSON.stringify(e.detail) : null])
}

export interface AuditQuery {
  /** ISO date or date-time */
  since?: string
  actor?: string
  /** a substring of the action ('ingest', 'POST /api/layers') */
  action?: string
  limit?: number
}

export interface AuditRow {
  id: number
  at: string
  actor: string
  key_id: number | null
  action: string
  target: string | null
  inputs: Record<string, unknown>
  outcome: string
  status: number | null
  detail: Record<string, unknown> | null
}

export async function listAudit(db: Queryable, q: AuditQuery = {}): Promise<AuditRow[]> {
  if (q.since !== undefined && (!/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(q.since) || Number.isNaN(Date.parse(q.since)))) {
    throw new BadInput(`--since '${q.since.slice(0, 40)}': give a date (2026-12-01) or date-time (2026-12-01T08:00:00Z)`)
  }
  const limit = q.limit ?? 1000
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new BadInput(`--limit ${limit}: 1 to 100000`)
  return db.query<AuditRow>(
    `SELECT id::int AS id, at::text AS at, actor, key_id, action, target, inputs, outcome, status, detail FROM audit
     WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz) AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR strpos(action, $3) > 0)
     ORDER BY id DESC LIMIT $4`,
    [q.since ?? null, q.actor ?? null, q.action ?? null, limit])
}
