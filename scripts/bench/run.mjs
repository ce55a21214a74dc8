#!/usr/bin/env node
// `npm run bench`: runs every benchmark under scripts/bench/ in turn.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
const here = path.dirname(fileURLToPath(import.meta.url))
for (const b of ['startup-bench.ts', 'ingest-bench.ts', 'coverage-bench.ts', 'county-bench.ts', 'coverage-paths-bench.ts', 'zonal-bench.ts', 'tile-bench.ts']) {
  console.log(`\n# ${b}`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, b)], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
