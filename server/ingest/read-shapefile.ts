import fs from 'node:fs'
import path from 'node:path'
import * as shapefile from 'shapefile'
import type { Geometry } from 'geojson'
import { BadInput } from '../errors.ts'
import type { ReadOptions, SourceFeature, VectorSource } from './source.ts'
import { dbfRecords, shpPolygons } from './shp-records.ts'

const SHAPE_TYPES: Record<number, string> = {
  0: 'Null', 1: 'Point', 3: 'PolyLine', 5: 'Polygon', 8: 'MultiPoint', 11: 'PointZ', 13: 'PolyLineZ',
  15: 'PolygonZ', 18: 'MultiPointZ', 21: 'PointM', 23: 'PolyLineM', 25: 'PolygonM', 28: 'MultiPointM', 31: 'MultiPatch',
}
const POLYGONAL = new Set([5, 15, 25])
const PUNCTUAL = new Set([1, 11, 21, 8, 18, 28])

// dBASE language driver ids that mean GBK / code page 936 (ArcGIS writes 0x4D; 0x7A also seen).
const LDID_GBK = new Set([0x4d, 0x7a])

/**
 * Opens a shapefile (.shp + .dbf, optional .shx/.prj/.cpg) after checking the headers
 * against the file sizes, so truncated or mismatched files fail before anything loads.
 * Records then stream; memory stays flat whatever the file size.
 */
export async function openShapefile(shpPath: string, opts: ReadOptions, displayName = path.basename(shpPath)): Promise<VectorSource> {
  const sib = siblings(shpPath)
  const name = displayName
  if (!sib.dbf) throw new BadInput(`${name}: the .dbf file is missing next to the .shp; a shapefile needs .shp, .dbf (and .prj)`)

  const shpSize = fs.statSync(shpPath).size
  if (shpSize === 0) throw new BadInput(`${name}: the file is empty`)
  if (shpSize > opts.maxBytes) throw new BadInput(`${name}: ${shpSize} bytes is over the limit of ${opts.maxBytes}`)
  if (shpSize < 100) throw new BadInput(`${name}: only ${shpSize} bytes, shorter than a shapefile header (100); the file is truncated or not a shapefile`)
  const head = readBytes(shpPath, 0, 100)
  if (head.readInt32BE(0) !== 9994) throw new BadInput(`${name}: not a shapefile (file code ${head.readInt32BE(0)}, expected 9994)`)
  const declared = head.readInt32BE(24) * 2
  if (declared > shpSize) throw new BadInput(`${name}: truncated: the header declares ${declared} bytes but the file has ${shpSize}`)
  const shapeType = head.readInt32LE(32)
  if (opts.geometry === 'point' ? !PUNCTUAL.has(shapeType) : !POLYGONAL.has(shapeType)) {
    throw new BadInput(opts.geometry === 'point'
      ? `${name}: holds ${SHAPE_TYPES[shapeType] ?? `shape type ${shapeType}`} geometry; monitoring sections are points (Point, PointZ, PointM)`
      : `${name}: holds ${SHAPE_TYPES[shapeType] ?? `shape type ${shapeType}`} geometry; layers and units need polygons (Polygon, PolygonZ, PolygonM)`)
  }

  const dbf = checkDbf(sib.dbf, name)
  if (sib.shx) {
    const shxSize = fs.statSync(sib.shx).size
    const shxRecords = Math.max(0, (shxSize - 100) / 8)
    if (Number.isInteger(shxRecords) && shxRecords !== dbf.records) {
      throw new BadInput(`${name}: the .shp index (.shx) lists ${shxRecords} records but the .dbf has ${dbf.records}; the files do not belong together or one is truncated`)
    }
  }

  const cpg = sib.cpg ? fs.readFileSync(sib.cpg, 'utf8').trim() : undefined
  const encoding = normaliseEncoding(opts.encoding ?? cpg ?? (LDID_GBK.has(dbf.ldid) ? 'gbk' : 'utf-8'), name)
  const prj = sib.prj ? fs.readFileSync(sib.prj, 'utf8') : undefined

  let source: Awaited<ReturnType<typeof shapefile.open>> | undefined
  return {
    format: 'shapefile',
    file: name,
    fields: dbf.fieldNames.map((b) => new TextDecoder(encoding).decode(b).trim()),
    crs: prj !== undefined ? { wkt: prj, from: `${path.basename(sib.prj!)}` } : undefined,
    encoding,
    expectedCount: dbf.records,
    async *features(signal) {
      if (POLYGONAL.has(shapeType)) {
        yield* fastPolygons(shpPath, sib.dbf!, name, declared, shapeType, encoding, dbf.records, signal)
        return
      }
      try {
        source = await shapefile.open(shpPath, sib.dbf!, { encoding })
      } catch (err) {
        throw new BadInput(`${name}: the .shp or .dbf header cannot be read (${(err as Error).message}); the files are damaged`)
      }
      let index = 0
      for (;;) {
        signal?.throwIfAborted()
        let step: { done: boolean; value: GeoJSON.Feature }
        try {
          step = await source.read()
        } catch (err) {
          throw new BadInput(`${name}: record ${index + 1} cannot be read (${(err as Error).message}); the .shp is damaged`)
        }
        if (step.done) break
        const attributes = (step.value.properties ?? {}) as Record<string, unknown>
        storable(attributes, name, index, encoding)
        yield { index, attributes, geometry: (step.value.geometry as Geometry | null) ?? null } satisfies SourceFeature
        index++
      }
      checkCount(index, dbf.records, name)
    },
    async close() {
      await source?.cancel().catch(() => undefined)
    },
  }
}

