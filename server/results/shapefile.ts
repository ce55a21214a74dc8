// A result's units as a zipped ESRI shapefile, as Chinese survey teams exchange them: .shp
// and .shx (polygons; outer rings clockwise, holes counter-clockwise, as the format wants),
// .dbf (dBASE III) with text in GBK and a .cpg saying so, .prj in ESRI's CGCS2000 WKT, and
// fields.csv naming the full property behind each field (dBASE names stop at 10 bytes).
// Numbers are N(24, d) with as many decimals as the column's largest value leaves room for
// (a share keeps 15, an area in m² of a county 10 or more).
import iconv from 'iconv-lite'
import yazl from 'yazl'
import { wkbPolygons } from '../geom/wkb.ts'
import type { ExportColumn, ExportUnit } from './export-units.ts'

/** ESRI's WKT of CGCS2000 geographic (EPSG:4490), as ArcGIS writes it. */
export const CGCS2000_PRJ = 'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'

const NUMBER_WIDTH = 24
const TEXT_BYTES = 254

interface Field { name: string; source: string; type: 'N' | 'C'; width: number; decimals: number }

/** Field names of at most 10 bytes in GBK, unique, from the property names. */
export function fieldNames(names: string[]): string[] {
  const used = new Set<string>()
  return names.map((full) => {
    let stem = full.replace(/[^\p{L}\p{N}_]+/gu, '_').replace(/^_+|_+$/g, '') || 'field'
    while (iconv.encode(stem, 'gbk').length > 10) stem = stem.slice(0, -1)
    let name = stem
    for (let i = 1; used.has(name.toUpperCase()); i++) {
      const suffix = `_${i}`
      let base = stem
      while (iconv.encode(base + suffix, 'gbk').length > 10) base = base.slice(0, -1)
      name = base + suffix
    }
    used.add(name.toUpperCase())
    return name
  })
}

function fields(units: ExportUnit[], columns: ExportColumn[]): Field[] {
  const names = fieldNames(columns.map((c) => c.name))
  return columns.map((c, i) => {
    if (c.type === 'TEXT') {
      const longest = Math.max(1, ...units.map((u) => (u.properties[c.name] == null ? 0 : iconv.encode(String(u.properties[c.name]), 'gbk').length)))
      return { name: names[i]!, source: c.name, type: 'C', width: Math.min(TEXT_BYTES, longest), decimals: 0 }
    }
    const largest = Math.max(0, ...units.map((u) => Math.abs(Number(u.properties[c.name] ?? 0))))
    const intDigits = largest >= 1 ? Math.floor(Math.log10(largest)) + 1 : 1
    // sign, integer digits, point, decimals within the width
    return { name: names[i]!, source: c.name, type: 'N', width: NUMBER_WIDTH, decimals: Math.max(0, Math.min(15, NUMBER_WIDTH - intDigits - 2)) }
  })
}

/** Signed area of a flat ring (shoelace): positive when counter-clockwise. */
function ringArea(xy: Float64Array): number {
  let s = 0
  for (let i = 0, n = xy.length / 2; i < n; i++) {
    const j = (i + 1) % n
    s += xy[2 * i]! * xy[2 * j + 1]! - xy[2 * j]! * xy[2 * i + 1]!
  }
  return s / 2
}

/** The ring in the shapefile's orientation: outer clockwise, holes counter-clockwise. */
function oriented(xy: Float64Array, outer: boolean): Float64Array {
  const ccw = ringArea(xy) > 0
  if (ccw !== outer) return xy
  const out = new Float64Array(xy.length)
  for (let i = 0, n = xy.length / 2; i < n; i++) {
    out[2 * i] = xy[2 * (n - 1 - i)]!
    out[2 * i + 1] = xy[2 * (n - 1 - i) + 1]!
  }
  return out
}

/** The .shp and .shx of the units (exported for tests). */
/** The 100-byte main header of a Polygon .shp or .shx of `bytes` bytes (ESRI Shapefile Technical Description): file code, length in 16-bit words, version 1000, shape type 5, bounding box. */
export function shpHeader(bytes: number, box: readonly number[]): Buffer {
  const h = Buffer.alloc(100)
  h.writeInt32BE(9994, 0)
  h.writeInt32BE(bytes / 2, 24)
  h.writeInt32LE(1000, 28)
  h.writeInt32LE(5, 32)
  for (let i = 0; i < 4; i++) h.writeDoubleLE(box[i]!, 36 + 8 * i)
  return h
}

