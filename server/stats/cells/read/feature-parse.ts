// Features read from (E)WKB for the cell engine, pure: each polygon's rings opened,
// oriented (outer rings counter-clockwise, holes clockwise) and projected in one pass each,
// into shared typed-array chunks. Used in the main thread and in parse workers alike
// (parse-pool.ts), so both give the same bits.
import type { Laea } from '../../../geom/laea.ts'
import { widenBox, wkbHeader, wkbHeaderBytes, wkbType, wkbDims, wkbLittle } from '../../../geom/wkb.ts'
import { toBytes, type Box } from '../../../geom/shapes.ts'
import { LONG_M, orientInPlace, shoelace, type Feat } from '../union-boundary.ts'

/** Rows of hex EWKB text joined into one string, with each row's length in bytes. */
export function joinHex(rows: { wkb: string }[]): { hex: string; lengths: Int32Array } {
  let hex = ''
  const lengths = new Int32Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    hex += rows[i]!.wkb
    lengths[i] = rows[i]!.wkb.length >> 1
  }
  return { hex, lengths }
}

/**
 * Typed-array space for many small rings: views into shared chunks, so that reading a
 * layer does not allocate two typed arrays per ring (that, and the garbage it leaves, took
 * longer than parsing). A chunk lives as long as any ring in it.
 */
export class RingArena {
  private chunk = new Float64Array(0)
  private used = 0

  take(n: number): Float64Array {
    if (this.used + n > this.chunk.length) {
      this.chunk = new Float64Array(Math.max(n, 1 << 16))
      this.used = 0
    }
    const v = this.chunk.subarray(this.used, this.used + n)
    this.used += n
    return v
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * A feature read from (E)WKB — bytes, or hex text as PostgreSQL prints geometry — with its
 * rings opened, oriented and projected. Undefined when it has no area.
 */
export function featureOf(id: string, category: string | null, wkb: Uint8Array | Buffer | string, pr: Laea, arena = new RingArena()): Feat | undefined {
  return new FeatureParser(pr, arena).parse(id, category, toBytes(wkb), 0)
}

/**
 * Features of many (E)WKB (Multi)Polygons, each ring opened, oriented (outer rings
 * counter-clockwise, holes clockwise) and projected in one pass. One parser serves a whole
 * read: rows of hex text are decoded together into one buffer, and no per-feature state
 * objects are made.
 */
export class FeatureParser {
  private b: Uint8Array = new Uint8Array(0)
  private dv = new DataView(this.b.buffer)
  private o = 0
  private rings: Float64Array[] = []
  private proj: Float64Array[] = []
  private area = 0
  private longest2 = 0
  private box: Box = [Infinity, Infinity, -Infinity, -Infinity]

  constructor(private readonly pr: Laea, private readonly arena = new RingArena()) {}

  /** Rows' features appended to `out` (rows without area left out). */
  parseRows(rows: { id: string; category: string | null; wkb: string | Uint8Array }[], out: Feat[]): void {
    if (rows.length && typeof rows[0]!.wkb === 'string') {
      // PostgreSQL's hex EWKB: decoded in one go (a \x prefix would be bytea's: not expected here)
      const { hex, lengths } = joinHex(rows as { wkb: string }[])
      this.parseJoined(Buffer.from(hex, 'hex'), lengths, (i, f) => {
        f.id = rows[i]!.id
        f.category = rows[i]!.category
        out.push(f)
      })
      return
    }
    for (const r of rows) {
      const f = this.parse(r.id, r.category, toBytes(r.wkb), 0)
      if (f) out.push(f)
    }
  }

  /** The features of WKB values laid end to end in `bytes` (joinHex); `take` gets each with its row (ids left empty). */
  parseJoined(bytes: Uint8Array, lengths: ArrayLike<number>, take: (row: number, f: Feat) => void): void {
    let at = 0
    for (let i = 0; i < lengths.length; i++) {
      const f = this.parse('', null, bytes, at)
      at += lengths[i]!
      if (f) take(i, f)
    }
  }

  /** The feature whose WKB starts at byte `at` of `b`. */
  parse(id: string, category: string | null, b: Uint8Array, at: number): Feat | undefined {
    if (b !== this.b) {
      this.b = b
      this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    }
    this.o = at
    this.rings = []
    this.proj = []
    this.area = 0
    this.longest2 = 0
    this.box = [Infinity, Infinity, -Infinity, -Infinity]
    this.polygonal()
    if (!this.rings.length) return undefined
    return { id, category, rings: this.rings, proj: this.proj, bbox: this.box, area: this.area, long: this.longest2 > LONG_M * LONG_M }
  }

  private polygonal(): void {
    const dv = this.dv
    const h = wkbHeader(dv, this.o)
    this.o += wkbHeaderBytes(h)
    const type = wkbType(h), dims = wkbDims(h), le = wkbLittle(h)
    if (type === 6 || type === 7) {
      const n = dv.getUint32(this.o, le)
      this.o += 4
      for (let i = 0; i < n; i++) this.polygonal()
      return
    }
    if (type !== 3) throw new Error(`feature geometry of WKB type ${type} is not polygonal`)
    const nr = dv.getUint32(this.o, le)
    this.o += 4
    for (let r = 0; r < nr; r++) {
      const np = dv.getUint32(this.o, le)
      this.o += 4
      this.ring(this.o, np, dims, le, r === 0)
      this.o += 8 * dims * np
    }
  }

  /** One ring of np points at byte o. */
  private ring(o: number, np: number, dims: number, le: boolean, outer: boolean): void {
    const dv = this.dv
    const step = 8 * dims
    let n = np
    const last = o + step * (n - 1)
    if (n > 1 && dv.getFloat64(o, le) === dv.getFloat64(last, le) && dv.getFloat64(o + 8, le) === dv.getFloat64(last + 8, le)) n--
    if (n < 3) return
    const ring = this.arena.take(2 * n)
    if (le === LITTLE_ENDIAN && dims === 2) new Uint8Array(ring.buffer, ring.byteOffset, 16 * n).set(this.b.subarray(o, o + 16 * n))
    else for (let k = 0; k < n; k++) { ring[2 * k] = dv.getFloat64(o + step * k, le); ring[2 * k + 1] = dv.getFloat64(o + step * k + 8, le) }
    const proj = this.arena.take(2 * n)
    const l2 = orientInPlace(ring, outer, this.pr, proj)
    if (l2 < 0) return
    widenBox(ring, this.box)
    if (l2 > this.longest2) this.longest2 = l2
    this.area += shoelace(proj)
    this.rings.push(ring)
    this.proj.push(proj)
  }
}
