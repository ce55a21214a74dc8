// The error catalogue. Every failure a user can cause is one of these classes, with a
// message that names the input and what to do; HTTP status and CLI exit code are
// mapped here and nowhere else.

export class AppError extends Error {
  readonly status: number = 500
  readonly code: string = 'internal'
  constructor(message: string, readonly details?: Record<string, unknown>) {
    super(message)
    this.name = new.target.name
  }
}

/** The input (file, option, parameter) is wrong; the message says how. */
export class BadInput extends AppError {
  override readonly status = 400
  override readonly code: string = 'bad_input'
}
/** A feature beyond what the engine takes (vertex count): the message names the limit. */
export class TooComplex extends BadInput {
  override readonly code: string = 'too_complex'
}
/** A CRS is missing or unknown: the message asks for --crs. */
export class CrsError extends BadInput {
  override readonly code: string = 'crs'
}
export class NotFound extends AppError {
  override readonly status = 404
  override readonly code: string = 'not_found'
}
export class Conflict extends AppError {
  override readonly status = 409
  override readonly code: string = 'conflict'
}
export class Gone extends AppError {
  override readonly status = 410
  override readonly code: string = 'gone'
}
/** A run's recorded inputs were deleted (purged) before it finished: it failed, never done. */
export class InputsLost extends AppError {
  override readonly status = 409
  override readonly code: string = 'inputs_lost'
}
/** A run stopped because it took longer than its time budget. */
export class TimedOut extends AppError {
  override readonly status = 503
  override readonly code: string = 'timeout'
}
/** A run stopped at a user's request. */
export class Cancelled extends AppError {
  override readonly status = 409
  override readonly code: string = 'cancelled'
}
/** A part of a distributed run failed on the workers for good (server/distribute/): its error. */
export class TaskFailed extends AppError {
  override readonly status = 500
  override readonly code: string = 'task_failed'
}
export class TooLarge extends AppError {
  override readonly status = 413
  override readonly code: string = 'too_large'
}
export class Unauthorized extends AppError {
  override readonly status = 401
  override readonly code: string = 'unauthorized'
}
export class Unsupported extends AppError {
  override readonly status = 415
  override readonly code: string = 'unsupported'
}
export class DbError extends AppError {
  override readonly status = 503
  override readonly code: string = 'database'
  static wrap(err: unknown): Error {
    if (err instanceof AppError) return err
    const e = err as { message?: string; code?: string }
    // query_canceled (statement timeout) is the caller's concern, keep it distinct
    if (e?.code === '57014') return new DbError(`statement cancelled: ${e.message}`)
    // a concurrent writer took the same name first (unique index): the caller's conflict
    if (e?.code === '23505') return new Conflict(`a concurrent request wrote the same entry first (${e.message}); look again and retry`)
    return err instanceof Error ? err : new Error(String(err))
  }
}

export function httpStatus(err: unknown): number {
  return err instanceof AppError ? err.status : 500
}

/** CLI exit code: 2 for bad input, 1 otherwise. */
export function exitCode(err: unknown): number {
  return err instanceof AppError && err.status < 500 ? 2 : 1
}

export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.replace(/\s+/g, ' ').trim()
}
