// The HTTP side of the audit trail: one row per request that writes, computes or exports
// (every method but GET/HEAD under /api; GETs of statistics, factors, run results and the
// audit itself), written when the response has gone, with the key that asked, the route,
// the query and JSON body, and the outcome. Handlers name what they acted on in
// res.locals.auditTarget / auditDetail; the run id travels in X-Run-Id.
import type { NextFunction, Request, Response } from 'express'
import type { Queryable } from '../db/db.ts'
import { recordAudit } from '../audit/audit.ts'
import { actorOf, principalOf } from './auth.ts'

const AUDITED_GET = /^\/api\/(stats\/|factors|runs\/[^/]+\/result|audit|layers\/[^/]+\/history)/

export function auditRequests(db: Queryable, settingsKey: string | undefined, log: (m: string) => void) {
  return (req: Request, res: Response, next: NextFunction) => {
    const path = req.originalUrl.split('?')[0]!
    const read = req.method === 'GET' || req.method === 'HEAD'
    if (read && !AUDITED_GET.test(path)) return next()
    const write = async () => {
      const who = await principalOf(db, req, settingsKey).then(actorOf, () => ({ actor: 'invalid-key', keyId: null }))
      const body = req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? { body: req.body } : {}
      const runId = res.getHeader('X-Run-Id')
      await recordAudit(db, {
        ...who,
        action: `${req.method} ${routeOf(req, path)}`,
        target: (res.locals.auditTarget as string | undefined) ?? (runId !== undefined ? `run ${runId}` : path.slice(0, 300)),
        inputs: { ...req.query, ...body },
        outcome: res.statusCode < 400 && res.writableFinished ? 'ok' : ((res.locals.auditError as string | undefined) ?? (res.writableFinished ? `status ${res.statusCode}` : 'client went away')),
        status: res.statusCode,
        detail: (res.locals.auditDetail as Record<string, unknown> | undefined) ?? null,
      })
    }
    res.once('close', () => void write().catch((err) => log(`audit: could not record ${req.method} ${path}: ${(err as Error).message}`)))
    next()
  }
}

/** The route's pattern where Express matched one ('/api/runs/:id/result'), else the path. */
function routeOf(req: Request, path: string): string {
  const r = (req as { route?: { path?: unknown } }).route?.path
  return typeof r === 'string' ? r : Array.isArray(r) ? String(r[0]) : path.slice(0, 200)
}
