import type { Db } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import { CHINA_ALBERS } from '../crs/registry.ts'
import { resolveCrs } from '../crs/resolve.ts'
import { reprojector } from '../crs/reproject.ts'
import { checkName } from '../ingest/names.ts'
import { cellCode, cellRange, cellRing, segmentsFor } from './grid.ts'
import { claimUnitSetName, unitSetId } from './unit-set.ts'
import { catalogChanged } from '../catalog/generation.ts'

const CLIP_GRID = loadSql(import.meta.url, './clip-grid.sql')
export const MAX_CELLS = 2_000_000
const BATCH = 500

export interface GridOptions {
  set: string
  sizeM: number
  /** projected CRS the squares are laid out in; default China Albers equal-area */
  crs?: string
  /** clip to this unit set */
  within?: string
  /** lon/lat box in EPSG:4490 degrees, when not --within */
  bbox?: [number, number, number, number]
  replace?: boolean
  /** who builds it (audit) */
  actor?: string
  signal?: AbortSignal
  progress?: (done: number, total: number | undefined) => void
}

export async function buildGrid(db: Db, o: GridOptions) {
  const set = checkName(o.set, 'unit set name')
  if (!Number.isInteger(o.sizeM) || o.sizeM < 1 || o.sizeM > 1_000_000) throw new BadInput(`--size ${o.sizeM}: give whole metres from 1 to 1000000 (GB/T 12409 sizes: 10, 100, 1000, 10000, 100000)`)
  if (!o.within === !o.bbox) throw new BadInput('give exactly one of --within UNITSET or --bbox minlon,minlat,maxlon,maxlat')
  const crs = o.crs ? await resolveCrs(o.crs, db, '--crs') : CHINA_ALBERS
  if (crs.geographic) throw new BadInput(`--crs ${crs.id} is geographic; a grid in metres needs a projected CRS (default: China Albers equal-area)`)
  const rp = reprojector(crs)

  let lonlat: [number, number, number, number]
  let withinId: number | undefined
  if (o.within) {
    withinId = await unitSetId(db, o.within)
    const [e] = await db.query<{ x0: number; y0: number; x1: number; y1: number }>(
      'SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 FROM (SELECT ST_Extent(geom)::geometry AS e FROM unit WHERE set_id = $1) s',
      [withinId],
    )
    lonlat = [e!.x0, e!.y0, e!.x1, e!.y1]
  } else {
    lonlat = o.bbox!
    const [a, b, c, d] = lonlat
    if (![a, b, c, d].every(Number.isFinite) || a >= c || b >= d || a < -180 || c > 180 || b < -90 || d > 90) {
      throw new BadInput(`--bbox ${lonlat.join(',')}: give minlon,minlat,maxlon,maxlat in degrees (EPSG:4490), min < max`)
    }
  }
  const box = projectedBox(lonlat, (lon, lat) => rp.fromStorage(lon, lat))
  const { i0, i1, j0, j1 } = cellRange(box, o.sizeM)
  const total = (i1 - i0 + 1) * (j1 - j0 + 1)
  if (total > MAX_CELLS) throw new BadInput(`a ${o.sizeM} m grid over that extent has ${total} cells, more than ${MAX_CELLS}; use a larger --size or a smaller extent`)

  const segments = segmentsFor(o.sizeM)
  // a new or replaced set: memoised lookups by name look again once it has committed
  return db.transaction(async (tx) => {
    const replaced = await claimUnitSetName(tx, set, o.replace, o.actor)
    const params = { sizeM: o.sizeM, crs: crs.id, proj4: crs.proj4, codeScheme: 'G<size>_<E|W><i>_<N|S><j>, cell (i,j) = [i*size,(i+1)*size) x [j*size,(j+1)*size) in crs', within: o.within ?? null, bbox: o.bbox ?? null, edgeSegments: segments }
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO unit_set (name, kind, params, source_crs, unit_count, report, created_by) VALUES ($1, 'grid', $2, $3, 0, '{}', $4) RETURNING id`,
      [set, JSON.stringify(params), crs.id, o.actor ?? null],
    )
    const setId = row!.id
    await tx.query('CREATE TEMP TABLE grid_stage (code text, geom geometry(Polygon, 4490)) ON COMMIT DROP')
    let batch: string[][] = []
    let done = 0
    const flush = async () => {
      if (!batch.length) return
      const values = batch.map((_, k) => `($${k * 2 + 1}, ST_SetSRID(ST_GeomFromGeoJSON($${k * 2 + 2}), 4490))`).join(', ')
      await tx.query(`INSERT INTO grid_stage (code, geom) VALUES ${values}`, batch.flat(), { signal: o.signal })
      done += batch.length
      o.progress?.(done, total)
      batch = []
    }
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        const cell = { size: o.sizeM, i, j }
        const ring = cellRing(cell, segments).map(([x, y]) => rp.toStorage(x, y, `grid cell ${cellCode(cell)}`))
        batch.push([cellCode(cell), JSON.stringify({ type: 'Polygon', coordinates: [ring] })])
        if (batch.length >= BATCH) await flush()
      }
    }
    await flush()
    if (withinId !== undefined) {
      await tx.query('CREATE INDEX ON grid_stage USING gist (geom)')
      await tx.query(CLIP_GRID, [setId, withinId], { signal: o.signal })
    } else {
      await tx.query(
        `WITH ins AS (INSERT INTO unit (set_id, code, name, geom, area_m2)
           SELECT $1, code, code, ST_Multi(geom), ST_Area(geom::geography) FROM grid_stage RETURNING 1)
         SELECT count(*)::int AS n FROM ins`,
        [setId],
      )
    }
    const [n] = await tx.query<{ n: number }>('UPDATE unit_set SET unit_count = (SELECT count(*) FROM unit WHERE set_id = $1) WHERE id = $1 RETURNING unit_count AS n', [setId])
    return { setId, set, replaced, cellsGenerated: total, loaded: n!.n, ...params }
  }).finally(catalogChanged)
}

/** Bounding box in grid coordinates of a lon/lat box, sampling its edges (they curve once projected). */
export function projectedBox(b: [number, number, number, number], fwd: (lon: number, lat: number) => [number, number]): [number, number, number, number] {
  const [w, s, e, n] = b
  let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity
  const N = 64
  for (let k = 0; k <= N; k++) {
    const t = k / N
    for (const [lon, lat] of [[w + (e - w) * t, s], [w + (e - w) * t, n], [w, s + (n - s) * t], [e, s + (n - s) * t]] as [number, number][]) {
      const [x, y] = fwd(lon, lat)
      minx = Math.min(minx, x); maxx = Math.max(maxx, x); miny = Math.min(miny, y); maxy = Math.max(maxy, y)
    }
  }
  return [minx, miny, maxx, maxy]
}
