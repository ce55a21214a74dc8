import type { Request } from 'express'
import { BadInput } from '../errors.ts'

/** One string query parameter; arrays (?a=1&a=2) and over-long values are refused. */
export function param(req: Request, name: string, opts: { required?: boolean; pattern?: RegExp; max?: number } = {}): string | undefined {
  const v = req.query[name]
  if (v === undefined || v === '') {
    if (opts.required) throw new BadInput(`query parameter '${name}' is required`)
    return undefined
  }
  if (typeof v !== 'string') throw new BadInput(`query parameter '${name}' must be given once, as text`)
  if (v.length > (opts.max ?? 1000)) throw new BadInput(`query parameter '${name}' is too long`)
  if (opts.pattern && !opts.pattern.test(v)) throw new BadInput(`query parameter '${name}'='${v}' is not valid`)
  return v
}

export function oneOf<T extends string>(req: Request, name: string, values: readonly T[], dflt: T): T {
  const v = param(req, name)
  if (v === undefined) return dflt
  if (!(values as readonly string[]).includes(v)) throw new BadInput(`query parameter '${name}' must be one of ${values.join(', ')}, not '${v}'`)
  return v as T
}

export function bool(req: Request, name: string): boolean {
  const v = param(req, name)
  if (v === undefined) return false
  if (!['true', 'false', '1', '0'].includes(v)) throw new BadInput(`query parameter '${name}' must be true or false`)
  return v === 'true' || v === '1'
}
