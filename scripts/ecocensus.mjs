#!/usr/bin/env node
// `npm start`, `npm run cli`, `npx ecocensus …`: run the CLI from its compiled JavaScript
// (scripts/build.mjs; built at `npm install`, rebuilt here when a source has changed since).
// ECOCENSUS_TSX=1 runs the TypeScript sources through tsx's loader instead.
if (process.env.ECOCENSUS_TSX === '1') {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../server/cli/main.ts')
} else {
  const { ensureBuilt } = await import('./build.mjs')
  await import(await ensureBuilt())
}
