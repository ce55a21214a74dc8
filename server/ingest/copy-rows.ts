// Rows for `COPY … FROM STDIN (FORMAT binary)`: a staged feature is its index, two jsonb
// values and its geometry as EWKB, written straight into one growing buffer. The server
// reads them with no text to parse: a GeoJSON round trip (ST_GeomFromGeoJSON) costs ~47×
// the binary read of the same polygons.
// Format: PostgreSQL documentation, COPY, "Binary Format"; jsonb's binary form is a version
// byte (1) and the JSON text; geometry's is (E)WKB.
import type { FlatPolygons } from './polygons.ts'

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')
const EWKB_SRID = 0x20000000

export class CopyRows {
  private buf: Buffer
  private at = 0
  rows = 0

  constructor(initial = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initial)
    this.reset()
  }

  /** bytes written so far (header included) */
  get size(): number {
    return this.at
  }

  reset(): void {
    this.at = 0
    this.rows = 0
    this.room(SIGNATURE.length + 8)
    SIGNATURE.copy(this.buf, 0)
    this.buf.writeInt32BE(0, SIGNATURE.length)
    this.buf.writeInt32BE(0, SIGNATURE.length + 4)
    this.at = SIGNATURE.length + 8
  }

  /** One staged feature: src_index int4, attributes jsonb, tags jsonb, geom geometry (MultiPolygon, srid). */
  feature(index: number, attributes: string, tags: string, polys: FlatPolygons, srid: number): void {
    this.rows++
    this.room(2 + 8)
    this.buf.writeInt16BE(4, this.at)
    this.buf.writeInt32BE(4, this.at + 2)
    this.buf.writeInt32BE(index, this.at + 6)
    this.at += 10
    this.jsonb(attributes)
    this.jsonb(tags)
    this.multiPolygon(polys, srid)
  }

  /** the finished COPY data (a view into the buffer: use it before the next reset) */
  finish(): Buffer {
    this.room(2)
    this.buf.writeInt16BE(-1, this.at)
    return this.buf.subarray(0, this.at + 2)
  }

  private jsonb(text: string): void {
    const len = Buffer.byteLength(text, 'utf8')
    this.room(5 + len)
    this.buf.writeInt32BE(len + 1, this.at)
    this.buf[this.at + 4] = 1
    this.buf.write(text, this.at + 5, len, 'utf8')
    this.at += 5 + len
  }

  private multiPolygon(polys: FlatPolygons, srid: number): void {
    let size = 1 + 4 + 4 + 4
    for (const p of polys) {
      size += 1 + 4 + 4
      for (const r of p) size += 4 + 8 * r.length
    }
    this.room(4 + size)
    const b = this.buf
    let o = this.at
    b.writeInt32BE(size, o); o += 4
    b[o++] = 1
    b.writeUInt32LE(6 | EWKB_SRID, o); o += 4
    b.writeUInt32LE(srid, o); o += 4
    b.writeUInt32LE(polys.length, o); o += 4
    for (const p of polys) {
      b[o++] = 1
      b.writeUInt32LE(3, o); o += 4
      b.writeUInt32LE(p.length, o); o += 4
      for (const r of p) {
        b.writeUInt32LE(r.length / 2, o); o += 4
        for (let k = 0; k < r.length; k++) {
          b.writeDoubleLE(r[k]!, o)
          o += 8
        }
      }
    }
    this.at = o
  }

  private room(n: number): void {
    if (this.at + n + 2 <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n + 2))
    this.buf.copy(next, 0, 0, this.at)
    this.buf = next
  }
}
