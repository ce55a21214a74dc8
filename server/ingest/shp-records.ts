// The records of a polygon shapefile, read in large blocks: geometry as flat coordinates
// (FlatRings) and attributes decoded as the `shapefile` package decodes them (its
// polygon and dBASE readers are the reference; test/shp-records.test.ts compares both on
// the same files). That package builds a GeoJSON array per vertex and a promise per
// record: ~12 k survey patches/s, a third of the speed of ogr2ogr's whole load. Here a
// record is a few typed-array views: ~10× faster. Points (monitoring sections) still go
// through the package.
import fs from 'node:fs/promises'
import os from 'node:os'
import { BadInput } from '../errors.ts'
import type { FlatRings } from './source.ts'

const BLOCK = 4 << 20
const LITTLE_ENDIAN = os.endianness() === 'LE'

/** A file read forward in blocks; `need(n)` makes n bytes readable at `at`. */
class BlockReader {
  buf = Buffer.allocUnsafe(BLOCK)
  at = 0
  end = 0
  private pos: number
  constructor(private fh: fs.FileHandle, start: number, private limit: number) {
    this.pos = start
  }
  /** true when n bytes are readable at `at`; false at the end of the file (or its limit) */
  async need(n: number): Promise<boolean> {
    if (this.end - this.at >= n) return true
    if (n > this.end - this.at + (this.limit - this.pos)) return false
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, 2 * this.buf.length))
      this.buf.copy(bigger, 0, this.at, this.end)
      this.buf = bigger
    } else this.buf.copy(this.buf, 0, this.at, this.end)
    this.end -= this.at
    this.at = 0
    while (this.end < n && this.pos < this.limit) {
      const want = Math.min(this.buf.length - this.end, this.limit - this.pos)
      const { bytesRead } = await this.fh.read(this.buf, this.end, want, this.pos)
      if (bytesRead === 0) break
      this.pos += bytesRead
      this.end += bytesRead
    }
    return this.end - this.at >= n
  }
}

/**
 * The geometry of each record of a Polygon/PolygonZ/PolygonM .shp, in order: null for a
 * Null shape. Coordinates are copied out of the block (the block is reused).
 */
export async function* shpPolygons(file: string, name: string, fileLength: number, shapeType: number, signal?: AbortSignal): AsyncGenerator<FlatRings | null> {
  const fh = await fs.open(file, 'r')
  try {
    const r = new BlockReader(fh, 100, fileLength)
    let index = 0
    for (;;) {
      signal?.throwIfAborted()
      if (!(await r.need(8))) {
        if (r.end - r.at > 0) throw new BadInput(`${name}: record ${index + 1} cannot be read (the file ends inside its header); the .shp is damaged`)
        return
      }
      index++
      const length = r.buf.readInt32BE(r.at + 4) * 2
      if (length < 4) throw new BadInput(`${name}: record ${index} cannot be read (content length ${length}); the .shp is damaged`)
      if (!(await r.need(8 + length))) throw new BadInput(`${name}: record ${index} cannot be read (it runs past the end of the file: truncated); the .shp is damaged`)
      const o = r.at + 8
      const type = r.buf.readInt32LE(o)
      r.at += 8 + length
      if (type === 0) {
        yield null
        continue
      }
      if (type !== shapeType) throw new BadInput(`${name}: record ${index} cannot be read (shape type ${type} in a file of type ${shapeType}); the .shp is damaged`)
      if (length < 44) throw new BadInput(`${name}: record ${index} cannot be read (content length ${length}); the .shp is damaged`)
      const parts = r.buf.readInt32LE(o + 36)
      const points = r.buf.readInt32LE(o + 40)
      if (parts < 0 || points < 0 || 44 + 4 * parts + 16 * points > length) {
        throw new BadInput(`${name}: record ${index} cannot be read (${parts} parts and ${points} points do not fit its ${length} bytes); the .shp is damaged`)
      }
      const rings = new Int32Array(parts + 1)
      for (let j = 0; j < parts; j++) {
        const start = r.buf.readInt32LE(o + 44 + 4 * j)
        if (start < 0 || start > points || (j > 0 && start < rings[j - 1]!)) throw new BadInput(`${name}: record ${index} cannot be read (part ${j + 1} starts at point ${start} of ${points}); the .shp is damaged`)
        rings[j] = start
      }
      rings[parts] = points
      const at = o + 44 + 4 * parts
      const xy = new Float64Array(2 * points)
      // copied as bytes into an aligned array (the block's offsets are not 8-aligned)
      if (LITTLE_ENDIAN) new Uint8Array(xy.buffer).set(r.buf.subarray(at, at + 16 * points))
      else for (let k = 0; k < 2 * points; k++) xy[k] = r.buf.readDoubleLE(at + 8 * k)
      yield { xy, rings }
    }
  } finally {
    await fh.close()
  }
}

interface DbfField { name: string; type: string; offset: number; length: number }

