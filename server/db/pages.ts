import type { Queryable } from './db.ts'

/**
 * Keyset pages of a query: `$1` is the first of `params`, `$2` is "after this id", the
 * rest follow as `$3…`; rows carry a text `id` in the query's order.
 */
export async function* keysetPages<T extends { id: string }>(db: Queryable, signal: AbortSignal | undefined, sql: string, params: unknown[]): AsyncGenerator<T[]> {
  let after = '0'
  for (;;) {
    const page = await db.query<T>(sql, [params[0], after, ...params.slice(1)], { signal })
    if (!page.length) return
    yield page
    after = page[page.length - 1]!.id
  }
}
