// Access control for HTTP: a key as `Authorization: Bearer KEY` or `X-Api-Key: KEY`, its role
// from server/auth/keys.ts, and the role each route needs. Reads are public unless the
// settings say `reads: keyed`; then they need at least a reader key. Keys are never logged.
import type { IncomingMessage } from 'node:http'
import type { NextFunction, Request, Response } from 'express'
import type { Queryable } from '../db/db.ts'
import { AppError, Unauthorized } from '../errors.ts'
import { keysConfigured, RANK, roleOfKey, type Role } from '../auth/keys.ts'

export class Forbidden extends AppError {
  override readonly status = 403
  override readonly code = 'forbidden'
}

function presentedKey(req: IncomingMessage): string | undefined {
  const h = req.headers
  const x = h['x-api-key']
  if (typeof x === 'string' && x) return x
  return /^Bearer\s+(.+)$/i.exec(String(h.authorization ?? ''))?.[1]
}

/** Throws unless the request carries a key with at least `role`. */
export async function requireRole(db: Queryable, req: IncomingMessage, role: Role, settingsKey?: string): Promise<Role> {
  const given = presentedKey(req)
  if (!given) {
    if (role !== 'reader' && !(await keysConfigured(db, settingsKey))) throw new Forbidden('writes are disabled on this server: start it with ECOCENSUS_API_KEY set, or add keys with `ecocensus keys add`')
    throw new Unauthorized(`this route needs a key with role ${role} or higher: send it as "Authorization: Bearer KEY" or "X-Api-Key: KEY"`)
  }
  const has = await roleOfKey(db, given, settingsKey)
  if (!has) throw new Unauthorized('the API key is not valid (unknown or revoked)')
  if (RANK[has] < RANK[role]) throw new Forbidden(`this route needs role ${role}; the key has role ${has}`)
  return has
}

/** Express middleware for requireRole. */
export function needs(db: Queryable, role: Role, settingsKey?: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    requireRole(db, req, role, settingsKey).then(() => next(), next)
  }
}

/** `role` once any key exists (a server without keys stays open to it: the single-user
 *  laptop case); writes to the catalogue use requireRole/needs() and are never open. */
export async function requireRoleWhenKeyed(db: Queryable, req: IncomingMessage, role: Role, settingsKey?: string): Promise<void> {
  if (await keysConfigured(db, settingsKey)) await requireRole(db, req, role, settingsKey)
}

/** Express middleware for requireRoleWhenKeyed. */
export function needsWhenKeyed(db: Queryable, role: Role, settingsKey?: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    requireRoleWhenKeyed(db, req, role, settingsKey).then(() => next(), next)
  }
}
