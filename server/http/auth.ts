// Access control for HTTP: a key as `Authorization: Bearer KEY` or `X-Api-Key: KEY`, its
// principal (role, regions) from server/auth/keys.ts, and the role each route needs. Reads
// are public unless the settings say `reads: keyed`. Once the server is keyed (a key exists
// or ever existed) computing and writing need a key: fail closed. Keys are never logged;
// access logs carry the key's id.
import type { IncomingMessage } from 'node:http'
import type { NextFunction, Request, Response } from 'express'
import type { Queryable } from '../db/db.ts'
import { Unauthorized } from '../errors.ts'
import { keysConfigured, principalOfKey, RANK, type Principal, type Role } from '../auth/keys.ts'
import { Forbidden } from '../auth/scope.ts'

export { Forbidden }

function presentedKey(req: IncomingMessage): string | undefined {
  const h = req.headers
  const x = h['x-api-key']
  if (typeof x === 'string' && x) return x
  return /^Bearer\s+(.+)$/i.exec(String(h.authorization ?? ''))?.[1]
}

/** Whether the request carries a key at all (such requests are answered privately). */
export function carriesKey(req: IncomingMessage): boolean {
  return presentedKey(req) !== undefined
}

type WithPrincipal = IncomingMessage & { ecoPrincipal?: Promise<Principal | null> }

/** The request's principal (null: no key), resolved once per request; a key that is not
 *  valid is refused (401) whatever the route. */
export function principalOf(db: Queryable, req: IncomingMessage, settingsKey?: string): Promise<Principal | null> {
  const r = req as WithPrincipal
  if (!r.ecoPrincipal) {
    const given = presentedKey(req)
    r.ecoPrincipal = given === undefined
      ? Promise.resolve(null)
      : principalOfKey(db, given, settingsKey).then((p) => {
        if (!p) throw new Unauthorized('the API key is not valid (unknown or revoked)')
        return p
      })
  }
  return r.ecoPrincipal
}

/** Who the audit trail names: the key's name and id, or anonymous. */
export function actorOf(p: Principal | null): { actor: string; keyId: number | null } {
  return p ? { actor: `key:${p.name}`, keyId: p.keyId } : { actor: 'anonymous', keyId: null }
}

/** Throws unless the request carries a key with at least `role`; returns its principal. */
export async function requireRole(db: Queryable, req: IncomingMessage, role: Role, settingsKey?: string): Promise<Principal> {
  const p = await principalOf(db, req, settingsKey)
  if (!p) {
    if (role !== 'reader' && !(await keysConfigured(db, settingsKey))) throw new Forbidden('writes are disabled on this server: start it with ECOCENSUS_API_KEY set, or add keys with `ecocensus keys add`')
    throw new Unauthorized(`this route needs a key with role ${role} or higher: send it as "Authorization: Bearer KEY" or "X-Api-Key: KEY"`)
  }
  if (RANK[p.role] < RANK[role]) throw new Forbidden(`this route needs role ${role}; the key has role ${p.role}`)
  return p
}

/** A catalogue write: an admin key that is not limited to regions (the catalogue is shared by
 *  every region; a regional key could otherwise replace the province's layers). */
export async function requireCatalogAdmin(db: Queryable, req: IncomingMessage, settingsKey?: string): Promise<Principal> {
  const p = await requireRole(db, req, 'admin', settingsKey)
  if (p.scopes) throw new Forbidden(`key '${p.name}' is limited to regions (${p.scopes.join(', ')}) and cannot change the shared catalogue; use a key without --scope`)
  return p
}

/** Express middleware for requireCatalogAdmin. */
export function needsCatalogAdmin(db: Queryable, settingsKey?: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    requireCatalogAdmin(db, req, settingsKey).then(() => next(), next)
  }
}

/** `role` once the server is keyed (a server that never had a key stays open to it: the
 *  single-user laptop case); a key presented is checked either way. */
export async function requireRoleWhenKeyed(db: Queryable, req: IncomingMessage, role: Role, settingsKey?: string): Promise<Principal | null> {
  if (await keysConfigured(db, settingsKey)) return requireRole(db, req, role, settingsKey)
  return principalOf(db, req, settingsKey)
}

/** Express middleware for requireRoleWhenKeyed. */
export function needsWhenKeyed(db: Queryable, role: Role, settingsKey?: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    requireRoleWhenKeyed(db, req, role, settingsKey).then(() => next(), next)
  }
}
