#!/usr/bin/env node
// `npx ecocensus …` in a clone: run the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api'
register()
await import('../server/cli/main.ts')
