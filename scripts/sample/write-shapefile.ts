// A small ESRI shapefile writer (Polygon type, .shp/.shx/.dbf/.prj/.cpg) for the sample
// data and for test fixtures. Follows the ESRI Shapefile Technical Description (1998):
// big-endian file header fields, little-endian record contents, outer rings clockwise.
import fs from 'node:fs'
import iconv from 'iconv-lite'
import { shpHeader } from '../../server/results/shapefile.ts'

export interface DbfField {
  name: string
  type: 'C' | 'N'
  length: number
  decimals?: number
}

export interface ShpRecord {
  attributes: Record<string, string | number | null>
  /** polygons → rings → [x, y]; null writes a Null shape */
  polygons: number[][][][] | null
}

export interface WriteOptions {
  encoding?: string
  prj?: string
  /** .cpg content; false writes none */
  cpg?: string | false
  /** dBASE language driver id byte (0x4D = GBK/936) */
  ldid?: number
  /** keep ring orientation as given (to write deliberately odd files) */
  raw?: boolean
}

export function writeShapefile(base: string, fields: DbfField[], records: ShpRecord[], opts: WriteOptions = {}): void {
  const encoding = opts.encoding ?? 'utf-8'
  const contents = records.map((r) => shapeContent(r.polygons, opts.raw ?? false))
  const bbox = [Infinity, Infinity, -Infinity, -Infinity]
  for (const r of records) for (const p of r.polygons ?? []) for (const ring of p) for (const [x, y] of ring) {
    bbox[0] = Math.min(bbox[0]!, x!); bbox[1] = Math.min(bbox[1]!, y!); bbox[2] = Math.max(bbox[2]!, x!); bbox[3] = Math.max(bbox[3]!, y!)
  }
  if (!Number.isFinite(bbox[0]!)) bbox.fill(0)
  const shpLen = 100 + contents.reduce((s, c) => s + 8 + c.length, 0)
  const shp = Buffer.alloc(shpLen)
  const shx = Buffer.alloc(100 + 8 * records.length)
  shpHeader(shpLen, bbox).copy(shp, 0)
  shpHeader(shx.length, bbox).copy(shx, 0)
  let off = 100
  contents.forEach((c, k) => {
    shx.writeInt32BE(off / 2, 100 + k * 8)
    shx.writeInt32BE(c.length / 2, 104 + k * 8)
    shp.writeInt32BE(k + 1, off)
    shp.writeInt32BE(c.length / 2, off + 4)
    c.copy(shp, off + 8)
    off += 8 + c.length
  })
  fs.writeFileSync(base + '.shp', shp)
  fs.writeFileSync(base + '.shx', shx)
  fs.writeFileSync(base + '.dbf', dbf(fields, records, encoding, opts.ldid ?? (encoding === 'gbk' ? 0x4d : 0)))
  if (opts.prj) fs.writeFileSync(base + '.prj', opts.prj)
  if (opts.cpg !== false) fs.writeFileSync(base + '.cpg', opts.cpg ?? encoding.toUpperCase())
}


function signedArea(ring: number[][]): number {
  let a = 0
  for (let i = 0; i < ring.length - 1; i++) a += ring[i]![0]! * ring[i + 1]![1]! - ring[i + 1]![0]! * ring[i]![1]!
  return a / 2
}

function shapeContent(polys: number[][][][] | null, raw: boolean): Buffer {
  if (!polys) {
    const b = Buffer.alloc(4)
    b.writeInt32LE(0, 0)
    return b
  }
  const rings: number[][][] = []
  for (const p of polys) {
    p.forEach((ring, i) => {
      const cw = signedArea(ring) < 0
      // shells clockwise, holes counter-clockwise
      rings.push(raw || (i === 0) === cw ? ring : [...ring].reverse())
    })
  }
  const nPoints = rings.reduce((s, r) => s + r.length, 0)
  const b = Buffer.alloc(44 + 4 * rings.length + 16 * nPoints)
  b.writeInt32LE(5, 0)
  const xs = rings.flat().map((p) => p[0]!)
  const ys = rings.flat().map((p) => p[1]!)
  ;[Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].forEach((v, i) => b.writeDoubleLE(v, 4 + i * 8))
  b.writeInt32LE(rings.length, 36)
  b.writeInt32LE(nPoints, 40)
  let idx = 0
  rings.forEach((r, i) => {
    b.writeInt32LE(idx, 44 + i * 4)
    idx += r.length
  })
  let o = 44 + 4 * rings.length
  for (const r of rings) for (const [x, y] of r) {
    b.writeDoubleLE(x!, o)
    b.writeDoubleLE(y!, o + 8)
    o += 16
  }
  return b
}

function dbf(fields: DbfField[], records: ShpRecord[], encoding: string, ldid: number): Buffer {
  const recordLength = 1 + fields.reduce((s, f) => s + f.length, 0)
  const headerLength = 32 + 32 * fields.length + 1
  const buf = Buffer.alloc(headerLength + recordLength * records.length + 1, 0x20)
  buf.fill(0, 0, headerLength)
  buf.writeUInt8(0x03, 0)
  buf.writeUInt8(126, 1) // 2026
  buf.writeUInt8(1, 2)
  buf.writeUInt8(1, 3)
  buf.writeUInt32LE(records.length, 4)
  buf.writeUInt16LE(headerLength, 8)
  buf.writeUInt16LE(recordLength, 10)
  buf.writeUInt8(ldid, 29)
  fields.forEach((f, i) => {
    const o = 32 + i * 32
    const name = iconv.encode(f.name, encoding).subarray(0, 10)
    name.copy(buf, o)
    buf.write(f.type, o + 11, 'latin1')
    buf.writeUInt8(f.length, o + 16)
    buf.writeUInt8(f.decimals ?? 0, o + 17)
  })
  buf.writeUInt8(0x0d, headerLength - 1)
  records.forEach((r, k) => {
    let o = headerLength + k * recordLength + 1
    for (const f of fields) {
      const v = r.attributes[f.name]
      let bytes: Buffer
      if (v === null || v === undefined) bytes = Buffer.alloc(0)
      else if (f.type === 'N') bytes = Buffer.from(typeof v === 'number' ? v.toFixed(f.decimals ?? 0).padStart(f.length) : String(v), 'latin1')
      else bytes = iconv.encode(String(v), encoding)
      bytes.subarray(0, f.length).copy(buf, o)
      o += f.length
    }
  })
  buf.writeUInt8(0x1a, buf.length - 1)
  return buf
}

/** ESRI WKT of CGCS2000 3° Gauss-Krüger zone N (zone-prefixed easting), as ArcGIS writes it. */
export function esriGkZonePrj(zone: number): string {
  return `PROJCS["CGCS2000_3_Degree_GK_Zone_${zone}",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",${zone}500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",${zone * 3}.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`
}
