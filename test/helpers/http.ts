import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { Db } from '../../server/db/db.ts'
import { createServer, type AccessEntry } from '../../server/http/app.ts'
import { loadSettings, type Settings } from '../../server/settings.ts'
import { createRuntime } from '../../server/runtime.ts'

/** Waits until a server started with listen(0, '127.0.0.1') listens; its base URL. */
export async function baseUrl(server: Server): Promise<string> {
  if (!server.listening) await new Promise((r) => server.once('listening', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

export interface ServerOptions {
  /** ECOCENSUS_* variables, as loadSettings reads them */
  env?: Record<string, string>
  /** settings over those from env */
  settings?: Partial<Settings>
  /** raster store and tile cache under this folder */
  dir?: string
  access?: (e: AccessEntry) => void
}

/** A server as `ecocensus serve` makes one: with a runtime of its own (pools, caches) from its settings, closed with it. */
function listen(db: Db, o: ServerOptions): Server {
  const where = o.dir ? { rasterDir: path.join(o.dir, 'r'), tileCacheDir: path.join(o.dir, 't') } : {}
  const settings = { ...loadSettings(o.env ?? {}), ...where, ...o.settings }
  const runtime = createRuntime(settings)
  const server = createServer({ db, settings, access: o.access, runtime }).listen(0, '127.0.0.1')
  server.once('close', () => void runtime.close())
  return server
}

/** One server on loopback for the length of fn; closed however fn ends. */
export async function withServer<T>(db: Db, o: ServerOptions, fn: (base: string) => Promise<T>): Promise<T> {
  const server = listen(db, o)
  try {
    return await fn(await baseUrl(server))
  } finally {
    await new Promise((r) => server.close(r))
  }
}

/** The servers of a suite: start() gives a base URL; closeAll() in afterAll. */
export function serverPool() {
  const servers: Server[] = []
  return {
    async start(db: Db, o: ServerOptions = {}): Promise<string> {
      const s = listen(db, o)
      servers.push(s)
      return baseUrl(s)
    },
    async closeAll(): Promise<void> {
      for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
    },
  }
}
