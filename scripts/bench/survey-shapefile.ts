// A survey-like shapefile of any size, written as it is generated (flat memory, so 10⁶
// features are as cheap to make as 10³): a tiling of ~80 m patches in the local 3° Gauss-
// Krüger zone 39 (EPSG:4527), 29 vertices each (4 jittered corners and 6 points along each
// edge, shared vertex for vertex with the neighbour), GBK attributes as a 国土调查 export
// has them (BSM, DLBM, DLMC, QSDWMC, TBMJ). Used by ingest-bench.ts and the ingest tests.
import fs from 'node:fs'
import iconv from 'iconv-lite'
import { esriGkZonePrj } from '../sample/write-shapefile.ts'
import { shpHeader } from '../../server/results/shapefile.ts'

const CELL = 80
const X0 = 39_420_000
const Y0 = 3_250_000
const EDGE_POINTS = 6
export const SURVEY_VERTICES = 4 + 4 * EDGE_POINTS + 1
const CLASSES: [string, string][] = [['0101', '水田'], ['0103', '旱地'], ['0301', '乔木林地'], ['0305', '灌木林地'], ['0404', '其他草地'], ['1101', '河流水面'], ['0702', '农村宅基地']]
const FIELDS = [
  { name: 'BSM', type: 'N', length: 10 },
  { name: 'DLBM', type: 'C', length: 4 },
  { name: 'DLMC', type: 'C', length: 40 },
  { name: 'QSDWMC', type: 'C', length: 60 },
  { name: 'TBMJ', type: 'N', length: 16, decimals: 2 },
] as const

function hash(...xs: number[]): number {
  let h = 2166136261
  for (const x of xs) {
    h ^= x | 0
    h = Math.imul(h, 16777619)
    h ^= h >>> 13
    h = Math.imul(h, 0x5bd1e995)
    h ^= h >>> 15
  }
  return (h >>> 0) / 2 ** 32
}

function node(i: number, j: number): [number, number] {
  return [X0 + i * CELL + (hash(1, i, j) - 0.5) * 20, Y0 + j * CELL + (hash(2, i, j) - 0.5) * 20]
}

/** Points strictly between two nodes; the same points (reversed) whichever way the edge is walked. */
function edge(a: [number, number], b: [number, number], key: number[], reversed: boolean): [number, number][] {
  const pts: [number, number][] = []
  const dx = b[0] - a[0], dy = b[1] - a[1]
  const len = Math.hypot(dx, dy)
  for (let k = 1; k <= EDGE_POINTS; k++) {
    const t = k / (EDGE_POINTS + 1)
    const off = (hash(3, ...key, k) - 0.5) * 6
    pts.push([a[0] + dx * t - (dy / len) * off, a[1] + dy * t + (dx / len) * off])
  }
  return reversed ? pts.reverse() : pts
}

/** The clockwise ring of cell (i, j), closed. */
export function surveyRing(i: number, j: number): [number, number][] {
  const sw = node(i, j), nw = node(i, j + 1), ne = node(i + 1, j + 1), se = node(i + 1, j)
  // each edge keyed by its lower node and direction so both neighbours draw the same points
  const ring: [number, number][] = [sw, ...edge(sw, nw, [0, i, j], false), nw, ...edge(nw, ne, [1, i, j + 1], false), ne,
    ...edge(se, ne, [0, i + 1, j], true), se, ...edge(sw, se, [1, i, j], true), sw]
  return ring
}

export interface SurveyFile { shp: string; features: number; bytes: number }

