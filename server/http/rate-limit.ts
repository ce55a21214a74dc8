// Per-client token buckets for the expensive routes (uploads, and every computation a route
// starts, GETs with fresh=true included): `perMinute` a minute with bursts up to the same
// number; over it, 429 with Retry-After. Clients are told apart by address. Reads of stored
// results and tiles are not limited.
import type { NextFunction, Request, Response } from 'express'
import { AppError } from '../errors.ts'

export class TooMany extends AppError {
  override readonly status = 429
  override readonly code = 'too_many_requests'
  constructor(message: string, readonly retryAfterS: number) {
    super(message)
  }
}

export interface RateLimit {
  (req: Request, res: Response, next: NextFunction): void
  /** takes a token for the request's client or throws TooMany: for a computation that is
   *  about to start (a stored result served again costs nothing and is not counted) */
  take(req: Request, res?: Response): void
}

export function rateLimit(what: string, perMinute: number): RateLimit {
  const buckets = new Map<string, { tokens: number; at: number }>()
  const take = (req: Request, res?: Response) => {
    if (!(perMinute > 0)) return
    const who = req.socket.remoteAddress ?? 'unknown'
    const now = Date.now()
    const b = buckets.get(who) ?? { tokens: perMinute, at: now }
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) / 60_000) * perMinute)
    b.at = now
    buckets.set(who, b)
    if (b.tokens < 1) {
      const wait = Math.ceil(((1 - b.tokens) / perMinute) * 60)
      if (res && !res.headersSent) res.set('Retry-After', String(wait))
      throw new TooMany(`too many ${what} from this client: at most ${perMinute} a minute; retry in ${wait} s`, wait)
    }
    b.tokens -= 1
    if (buckets.size > 10_000) for (const [k, v] of buckets) if (now - v.at > 120_000) buckets.delete(k)
  }
  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    try {
      take(req, res)
    } catch (err) {
      return next(err)
    }
    next()
  }) as RateLimit
  middleware.take = take
  return middleware
}