/** A polygon shapefile through shp-records.ts: geometry as flat rings, attributes as the `shapefile` package decodes them. */
async function* fastPolygons(shp: string, dbfFile: string, name: string, declared: number, shapeType: number, encoding: string, records: number, signal?: AbortSignal): AsyncGenerator<SourceFeature> {
  const geoms = shpPolygons(shp, name, declared, shapeType, signal)
  const attrs = dbfRecords(dbfFile, name, encoding, signal)
  let index = 0
  for await (const flat of geoms) {
    const a = await attrs.next()
    const attributes = (a.done ? {} : a.value) as Record<string, unknown>
    storable(attributes, name, index, encoding)
    yield { index, attributes, geometry: null, flat: flat ?? undefined }
    index++
  }
  await attrs.return(undefined)
  checkCount(index, records, name)
}

/** A record's attributes checked to have decoded, with NUL taken out: it cannot be stored in PostgreSQL text or jsonb, and in a .dbf it is padding or damage. */
function storable(attributes: Record<string, unknown>, name: string, index: number, encoding: string): void {
  checkDecoded(attributes, name, index, encoding)
  for (const [k, v] of Object.entries(attributes)) if (typeof v === 'string' && v.includes('\u0000')) attributes[k] = v.replace(/\u0000+/g, '')
}

function checkCount(shpRecords: number, dbfRecords: number, name: string): void {
  if (shpRecords !== dbfRecords) {
    throw new BadInput(`${name}: the .shp has ${shpRecords} records but the .dbf has ${dbfRecords}; the files do not belong together or one is truncated`)
  }
}

interface DbfHeader { records: number; fieldNames: Buffer[]; ldid: number }

function checkDbf(dbfPath: string, name: string): DbfHeader {
  const size = fs.statSync(dbfPath).size
  if (size < 33) throw new BadInput(`${name}: the .dbf is only ${size} bytes; it is truncated`)
  const head = readBytes(dbfPath, 0, 32)
  const records = head.readUInt32LE(4)
  const headerLength = head.readUInt16LE(8)
  const recordLength = head.readUInt16LE(10)
  const expected = headerLength + records * recordLength
  if (headerLength < 33 || recordLength < 1 || headerLength > size) throw new BadInput(`${name}: the .dbf header is damaged (header length ${headerLength}, record length ${recordLength})`)
  if (size < expected) {
    throw new BadInput(`${name}: the .dbf is truncated: its header declares ${records} records (${expected} bytes) but the file has ${size} bytes`)
  }
  const desc = readBytes(dbfPath, 32, headerLength - 32)
  const fieldNames: Buffer[] = []
  for (let o = 0; o + 32 <= desc.length && desc[o] !== 0x0d; o += 32) {
    const raw = desc.subarray(o, o + 11)
    const end = raw.indexOf(0)
    fieldNames.push(end >= 0 ? raw.subarray(0, end) : raw)
  }
  return { records, fieldNames, ldid: head[29]! }
}

const ENCODING_ALIASES: Record<string, string> = {
  '936': 'gbk', cp936: 'gbk', 'ansi 936': 'gbk', gb2312: 'gbk', gb18030: 'gb18030', gbk: 'gbk',
  '65001': 'utf-8', utf8: 'utf-8', 'utf-8': 'utf-8', '1252': 'windows-1252', 'ansi 1252': 'windows-1252', big5: 'big5', '950': 'big5',
}

export function normaliseEncoding(label: string, name: string): string {
  const key = label.trim().toLowerCase()
  const enc = ENCODING_ALIASES[key] ?? key
  try {
    new TextDecoder(enc)
  } catch {
    throw new BadInput(`${name}: unknown text encoding '${label}'; use one of UTF-8, GBK, GB18030, BIG5, windows-1252`)
  }
  return enc
}

/** A decoder meeting bytes that are not in its encoding emits U+FFFD: say which encoding to try. */
function checkDecoded(attrs: Record<string, unknown>, name: string, index: number, encoding: string): void {
  for (const [field, value] of Object.entries(attrs)) {
    if (typeof value === 'string' && value.includes('\uFFFD')) {
      const hint = encoding === 'gbk' ? 'pass --encoding UTF-8 (or the right one)' : 'Chinese data are often GBK: pass --encoding GBK or add a .cpg file'
      throw new BadInput(`${name}: field ${field} of record ${index + 1} is not valid ${encoding.toUpperCase()} text; ${hint}`)
    }
  }
}

function siblings(shpPath: string): { dbf?: string; shx?: string; prj?: string; cpg?: string } {
  const dir = path.dirname(shpPath)
  const base = path.basename(shpPath).replace(/\.shp$/i, '').toLowerCase()
  const out: Record<string, string> = {}
  for (const f of fs.readdirSync(dir)) {
    const m = /^(.*)\.(dbf|shx|prj|cpg)$/i.exec(f)
    if (m && m[1]!.toLowerCase() === base) out[m[2]!.toLowerCase()] = path.join(dir, f)
  }
  return out
}

function readBytes(file: string, pos: number, len: number): Buffer {
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.alloc(len)
    const n = fs.readSync(fd, buf, 0, len, pos)
    return buf.subarray(0, n)
  } finally {
    fs.closeSync(fd)
  }
}