/** Writes base.shp/.shx/.dbf/.prj/.cpg with n patches in rows of `cols`; `first` offsets the rows (one part of a province). */
export function writeSurveyShapefile(base: string, n: number, o: { cols?: number; firstRow?: number } = {}): SurveyFile {
  const cols = o.cols ?? 500
  const firstRow = o.firstRow ?? 0
  const content = 44 + 4 + 16 * SURVEY_VERTICES
  const shp = fs.openSync(base + '.shp', 'w')
  const shx = fs.openSync(base + '.shx', 'w')
  const dbf = fs.openSync(base + '.dbf', 'w')
  const recLen = 1 + FIELDS.reduce((s, f) => s + f.length, 0)
  const dbfHead = 32 + 32 * FIELDS.length + 1
  const rows = Math.ceil(n / cols)
  const bbox = [X0 - CELL, Y0 + (firstRow - 1) * CELL, X0 + (cols + 1) * CELL, Y0 + (firstRow + rows + 1) * CELL]
  const head = (len: number) => shpHeader(len, bbox)
  fs.writeSync(shp, head(100 + n * (8 + content)))
  fs.writeSync(shx, head(100 + 8 * n))
  const dh = Buffer.alloc(dbfHead)
  dh.writeUInt8(0x03, 0); dh.writeUInt8(126, 1); dh.writeUInt8(1, 2); dh.writeUInt8(1, 3)
  dh.writeUInt32LE(n, 4); dh.writeUInt16LE(dbfHead, 8); dh.writeUInt16LE(recLen, 10); dh.writeUInt8(0x4d, 29)
  FIELDS.forEach((f, i) => {
    dh.write(f.name, 32 + i * 32, 'latin1')
    dh.write(f.type, 32 + i * 32 + 11, 'latin1')
    dh.writeUInt8(f.length, 32 + i * 32 + 16)
    dh.writeUInt8('decimals' in f ? f.decimals : 0, 32 + i * 32 + 17)
  })
  dh.writeUInt8(0x0d, dbfHead - 1)
  fs.writeSync(dbf, dh)
  const CHUNK = 2000
  for (let start = 0; start < n; start += CHUNK) {
    const m = Math.min(CHUNK, n - start)
    const sb = Buffer.alloc(m * (8 + content)), xb = Buffer.alloc(8 * m), db = Buffer.alloc(m * recLen, 0x20)
    for (let r = 0; r < m; r++) {
      const k = start + r
      const i = k % cols, j = firstRow + Math.floor(k / cols)
      const ring = surveyRing(i, j)
      let o = r * (8 + content)
      xb.writeInt32BE((100 + k * (8 + content)) / 2, 8 * r)
      xb.writeInt32BE(content / 2, 8 * r + 4)
      sb.writeInt32BE(k + 1, o); sb.writeInt32BE(content / 2, o + 4); o += 8
      let a = 0
      const xs = ring.map((p) => p[0]), ys = ring.map((p) => p[1])
      sb.writeInt32LE(5, o)
      ;[Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].forEach((v, q) => sb.writeDoubleLE(v, o + 4 + q * 8))
      sb.writeInt32LE(1, o + 36); sb.writeInt32LE(ring.length, o + 40); sb.writeInt32LE(0, o + 44)
      o += 48
      for (let q = 0; q < ring.length; q++) {
        sb.writeDoubleLE(ring[q]![0], o); sb.writeDoubleLE(ring[q]![1], o + 8); o += 16
        if (q > 0) a += ring[q - 1]![0] * ring[q]![1] - ring[q]![0] * ring[q - 1]![1]
      }
      const [code, name] = CLASSES[Math.floor(hash(4, i, j) * CLASSES.length)]!
      let d = r * recLen + 1
      const put = (s: Buffer, len: number) => { s.subarray(0, len).copy(db, d); d += len }
      put(Buffer.from(String(k + 1).padStart(10), 'latin1'), 10)
      put(Buffer.from(code, 'latin1'), 4)
      put(iconv.encode(name, 'gbk'), 40)
      put(iconv.encode(`第${(j % 97) + 1}村民委员会`, 'gbk'), 60)
      put(Buffer.from(Math.abs(a / 2).toFixed(2).padStart(16), 'latin1'), 16)
    }
    fs.writeSync(shp, sb); fs.writeSync(shx, xb); fs.writeSync(dbf, db)
  }
  fs.writeSync(dbf, Buffer.from([0x1a]))
  for (const fd of [shp, shx, dbf]) fs.closeSync(fd)
  fs.writeFileSync(base + '.prj', esriGkZonePrj(39))
  fs.writeFileSync(base + '.cpg', 'GBK')
  return { shp: base + '.shp', features: n, bytes: fs.statSync(base + '.shp').size }
}
