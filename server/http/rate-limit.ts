// Per-client token buckets for the expensive routes (uploads, computations started on
// demand): `perMinute` requests a minute with bursts up to the same number; over it, 429 with
// Retry-After. Clients are told apart by address. Reads and tiles are not limited.
import type { NextFunction, Request, Response } from 'express'
import { AppError } from '../errors.ts'

export class TooMany extends AppError {
  override readonly status = 429
  override readonly code = 'too_many_requests'
  constructor(message: string, readonly retryAfterS: number) {
    super(message)
  }
}

export function rateLimit(what: string, perMinute: number) {
  const buckets = new Map<string, { tokens: number; at: number }>()
  return (req: Request, res: Response, next: NextFunction) => {
    if (!(perMinute > 0)) return next()
    const who = req.socket.remoteAddress ?? 'unknown'
    const now = Date.now()
    const b = buckets.get(who) ?? { tokens: perMinute, at: now }
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) / 60_000) * perMinute)
    b.at = now
    if (b.tokens < 1) {
      const wait = Math.ceil(((1 - b.tokens) / perMinute) * 60)
      buckets.set(who, b)
      res.set('Retry-After', String(wait))
      return next(new TooMany(`too many ${what} from this client: at most ${perMinute} a minute; retry in ${wait} s`, wait))
    }
    b.tokens -= 1
    buckets.set(who, b)
    if (buckets.size > 10_000) for (const [k, v] of buckets) if (now - v.at > 120_000) buckets.delete(k)
    next()
  }
}
