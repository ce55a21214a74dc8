// A small streaming GeoTIFF writer for generated test and benchmark rasters: striped or
// tiled, uncompressed, DEFLATE or PackBits, 8/16/32-bit integer or 32/64-bit float,
// several bands (band- or pixel-interleaved), any GeoKeys, GDAL nodata. Blocks are
// generated and written one at a time, so a raster of any size needs one block of memory.
// (Reading is geotiff.js's job in ecocensus; this is only how tests and benchmarks make
// inputs with values known in advance.)
import fs from 'node:fs'
import zlib from 'node:zlib'

export type WriteType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64'

export interface GeoTiffSpec {
  width: number
  height: number
  bands?: number
  type: WriteType
  /** tiles of this size (multiple of 16); else strips of rowsPerStrip rows */
  tile?: number
  rowsPerStrip?: number
  compression?: 'none' | 'deflate' | 'packbits'
  /** 'band': each band in its own blocks (PlanarConfiguration 2); 'pixel': interleaved */
  planar?: 'band' | 'pixel'
  /** GDAL geotransform; rotation terms (t[2], t[4]) are written as ModelTransformation */
  transform: [number, number, number, number, number, number]
  /** GeoKey id or name → number or string */
  geoKeys: Record<string, number | string>
  nodata?: number
}

const KEY_IDS: Record<string, number> = {
  GTModelTypeGeoKey: 1024, GTRasterTypeGeoKey: 1025, GTCitationGeoKey: 1026, GeographicTypeGeoKey: 2048, GeogCitationGeoKey: 2049,
  GeogAngularUnitsGeoKey: 2054, GeogSemiMajorAxisGeoKey: 2057, GeogInvFlatteningGeoKey: 2059, ProjectedCSTypeGeoKey: 3072,
  ProjectionGeoKey: 3074, ProjCoordTransGeoKey: 3075, ProjLinearUnitsGeoKey: 3076, ProjStdParallel1GeoKey: 3078, ProjStdParallel2GeoKey: 3079,
  ProjNatOriginLongGeoKey: 3080, ProjNatOriginLatGeoKey: 3081, ProjFalseEastingGeoKey: 3082, ProjFalseNorthingGeoKey: 3083, ProjScaleAtNatOriginGeoKey: 3092,
}
// keys whose numeric values are doubles (GeoDoubleParams), the rest are SHORT
const DOUBLE_KEYS = new Set([2057, 2059, 3078, 3079, 3080, 3081, 3082, 3083, 3092])

const TYPES: Record<WriteType, { bits: number; format: number; array: new (n: number) => ArrayLike<number> & { buffer: ArrayBufferLike; byteLength: number } }> = {
  uint8: { bits: 8, format: 1, array: Uint8Array }, int8: { bits: 8, format: 2, array: Int8Array },
  uint16: { bits: 16, format: 1, array: Uint16Array }, int16: { bits: 16, format: 2, array: Int16Array },
  uint32: { bits: 32, format: 1, array: Uint32Array }, int32: { bits: 32, format: 2, array: Int32Array },
  float32: { bits: 32, format: 3, array: Float32Array }, float64: { bits: 64, format: 3, array: Float64Array },
}

/** value(band, row, col) for every pixel; bands 0-based. */
export type PixelFn = (band: number, row: number, col: number) => number