export function shpAndShx(units: ExportUnit[]): { shp: Buffer; shx: Buffer } {
  const records: Buffer[] = []
  const box = [Infinity, Infinity, -Infinity, -Infinity]
  for (const u of units) {
    const rings = wkbPolygons(u.wkb).flatMap((poly) => poly.map((ring, k) => oriented(ring, k === 0)))
    const points = rings.reduce((n, r) => n + r.length / 2, 0)
    const content = Buffer.alloc(44 + 4 * rings.length + 16 * points)
    content.writeInt32LE(5, 0)
    content.writeDoubleLE(u.bbox[0], 4)
    content.writeDoubleLE(u.bbox[1], 12)
    content.writeDoubleLE(u.bbox[2], 20)
    content.writeDoubleLE(u.bbox[3], 28)
    content.writeInt32LE(rings.length, 36)
    content.writeInt32LE(points, 40)
    let start = 0
    rings.forEach((r, i) => { content.writeInt32LE(start, 44 + 4 * i); start += r.length / 2 })
    let o = 44 + 4 * rings.length
    for (const r of rings) for (let i = 0; i < r.length; i++, o += 8) content.writeDoubleLE(r[i]!, o)
    records.push(content)
    box[0] = Math.min(box[0]!, u.bbox[0]); box[1] = Math.min(box[1]!, u.bbox[1]); box[2] = Math.max(box[2]!, u.bbox[2]); box[3] = Math.max(box[3]!, u.bbox[3])
  }
  if (!units.length) box.splice(0, 4, 0, 0, 0, 0)
  const header = (bytes: number) => shpHeader(bytes, box)
  const shpBytes = 100 + records.reduce((n, r) => n + 8 + r.length, 0)
  const shp: Buffer[] = [header(shpBytes)]
  const shx: Buffer[] = [header(100 + 8 * records.length)]
  let offset = 100
  records.forEach((r, i) => {
    const rh = Buffer.alloc(8)
    rh.writeInt32BE(i + 1, 0)
    rh.writeInt32BE(r.length / 2, 4)
    shp.push(rh, r)
    const ix = Buffer.alloc(8)
    ix.writeInt32BE(offset / 2, 0)
    ix.writeInt32BE(r.length / 2, 4)
    shx.push(ix)
    offset += 8 + r.length
  })
  return { shp: Buffer.concat(shp), shx: Buffer.concat(shx) }
}

function dbf(units: ExportUnit[], fs: Field[]): Buffer {
  const recordBytes = 1 + fs.reduce((n, f) => n + f.width, 0)
  const headerBytes = 32 + 32 * fs.length + 1
  const out = Buffer.alloc(headerBytes + recordBytes * units.length + 1, 0x20)
  const now = new Date()
  out.fill(0, 0, headerBytes)
  out[0] = 0x03
  out[1] = now.getFullYear() - 1900
  out[2] = now.getMonth() + 1
  out[3] = now.getDate()
  out.writeUInt32LE(units.length, 4)
  out.writeUInt16LE(headerBytes, 8)
  out.writeUInt16LE(recordBytes, 10)
  out[29] = 0x4d // language driver: GBK (code page 936)
  fs.forEach((f, i) => {
    const at = 32 + 32 * i
    iconv.encode(f.name, 'gbk').copy(out, at, 0, 10)
    out.write(f.type, at + 11, 'ascii')
    out[at + 16] = f.width
    out[at + 17] = f.decimals
  })
  out[headerBytes - 1] = 0x0d
  units.forEach((u, r) => {
    let o = headerBytes + r * recordBytes
    out[o++] = 0x20
    for (const f of fs) {
      const v = u.properties[f.source]
      let bytes: Buffer
      if (v === null || v === undefined) bytes = Buffer.alloc(0)
      else if (f.type === 'N') bytes = Buffer.from(Number(v).toFixed(f.decimals).padStart(f.width).slice(-f.width), 'ascii')
      else {
        bytes = iconv.encode(String(v), 'gbk')
        // never cut a two-byte character in half
        if (bytes.length > f.width) bytes = iconv.encode(iconv.decode(bytes.subarray(0, f.width), 'gbk').replace(/\ufffd$/, ''), 'gbk')
      }
      bytes.copy(out, o, 0, f.width)
      o += f.width
    }
  })
  out[out.length - 1] = 0x1a
  return out
}

/** The zip: NAME.shp/.shx/.dbf/.prj/.cpg and fields.csv. */
export async function zippedShapefile(units: ExportUnit[], columns: ExportColumn[], name: string): Promise<Buffer> {
  const fs = fields(units, columns)
  const { shp, shx } = shpAndShx(units)
  const zip = new yazl.ZipFile()
  zip.addBuffer(shp, `${name}.shp`)
  zip.addBuffer(shx, `${name}.shx`)
  zip.addBuffer(dbf(units, fs), `${name}.dbf`)
  zip.addBuffer(Buffer.from(CGCS2000_PRJ), `${name}.prj`)
  zip.addBuffer(Buffer.from('GBK'), `${name}.cpg`)
  const table = ['field,property,type', ...fs.map((f) => `${f.name},"${f.source.replace(/"/g, '""')}",${f.type === 'N' ? `N(${f.width};${f.decimals})` : `C(${f.width})`}`)].join('\n') + '\n'
  zip.addBuffer(Buffer.from('\ufeff' + table), 'fields.csv')
  zip.end()
  const chunks: Buffer[] = []
  for await (const c of zip.outputStream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
