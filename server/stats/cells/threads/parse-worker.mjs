// Entry of a feature-parsing worker thread (parse-pool.ts). It registers tsx's loader itself,
// so the TypeScript modules load the same whether the parent runs under node, tsx or vitest.
import { register } from 'tsx/esm/api'

register()
await import('./parse-worker.ts')