export function writeGeoTiff(file: string, s: GeoTiffSpec, value: PixelFn): void {
  const bands = s.bands ?? 1
  const t = TYPES[s.type]
  const planar = s.planar ?? 'band'
  const tiled = s.tile !== undefined
  const bw = tiled ? s.tile! : s.width
  const bh = tiled ? s.tile! : Math.min(s.height, s.rowsPerStrip ?? Math.max(1, Math.floor(8192 / Math.max(1, s.width * (t.bits / 8)))))
  const across = Math.ceil(s.width / bw)
  const down = Math.ceil(s.height / bh)
  const fd = fs.openSync(file, 'w')
  try {
    let pos = 8
    const write = (b: Uint8Array) => {
      fs.writeSync(fd, b, 0, b.length, pos)
      pos += b.length
    }
    const offsets: number[] = []
    const counts: number[] = []
    const samples = planar === 'band' ? 1 : bands
    for (let p = 0; p < (planar === 'band' ? bands : 1); p++) {
      for (let by = 0; by < down; by++) {
        for (let bx = 0; bx < across; bx++) {
          const rows = tiled ? bh : Math.min(bh, s.height - by * bh)
          const block = new t.array(bw * rows * samples) as unknown as Record<number, number> & { buffer: ArrayBufferLike; byteLength: number }
          for (let r = 0; r < rows; r++) {
            const row = by * bh + r
            for (let c = 0; c < bw; c++) {
              const col = bx * bw + c
              for (let k = 0; k < samples; k++) {
                const band = planar === 'band' ? p : k
                block[(r * bw + c) * samples + k] = row < s.height && col < s.width ? value(band, row, col) : 0
              }
            }
          }
          let bytes = new Uint8Array(block.buffer, 0, block.byteLength)
          if (s.compression === 'deflate') bytes = zlib.deflateSync(bytes)
          else if (s.compression === 'packbits') bytes = packBits(bytes)
          if (pos % 2) write(new Uint8Array(1))
          offsets.push(pos)
          counts.push(bytes.length)
          write(bytes)
        }
      }
    }
    // GeoKeys
    const keys = Object.entries(s.geoKeys).map(([k, v]) => [KEY_IDS[k] ?? Number(k), v] as const).sort((a, b) => a[0] - b[0])
    const dir: number[] = [1, 1, 0, keys.length]
    const doubles: number[] = []
    let ascii = ''
    for (const [id, v] of keys) {
      if (typeof v === 'string') {
        dir.push(id, 34737, v.length + 1, ascii.length)
        ascii += v + '|'
      } else if (DOUBLE_KEYS.has(id)) {
        dir.push(id, 34736, 1, doubles.length)
        doubles.push(v)
      } else dir.push(id, 0, 1, v)
    }
    const tr = s.transform
    const entries: [number, number, number[] | string][] = [
      [256, 4, [s.width]], [257, 4, [s.height]], [258, 3, new Array(bands).fill(t.bits)],
      [259, 3, [s.compression === 'deflate' ? 8 : s.compression === 'packbits' ? 32773 : 1]], [262, 3, [1]],
      ...(tiled ? [] : [[273, 4, offsets] as [number, number, number[]]]),
      [277, 3, [bands]],
      ...(tiled ? [] : [[278, 4, [bh]] as [number, number, number[]], [279, 4, counts] as [number, number, number[]]]),
      [284, 3, [planar === 'band' ? 2 : 1]],
      ...(tiled ? [[322, 4, [bw]], [323, 4, [bh]], [324, 4, offsets], [325, 4, counts]] as [number, number, number[]][] : []),
      ...(bands > 1 ? [[338, 3, new Array(bands - 1).fill(0)]] as [number, number, number[]][] : []),
      [339, 3, new Array(bands).fill(t.format)],
      ...(tr[2] === 0 && tr[4] === 0
        ? [[33550, 12, [tr[1], -tr[5], 0]], [33922, 12, [0, 0, 0, tr[0], tr[3], 0]]] as [number, number, number[]][]
        : [[34264, 12, [tr[1], tr[2], 0, tr[0], tr[4], tr[5], 0, tr[3], 0, 0, 0, 0, 0, 0, 0, 1]]] as [number, number, number[]][]),
      [34735, 3, dir],
      ...(doubles.length ? [[34736, 12, doubles]] as [number, number, number[]][] : []),
      ...(ascii ? [[34737, 2, ascii]] as [number, number, string][] : []),
      ...(s.nodata !== undefined ? [[42113, 2, String(s.nodata)]] as [number, number, string][] : []),
    ]
    entries.sort((a, b) => a[0] - b[0])
    if (pos % 2) write(new Uint8Array(1))
    const ifd = pos
    const size = { 2: 1, 3: 2, 4: 4, 12: 8 } as Record<number, number>
    let extra = ifd + 2 + entries.length * 12 + 4
    const head = Buffer.alloc(2 + entries.length * 12 + 4)
    const tail: Buffer[] = []
    head.writeUInt16LE(entries.length, 0)
    entries.forEach(([tag, type, vals], i) => {
      const o = 2 + i * 12
      const data = typeof vals === 'string' ? Buffer.from(vals + '\0', 'latin1') : encode(type, vals)
      const count = typeof vals === 'string' ? data.length : vals.length
      head.writeUInt16LE(tag, o)
      head.writeUInt16LE(type, o + 2)
      head.writeUInt32LE(count, o + 4)
      if (data.length <= 4) data.copy(head, o + 8)
      else {
        head.writeUInt32LE(extra, o + 8)
        const padded = data.length % 2 ? Buffer.concat([data, Buffer.alloc(1)]) : data
        tail.push(padded)
        extra += padded.length
      }
      void size
    })
    head.writeUInt32LE(0, 2 + entries.length * 12)
    write(head)
    for (const b of tail) write(b)
    const header = Buffer.alloc(8)
    header.write('II', 0, 'latin1')
    header.writeUInt16LE(42, 2)
    header.writeUInt32LE(ifd, 4)
    fs.writeSync(fd, header, 0, 8, 0)
  } finally {
    fs.closeSync(fd)
  }
}

