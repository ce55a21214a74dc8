// Entry of a zonal scan worker thread (scan-pool.ts). It registers tsx's loader itself, so
// the TypeScript modules load the same whether the parent runs under node, tsx or vitest.
import { register } from 'tsx/esm/api'

register()
await import('./scan-worker.ts')