/** Each record of a .dbf as the `shapefile` package gives it: field name → string, number, Date, boolean or null. */
export async function* dbfRecords(file: string, name: string, encoding: string, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
  const fh = await fs.open(file, 'r')
  try {
    const head = Buffer.alloc(32)
    await fh.read(head, 0, 32, 0)
    const records = head.readUInt32LE(4)
    const headerLength = head.readUInt16LE(8)
    const recordLength = head.readUInt16LE(10)
    const desc = Buffer.alloc(headerLength - 32)
    await fh.read(desc, 0, desc.length, 32)
    const decoder = new TextDecoder(encoding)
    const fields: DbfField[] = []
    let offset = 1
    for (let n = 0; n + 32 <= desc.length && desc[n] !== 0x0d; n += 32) {
      let j = 0
      while (j < 11 && desc[n + j] !== 0) j++
      const f = { name: decoder.decode(desc.subarray(n, n + j)), type: String.fromCharCode(desc[n + 11]!), offset, length: desc[n + 16]! }
      if (!'BCDFLMN'.includes(f.type)) throw new BadInput(`${name}: the .dbf field ${f.name} has type '${f.type}', which is not a dBASE III type (C, N, F, D, L, M, B)`)
      fields.push(f)
      offset += f.length
    }
    if (offset > recordLength) throw new BadInput(`${name}: the .dbf header is damaged (its fields take ${offset} bytes of a ${recordLength}-byte record)`)
    const r = new BlockReader(fh, headerLength, headerLength + records * recordLength)
    for (let k = 0; k < records; k++) {
      if ((k & 1023) === 0) signal?.throwIfAborted()
      if (!(await r.need(recordLength)) || r.buf[r.at] === 0x1a) return
      const base = r.at
      const out: Record<string, unknown> = {}
      for (const f of fields) out[f.name] = value(r.buf, base + f.offset, f, decoder)
      r.at += recordLength
      yield out
    }
  } finally {
    await fh.close()
  }
}

function value(buf: Buffer, at: number, f: DbfField, decoder: TextDecoder): unknown {
  const end = at + f.length
  let ascii = true
  for (let i = at; i < end; i++) if (buf[i]! >= 0x80) { ascii = false; break }
  // ASCII reads the same in every encoding we accept (UTF-8, GBK, GB18030, Big5, windows-1252)
  const text = ascii ? buf.toString('latin1', at, end) : decoder.decode(buf.subarray(at, end))
  switch (f.type) {
    case 'C':
      return text.trim() || null
    case 'D':
      return new Date(+text.substring(0, 4), Number(text.substring(4, 6)) - 1, +text.substring(6, 8))
    case 'L':
      return /^[nf]$/i.test(text) ? false : /^[yt]$/i.test(text) ? true : null
    default: {
      const t = text.trim()
      const v = +t
      return !t || Number.isNaN(v) ? null : v
    }
  }
}

/**
 * Rings of a shapefile polygon grouped as the `shapefile` package groups them: a clockwise
 * ring starts a polygon; any other is a hole of the first polygon whose shell contains it,
 * or else a polygon of its own. Returns per polygon the ring numbers, shell first.
 */
export function groupRings(g: FlatRings): number[][] {
  const polygons: number[][] = []
  const holes: number[] = []
  const n = g.rings.length - 1
  for (let j = 0; j < n; j++) (ringClockwise(g, j) ? polygons.push([j]) : holes.push(j))
  for (const h of holes) {
    const home = polygons.find((p) => ringContainsSome(g, p[0]!, h))
    if (home) home.push(h)
    else polygons.push([h])
  }
  return polygons
}

function ringClockwise(g: FlatRings, j: number): boolean {
  const a = g.rings[j]!, n = g.rings[j + 1]! - a
  if (n < 4) return false
  const x = (i: number) => g.xy[2 * (a + i)]!, y = (i: number) => g.xy[2 * (a + i) + 1]!
  let area = y(n - 1) * x(0) - x(n - 1) * y(0)
  for (let i = 1; i < n; i++) area += y(i - 1) * x(i) - x(i - 1) * y(i)
  return area >= 0
}

function ringContainsSome(g: FlatRings, shell: number, hole: number): boolean {
  for (let i = g.rings[hole]!; i < g.rings[hole + 1]!; i++) {
    const c = ringContains(g, shell, g.xy[2 * i]!, g.xy[2 * i + 1]!)
    if (c) return c > 0
  }
  return false
}

function ringContains(g: FlatRings, ring: number, x: number, y: number): number {
  const a = g.rings[ring]!, n = g.rings[ring + 1]! - a
  let contains = -1
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = g.xy[2 * (a + i)]!, yi = g.xy[2 * (a + i) + 1]!, xj = g.xy[2 * (a + j)]!, yj = g.xy[2 * (a + j) + 1]!
    if (segmentContains(xi, yi, xj, yj, x, y)) return 0
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) contains = -contains
  }
  return contains
}

function segmentContains(x0: number, y0: number, x1: number, y1: number, x2: number, y2: number): boolean {
  const x20 = x2 - x0, y20 = y2 - y0
  if (x20 === 0 && y20 === 0) return true
  const x10 = x1 - x0, y10 = y1 - y0
  if (x10 === 0 && y10 === 0) return false
  const t = (x20 * x10 + y20 * y10) / (x10 * x10 + y10 * y10)
  return t < 0 || t > 1 ? false : t === 0 || t === 1 ? true : t * x10 === x20 && t * y10 === y20
}
