// API keys with roles: reader (reads, when reads are keyed), analyst (also starts
// statistics runs), admin (also ingests, imports, replaces). Keys are random 256-bit
// strings shown once at creation; the database keeps their SHA-256 digest. The
// ECOCENSUS_API_KEY of the settings, when set, is an admin key that lives outside the database
// (bootstrap and single-user servers).
import crypto from 'node:crypto'
import type { Queryable } from '../db/db.ts'
import { BadInput, Conflict, NotFound } from '../errors.ts'
import { checkName } from '../ingest/names.ts'

export const ROLES = ['reader', 'analyst', 'admin'] as const
export type Role = (typeof ROLES)[number]
export const RANK: Record<Role, number> = { reader: 1, analyst: 2, admin: 3 }

export const digestOf = (key: string) => crypto.createHash('sha256').update(key).digest('hex')

export function checkRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new BadInput(`role '${value}' is not one of ${ROLES.join(', ')}`)
  return value as Role
}

/** A new key; the only time its text exists is in the return value. The first key ever
 *  added marks the server keyed (fail closed: revoking every key does not reopen it). */
export async function addKey(db: Queryable, name: string, role: string, scopes?: string[]): Promise<{ id: number; name: string; role: Role; scopes: string[] | null; key: string }> {
  checkName(name, 'key name')
  const r = checkRole(role)
  const key = `eco_${crypto.randomBytes(32).toString('base64url')}`
  const exists = await db.query('SELECT 1 FROM api_key WHERE name = $1', [name])
  if (exists.length) throw new Conflict(`a key named '${name}' exists; revoke it or choose another name`)
  const [row] = await db.query<{ id: number }>('INSERT INTO api_key (name, role, digest, prefix, scopes) VALUES ($1, $2, $3, $4, $5) RETURNING id', [name, r, digestOf(key), key.slice(0, 8), scopes?.length ? scopes : null])
  await db.query("INSERT INTO server_flag (name, value) VALUES ('keyed', 'true') ON CONFLICT (name) DO NOTHING")
  return { id: row!.id, name, role: r, scopes: scopes?.length ? scopes : null, key }
}

export async function listKeys(db: Queryable) {
  return db.query<{ id: number; name: string; role: Role; prefix: string; scopes: string[] | null; created_at: string; revoked_at: string | null }>(
    'SELECT id, name, role, prefix, scopes, created_at, revoked_at FROM api_key ORDER BY id')
}

export async function revokeKey(db: Queryable, nameOrId: string): Promise<void> {
  const rows = await db.query<{ id: number }>(
    /^[0-9]{1,9}$/.test(nameOrId) ? 'UPDATE api_key SET revoked_at = now() WHERE id = $1::int AND revoked_at IS NULL RETURNING id' : 'UPDATE api_key SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id',
    [nameOrId])
  if (!rows.length) throw new NotFound(`no active key '${nameOrId}'`)
}

/** Who a request acts as: a key's id, name, role and regions (null: everywhere). */
export interface Principal {
  /** null for the settings' key, which lives outside the database */
  keyId: number | null
  name: string
  role: Role
  scopes: string[] | null
}

/** The principal of a presented key, or undefined (unknown or revoked). The settings' key is compared in constant time. */
export async function principalOfKey(db: Queryable, given: string, settingsKey?: string): Promise<Principal | undefined> {
  const d = Buffer.from(digestOf(given), 'hex')
  if (settingsKey && crypto.timingSafeEqual(d, Buffer.from(digestOf(settingsKey), 'hex'))) return { keyId: null, name: 'settings-key', role: 'admin', scopes: null }
  // lookup by digest: what a timing difference could reveal is about the digest of a
  // 256-bit random key, not the key; the final comparison is constant-time anyway
  const rows = await db.query<{ id: number; name: string; role: Role; digest: string; scopes: string[] | null }>(
    'SELECT id, name, role, digest, scopes FROM api_key WHERE digest = $1 AND revoked_at IS NULL', [d.toString('hex')])
  const row = rows[0]
  return row && crypto.timingSafeEqual(Buffer.from(row.digest, 'hex'), d) ? { keyId: row.id, name: row.name, role: row.role, scopes: row.scopes?.length ? row.scopes : null } : undefined
}

/**
 * Whether the server is keyed: the settings give a key, a key is active, or a key has ever
 * existed (server_flag 'keyed'). Keyed is fail closed: anonymous callers may not compute or
 * write, even after every key is revoked, until an admin runs `ecocensus keys open`.
 */
export async function keysConfigured(db: Queryable, settingsKey?: string): Promise<boolean> {
  if (settingsKey) return true
  const rows = await db.query("SELECT 1 FROM api_key WHERE revoked_at IS NULL UNION ALL SELECT 1 FROM server_flag WHERE name = 'keyed' LIMIT 1")
  return rows.length > 0
}

/** Back to open mode (no keys: a single-user laptop): refused while a key is active. */
export async function openServer(db: Queryable): Promise<void> {
  const active = await db.query<{ name: string }>('SELECT name FROM api_key WHERE revoked_at IS NULL ORDER BY id')
  if (active.length) throw new Conflict(`keys are active (${active.map((k) => k.name).join(', ')}); revoke them before opening the server to anonymous computation`)
  await db.query("DELETE FROM server_flag WHERE name = 'keyed'")
}
