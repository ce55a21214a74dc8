// Where a module started by URL lives (a worker thread's entry, a kernel a scan worker
// imports): beside TypeScript sources (tests, `tsx`) it is `name.ts`, or the `.mjs` shim
// that registers tsx's loader in a fresh thread; beside the compiled JavaScript that the
// CLI and the service run (scripts/build.mjs) it is `name.js`.

/** The URL of the module `name` next to the module at `base` (its import.meta.url). */
export function siblingModule(base: string, name: string, opts: { thread?: boolean } = {}): URL {
  if (base.endsWith('.js')) return new URL(`./${name}.js`, base)
  return new URL(opts.thread ? `./${name}.mjs` : `./${name}.ts`, base)
}
