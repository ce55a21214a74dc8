import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Database tests start an embedded PostgreSQL each (WASM, ~10–20 s) and, with
    // DATABASE_URL, a throwaway PostGIS database: give hooks room, keep 2 workers (2 cores).
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
