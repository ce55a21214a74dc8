// An in-memory tile cache: least recently used first out, bounded in bytes. Keys carry the
// source's input versions, so replaced data is never served (old entries just age out).
// Concurrent misses of one key share one computation. Each entry keeps the raw tile, its
// gzip form and a strong ETag per representation.
import crypto from 'node:crypto'
import zlib from 'node:zlib'

export interface CachedTile {
  raw: Buffer
  gz: Buffer
  /** strong validators of the identity and gzip representations */
  etag: string
  etagGz: string
}

export class TileCache {
  private entries = new Map<string, CachedTile>()
  private inflight = new Map<string, Promise<CachedTile>>()
  private bytes = 0
  hits = 0
  misses = 0
  shared = 0

  constructor(readonly maxBytes: number) {}

  /** The tile for key, computing it with make() on a miss (once, however many ask). */
  async get(key: string, make: () => Promise<Uint8Array>): Promise<CachedTile & { cache: 'hit' | 'miss' | 'shared' }> {
    const hit = this.entries.get(key)
    if (hit) {
      this.entries.delete(key) // re-insert: most recently used last
      this.entries.set(key, hit)
      this.hits++
      return { ...hit, cache: 'hit' }
    }
    const running = this.inflight.get(key)
    if (running) {
      this.shared++
      return { ...(await running), cache: 'shared' }
    }
    this.misses++
    const p = make().then((raw) => pack(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)))
    this.inflight.set(key, p)
    try {
      const t = await p
      this.put(key, t)
      return { ...t, cache: 'miss' }
    } finally {
      this.inflight.delete(key)
    }
  }

  private put(key: string, t: CachedTile): void {
    const size = t.raw.length + t.gz.length + key.length + 128
    if (size > this.maxBytes) return
    this.entries.set(key, t)
    this.bytes += size
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.entries.delete(k)
      this.bytes -= v.raw.length + v.gz.length + k.length + 128
    }
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }
}

function pack(raw: Buffer): CachedTile {
  const gz = raw.length ? zlib.gzipSync(raw, { level: 6 }) : raw
  const h = crypto.createHash('sha256').update(raw).digest('base64url').slice(0, 27)
  return { raw, gz, etag: `"${h}"`, etagGz: `"${h}-gz"` }
}