function encode(type: number, vals: number[]): Buffer {
  const b = Buffer.alloc(vals.length * ({ 3: 2, 4: 4, 12: 8 } as Record<number, number>)[type]!)
  vals.forEach((v, i) => {
    if (type === 3) b.writeUInt16LE(v, i * 2)
    else if (type === 4) b.writeUInt32LE(v, i * 4)
    else b.writeDoubleLE(v, i * 8)
  })
  return b
}

/** PackBits (TIFF compression 32773). */
export function packBits(src: Uint8Array): Uint8Array {
  const out: number[] = []
  let i = 0
  while (i < src.length) {
    let run = 1
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++
    if (run > 1) {
      out.push(257 - run, src[i]!)
      i += run
      continue
    }
    const start = i
    let lit = 0
    while (i < src.length && lit < 128 && !(i + 1 < src.length && src[i + 1] === src[i])) {
      i++
      lit++
    }
    if (lit === 0) {
      i++
      lit = 1
    }
    out.push(lit - 1, ...src.subarray(start, start + lit))
  }
  return Uint8Array.from(out)
}

/** GeoKeys of common CRSs for generated rasters. */
export const GEOKEYS = {
  epsg: (code: number, geographic = false): Record<string, number> =>
    geographic ? { GTModelTypeGeoKey: 2, GTRasterTypeGeoKey: 1, GeographicTypeGeoKey: code, GeogAngularUnitsGeoKey: 9102 }
      : { GTModelTypeGeoKey: 1, GTRasterTypeGeoKey: 1, ProjectedCSTypeGeoKey: code, ProjLinearUnitsGeoKey: 9001 },
  /** China Albers equal-area (ALBERS-CN: lon_0 105, lat_1 25, lat_2 47, CGCS2000) as a user-defined projection */
  albersCn: (): Record<string, number | string> => ({
    GTModelTypeGeoKey: 1, GTRasterTypeGeoKey: 1, GTCitationGeoKey: 'China Albers', GeographicTypeGeoKey: 4490, GeogAngularUnitsGeoKey: 9102,
    ProjectedCSTypeGeoKey: 32767, ProjectionGeoKey: 32767, ProjCoordTransGeoKey: 11, ProjLinearUnitsGeoKey: 9001,
    ProjStdParallel1GeoKey: 25, ProjStdParallel2GeoKey: 47, ProjNatOriginLatGeoKey: 0, ProjNatOriginLongGeoKey: 105, ProjFalseEastingGeoKey: 0, ProjFalseNorthingGeoKey: 0,
  }),
}
