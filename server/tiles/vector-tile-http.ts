// GET /tiles/{source}/{z}/{x}/{y}.mvt (or .pbf) on plain node:http, so that the server can
// answer tile requests before Express (which costs more per request than a cached tile
// does); the Express route calls the same handler. Errors have the API's JSON shape.
//
// Caching: the in-memory TileCache keyed by source version + z/x/y; the ETag is strong (a
// hash of the bytes, one per encoding); clients revalidate (no-cache) and get 304.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Queryable } from '../db/db.ts'
import { AppError, BadInput, httpStatus } from '../errors.ts'
import type { TileCache } from './tile-cache.ts'
import { resolveSourceMemo } from './vector-source.ts'
import { renderVectorTile } from './vector-tile.ts'
import { parseInput } from '../validate/fields.ts'
import { TILE_QUERY } from './tile-query.ts'

/** a vector tile takes ?run= (units:SET sources) and nothing else */

const PATH = /^\/tiles\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\.(?:mvt|pbf)$/

/** Whether a request line is a vector tile request (and not, e.g., /tiles/raster/…png). */
export function isVectorTileRequest(method: string | undefined, url: string | undefined): boolean {
  if ((method !== 'GET' && method !== 'HEAD') || !url?.startsWith('/tiles/')) return false
  const q = url.indexOf('?')
  return PATH.test(q < 0 ? url : url.slice(0, q))
}

/** How the app calls the handler for a request with a key: the key's regions (unit tiles
 *  hold only units within them) and a private answer. */
export interface TileRequestOptions {
  scopes?: string[]
  private?: boolean
}

export function vectorTileHandler(db: Queryable, cache: TileCache, log: (msg: string) => void = () => {}) {
  return async (req: IncomingMessage, res: ServerResponse, o: TileRequestOptions = {}): Promise<void> => {
    const t0 = performance.now()
    try {
      const url = req.url ?? ''
      const q = url.indexOf('?')
      const m = PATH.exec(q < 0 ? url : url.slice(0, q))
      if (!m) throw new BadInput(`not a tile path: ${url.slice(0, 100)}`)
      const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
      const { run } = parseInput(TILE_QUERY, Object.fromEntries([...new Set(query.keys())].map((k) => { const v = query.getAll(k); return [k, v.length > 1 ? v : v[0]] })), 'query')
      let source: string
      try {
        source = decodeURIComponent(m[1]!)
      } catch {
        throw new BadInput(`tile source is not valid percent-encoding`)
      }
      const [z, x, y] = [m[2]!, m[3]!, m[4]!].map((v, i) => {
        if (!/^[0-9]{1,8}$/.test(v)) throw new BadInput(`tile ${'zxy'[i]} '${v.slice(0, 12)}' is not a number`)
        return Number(v)
      }) as [number, number, number]
      const found = await resolveSourceMemo(db, source, run === undefined ? undefined : String(run))
      // a scoped key's unit tiles are their own tiles (own cache entries)
      const src = o.scopes && found.kind === 'units' ? { ...found, scope: o.scopes, version: `${found.version}|scope:${o.scopes.join(',')}` } : found
      const key = `${src.kind}|${src.version}|${z}/${x}/${y}`
      const t = await cache.get(key, () => renderVectorTile(db, src, z, x, y))
      const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
      res.setHeader('Cache-Control', o.private ? 'private, no-cache' : 'no-cache')
      res.setHeader('Vary', o.private ? 'Accept-Encoding, Authorization, X-Api-Key' : 'Accept-Encoding')
      res.setHeader('X-Tile-Cache', t.cache)
      res.setHeader('Access-Control-Allow-Origin', '*')
      // time spent in this server (source, cache or database, encoding), for clients and benchmarks
      res.setHeader('Server-Timing', `tile;dur=${(performance.now() - t0).toFixed(2)}`)
      if (!t.raw.length) {
        res.statusCode = 204
        return void res.end()
      }
      const etag = gzip ? t.etagGz : t.etag
      res.setHeader('ETag', etag)
      const inm = req.headers['if-none-match']
      if (inm && inm.split(',').some((s) => s.trim().replace(/^W\//, '') === etag)) {
        res.statusCode = 304
        return void res.end()
      }
      const body = gzip ? t.gz : t.raw
      res.statusCode = 200
      res.setHeader('Content-Type', 'application/vnd.mapbox-vector-tile')
      if (gzip) res.setHeader('Content-Encoding', 'gzip')
      res.setHeader('Content-Length', body.length)
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (err) {
      const status = httpStatus(err)
      if (status >= 500) log(`error: ${(err as Error)?.stack ?? err}`)
      const body = JSON.stringify({ error: { code: err instanceof AppError ? err.code : 'internal', message: err instanceof AppError ? err.message : 'internal error; see the server log' } })
      if (res.headersSent) return void res.destroy()
      res.statusCode = status
      res.setHeader('Content-Type', 'application/json; charset=utf-8')
      res.setHeader('Cache-Control', 'no-store')
      res.end(body)
    }
  }
}
