// A land-cover layer (三调 图斑 with their category) as classes on the model grid, for GEP:
// each pixel takes the category of the feature that covers the largest part of it (exact
// fractions, the zonal engine's clipping), and has no data where features cover less than
// half of it. The result is the kernel's class raster, held in memory shared with the scan
// threads (0: no data; category k of the mapping: k + 1).
import type { Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import { wkbPolygons, widenBox } from '../geom/wkb.ts'
import { coverageDeltas } from '../raster/coverage-fraction.ts'
import type { SourceSpec } from '../raster/raster-store.ts'
import { pixelUnits, type ZonalGrid } from '../raster/zonal-job.ts'

export const RASTERIZE_METHOD = 'rasterized onto the model grid: each pixel takes the category of the feature covering the largest part of it (exact fractions); no data where features cover less than half'

const toBytes = (b: Uint8Array | Buffer) => (b instanceof Uint8Array ? b : new Uint8Array(b))

/** Categories of a layer's features and how many features have none. */
export async function layerCategories(db: Queryable, layerId: number): Promise<{ categories: string[]; uncategorized: number }> {
  const rows = await db.query<{ category: string | null; n: number }>('SELECT category, count(*)::int AS n FROM feature WHERE layer_id = $1 GROUP BY category ORDER BY category', [layerId])
  return { categories: rows.filter((r) => r.category !== null).map((r) => r.category!), uncategorized: rows.find((r) => r.category === null)?.n ?? 0 }
}

/** The layer's categories as class codes (index in `classes` + 1) on the grid. */
export async function rasterizeLayer(db: Queryable, layerId: number, grid: ZonalGrid, classes: string[], signal?: AbortSignal): Promise<Extract<SourceSpec, { op: 'array' }>> {
  const code = new Map(classes.map((c, i) => [c, i + 1]))
  const [w, s, e, n] = grid.extent
  const rows = await db.query<{ category: string | null; wkb: Uint8Array }>(
    'SELECT category, ST_AsBinary(geom) AS wkb FROM feature WHERE layer_id = $1 AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4490) ORDER BY id', [layerId, w, s, e, n])
  const polygons: Float64Array[][][] = []
  const boxes = new Float64Array(4 * rows.length)
  const codes: number[] = []
  rows.forEach((r, i) => {
    const c = r.category === null ? undefined : code.get(r.category)
    if (c === undefined) throw new BadInput(`ecosystem layer: category ${JSON.stringify(r.category)} is not in ecosystem.classes; map it to a type or to null`)
    const polys = wkbPolygons(toBytes(r.wkb))
    const box = boxes.subarray(4 * i, 4 * i + 4)
    box.set([Infinity, Infinity, -Infinity, -Infinity])
    for (const p of polys) for (const ring of p) widenBox(ring, box)
    polygons.push(polys)
    codes.push(c)
  })
  const { inside } = pixelUnits({ ids: rows.map((_, i) => String(i)), polygons, boxes }, grid)
  const size = grid.width * grid.height
  const data = new SharedArrayBuffer(size * 4)
  const cls = new Uint32Array(data)
  const best = new Float32Array(size)
  const total = new Float32Array(size)
  let d = new Float64Array(0)
  for (const u of inside) {
    if (signal?.aborted) throw signal.reason
    const c = codes[Number(u.id)]!
    const ww = u.c1 - u.c0
    const hh = u.r1 - u.r0
    if (d.length < hh * (ww + 1)) d = new Float64Array(hh * (ww + 1))
    coverageDeltas(u.rings, u.r0, u.r1, u.c0, u.c1, d)
    for (let r = 0; r < hh; r++) {
      let f = 0
      const base = (u.r0 + r) * grid.width + u.c0
      for (let k = 0; k < ww; k++) {
        f += d[r * (ww + 1) + k]!
        if (f <= 1e-12) continue
        const p = base + k
        total[p] += f
        if (f > best[p]!) { best[p] = f; cls[p] = c }
      }
    }
  }
  for (let p = 0; p < size; p++) if (total[p]! < 0.5) cls[p] = 0
  return { op: 'array', type: 'uint32', data, width: grid.width, height: grid.height, transform: grid.transform }
}
