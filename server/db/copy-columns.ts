// The rows of a binary COPY (Db.copyBinary), read where the database streams one. The
// format: an 11-byte signature, flags and a header extension, then per row a field count and
// per field its length (−1: NULL) and bytes, big-endian; a field count of −1 ends it.
// Receiving rows this way skips node-postgres's text parsing (hex bytea, numbers as text, a
// JS object per row): 6×10⁴ unit rows and their geometries in ~0.2 s against ~0.45 s as
// query rows. eachCopyRow walks the rows (a parser reads fields in place: the cell engine's
// features); copyColumns takes them apart into columns.
import type { Db, Queryable } from './db.ts'

/** A database that streams binary COPY (PostgreSQL; PGlite has no COPY stream). */
export type CopyDb = Queryable & Required<Pick<Db, 'copyBinary'>>
export const canCopy = (db: Queryable): db is CopyDb => typeof (db as Partial<Db>).copyBinary === 'function'

/**
 * Calls `row` for each row of `b`, which must have `fields` fields: where each field's bytes
 * start in `b` and how many there are (−1: NULL). The two arrays are reused from row to row.
 */
export function eachCopyRow(b: Buffer, fields: number, row: (at: Int32Array, length: Int32Array, dv: DataView) => void): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  if (b.byteLength < 21 || b.toString('latin1', 0, 6) !== 'PGCOPY') throw new Error('binary COPY: no PGCOPY header')
  let o = 19 + dv.getInt32(15)
  const at = new Int32Array(fields)
  const length = new Int32Array(fields)
  for (;;) {
    const n = dv.getInt16(o)
    o += 2
    if (n === -1) return
    if (n !== fields) throw new Error(`binary COPY: a row of ${n} fields, ${fields} expected`)
    for (let k = 0; k < fields; k++) {
      const len = dv.getInt32(o)
      o += 4
      at[k] = o
      length[k] = len
      if (len > 0) o += len
    }
    row(at, length, dv)
  }
}

/** How a column's bytes are read: bigint as decimal text (ids), text, float8, or the bytes themselves (EWKB). */
export type CopyType = 'int8text' | 'text' | 'float8' | 'bytes'

type Column<T extends CopyType> = T extends 'float8' ? number | null : T extends 'bytes' ? Uint8Array | null : string | null

/** Columns of the rows of `b`, one array per entry of `types`, in row order. */
export function copyColumns<const T extends readonly CopyType[]>(b: Buffer, types: T): { [K in keyof T]: Column<T[K]>[] } {
  const out = types.map(() => [] as unknown[])
  eachCopyRow(b, types.length, (at, length, dv) => {
    for (let k = 0; k < types.length; k++) {
      const o = at[k]!, n = length[k]!
      if (n < 0) {
        out[k]!.push(null)
        continue
      }
      const t = types[k]
      if (t === 'int8text') {
        if (n !== 8) throw new Error(`binary COPY: an int8 of ${n} bytes`)
        out[k]!.push(String(dv.getBigInt64(o)))
      } else if (t === 'float8') {
        if (n !== 8) throw new Error(`binary COPY: a float8 of ${n} bytes`)
        out[k]!.push(dv.getFloat64(o))
      } else if (t === 'text') out[k]!.push(b.toString('utf8', o, o + n))
      else out[k]!.push(b.subarray(o, o + n))
    }
  })
  return out as { [K in keyof T]: Column<T[K]>[] }
}
