import crypto from 'node:crypto'
import type { Request } from 'express'
import { AppError, Unauthorized } from '../errors.ts'

class Forbidden extends AppError {
  override readonly status = 403
  override readonly code = 'forbidden'
}

/**
 * Write routes need the configured key, as `Authorization: Bearer KEY` or `X-Api-Key`.
 * Keys are compared as SHA-256 digests with timingSafeEqual (constant time, any length).
 */
export function requireWriteKey(req: Request, apiKey: string | undefined): void {
  if (!apiKey) throw new Forbidden('writes are disabled on this server: start it with ECOCENSUS_API_KEY set')
  const given = req.get('x-api-key') ?? /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1]
  if (!given) throw new Unauthorized('this route writes: send the API key as "Authorization: Bearer KEY" or "X-Api-Key: KEY"')
  const a = crypto.createHash('sha256').update(given).digest()
  const b = crypto.createHash('sha256').update(apiKey).digest()
  if (!crypto.timingSafeEqual(a, b)) throw new Unauthorized('the API key is not valid')
}
