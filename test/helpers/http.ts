import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Waits until a server started with listen(0, '127.0.0.1') listens; its base URL. */
export async function baseUrl(server: Server): Promise<string> {
  if (!server.listening) await new Promise((r) => server.once('listening', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
