// Scoped services: what a shell binds for the work it starts (the worker pools, the cell
// engine's tiling), read where it is used. No module-level mutable state and no threading
// of a pool through every call from the HTTP route down to the feature reader: a shell runs
// its work `within` the bindings of its runtime (server/runtime.ts), and code deep in an
// engine reads `current(SLOT)`. The bindings follow the work through every await (Node's
// AsyncLocalStorage), so two runtimes (a test's and a service's) in one process do not mix.
// A slot nobody bound reads its default, which is always the plain choice (no threads).
import { AsyncLocalStorage } from 'node:async_hooks'

export interface Slot<T> { readonly name: string; readonly byDefault: T }
export type Binding = readonly [Slot<unknown>, unknown]

export const slot = <T>(name: string, byDefault: T): Slot<T> => Object.freeze({ name, byDefault })
export const bind = <T>(s: Slot<T>, value: T): Binding => [s as Slot<unknown>, value]

const scope = new AsyncLocalStorage<ReadonlyMap<Slot<unknown>, unknown>>()

/** The value bound to `s` for the work in progress, else its default. */
export function current<T>(s: Slot<T>): T {
  const b = scope.getStore()
  return b && b.has(s as Slot<unknown>) ? (b.get(s as Slot<unknown>) as T) : s.byDefault
}

/** Runs fn with these bindings over the ones already in force. */
export function within<T>(bindings: readonly Binding[], fn: () => T): T {
  const m = new Map(scope.getStore())
  for (const [s, v] of bindings) m.set(s, v)
  return scope.run(m, fn)
}
