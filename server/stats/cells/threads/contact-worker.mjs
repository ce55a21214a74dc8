// Entry of a contact-finding worker thread (contact-pool.ts). It registers tsx's loader itself,
// so the TypeScript modules load the same whether the parent runs under node, tsx or vitest.
import { register } from 'tsx/esm/api'

register()
await import('./contact-worker.ts')
