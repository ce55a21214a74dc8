// Vector tile sources: what `/tiles/{source}/{z}/{x}/{y}.mvt` draws, resolved against the
// catalogue to exact input versions. The resolved `version` names those versions (ids and
// checksums, and the statistics run if any), so a cache keyed by it never serves a tile of
// data that has since been replaced.
//
//   layer:NAME[@VINTAGE]        a layer's features (latest vintage without @)
//   units:SET[?run=ID]          a unit set; with a done run of that set, its per-unit
//                               statistics as feature properties (choropleths)
//   change:NAME@FROM,TO         gained and lost area of a layer between two vintages
import { performance } from 'node:perf_hooks'
import type { Queryable } from '../db/db.ts'
import { catalogGeneration } from '../catalog/generation.ts'
import { BadInput, NotFound } from '../errors.ts'
import { exportableOf } from '../results/kinds.ts'
import { getRun } from '../runs/run-store.ts'
import { selectLayers, type LayerVersion } from '../catalog/layer-select.ts'
import { CURRENT } from '../catalog/versions.ts'
import { current, slot } from '../scoped.ts'

export type SourceKind = 'layer' | 'units' | 'change'

export interface VectorSource {
  id: string
  kind: SourceKind
  /** MVT layer name inside the tile */
  layerName: 'features' | 'units' | 'change'
  /** input versions; part of every cache key */
  version: string
  /** ids the SQL takes: layer id, unit set id, or [from, to] layer ids */
  ids: number[]
  /** units sources: the GB/T 2260 prefixes a scoped key may see (scopedSource); absent = all */
  scope?: string[]
  /** per-unit statistics (units with a run): code → properties */
  stats?: Map<string, Record<string, number | string | null>>
  runId?: number
  /** lon/lat extent [w, s, e, n] */
  bounds: [number, number, number, number] | null
  /** property name → type, for TileJSON */
  fields: Record<string, string>
  description: string
}

const NAME = '[\\p{L}\\p{N}_.-]{1,64}'
const VINTAGE = '[0-9A-Za-z_.-]{1,32}'
const PATTERNS: [SourceKind, RegExp][] = [
  ['layer', new RegExp(`^layer:(${NAME})(?:@(${VINTAGE}))?$`, 'u')],
  ['units', new RegExp(`^units:(${NAME})$`, 'u')],
  ['change', new RegExp(`^change:(${NAME})@(${VINTAGE}),(${VINTAGE})$`, 'u')],
]

type RunStats = { setId: number; kind: string; stats: Map<string, Record<string, number | string | null>> }
/**
 * Statistics of done runs never change: a runtime keeps those of its last 64 runs drawn, per
 * run id (small: one object per unit). A runtime has one database, so run ids do not collide.
 */
export class RunStatsCache {
  readonly byRun = new Map<number, RunStats>()
  constructor(readonly size = 64) {}
}
/** The cache of the work in progress; unbound: none. */
export const RUN_STATS = slot('tile run statistics', new RunStatsCache(0))

/** The source as of now. Bounds (a scan of the geometry's boxes) only when asked for. */
export async function resolveSource(db: Queryable, id: string, runParam?: string, o: { bounds?: boolean } = {}): Promise<VectorSource> {
  const extentOf = o.bounds ? extentQuery : async (_db: Queryable, _sql: string, _params: unknown[]) => null
  const hit = PATTERNS.map(([kind, re]) => [kind, re.exec(id)] as const).find(([, m]) => m)
  if (!hit) throw new BadInput(`tile source '${id.slice(0, 100)}' is not layer:NAME[@VINTAGE], units:SET or change:NAME@FROM,TO`)
  const [kind, m] = hit as [SourceKind, RegExpExecArray]
  if (runParam !== undefined && kind !== 'units') throw new BadInput(`run= applies to units:SET sources only`)
  if (kind === 'layer') {
    const [l] = await selectLayers(db, m[2] ? `${m[1]}@${m[2]}` : m[1])
    return {
      id, kind, layerName: 'features', ids: [l!.id], version: layerVersion(l!),
      bounds: await extentOf(db, 'SELECT ST_Extent(geom) AS b FROM feature WHERE layer_id = $1', [l!.id]),
      fields: { category: 'String', area_m2: 'Number' },
      description: `${l!.name} @${l!.vintage} (${l!.kind}, ${l!.feature_count} features)`,
    }
  }
  if (kind === 'change') {
    const [from] = await selectLayers(db, `${m[1]}@${m[2]}`)
    const [to] = await selectLayers(db, `${m[1]}@${m[3]}`)
    if (from!.id === to!.id) throw new BadInput(`change:${m[1]}: from and to are the same vintage`)
    return {
      id, kind, layerName: 'change', ids: [from!.id, to!.id], version: `${layerVersion(from!)}>${layerVersion(to!)}`,
      bounds: await extentOf(db, 'SELECT ST_Extent(geom) AS b FROM feature WHERE layer_id = $1 OR layer_id = $2', [from!.id, to!.id]),
      fields: { change: 'String' },
      description: `${m[1]}: gained (in ${m[3]}, not in ${m[2]}) and lost (in ${m[2]}, not in ${m[3]})`,
    }
  }
  const sets = await db.query<{ id: number; source_checksum: string | null; created_at: unknown; unit_count: number }>(
    `SELECT id, source_checksum, created_at, unit_count FROM unit_set WHERE name = $1 AND ${CURRENT}`, [m[1]])
  if (!sets.length) throw new NotFound(`no unit set '${m[1]}'`)
  const set = sets[0]!
  const src: VectorSource = {
    id, kind, layerName: 'units', ids: [set.id],
    version: `set${set.id}:${set.source_checksum ?? ''}:${new Date(set.created_at as string).getTime()}`,
    bounds: await extentOf(db, 'SELECT ST_Extent(geom) AS b FROM unit WHERE set_id = $1', [set.id]),
    fields: { code: 'String', name: 'String', area_m2: 'Number' },
    description: `unit set ${m[1]} (${set.unit_count} units)`,
  }
  if (runParam !== undefined) {
    if (!/^[0-9]{1,15}$/.test(runParam)) throw new BadInput(`run '${runParam.slice(0, 20)}' is not a number`)
    const runId = Number(runParam)
    const statsCache = current(RUN_STATS)
    let cached = statsCache.byRun.get(runId)
    if (!cached) {
      const run = await getRun(db, runId)
      const ex = await exportableOf(db, run)
      cached = { setId: ex.setId, kind: run.kind, stats: ex.properties(ex.tables[0]!.rows as object[]) }
      if (statsCache.size) {
        if (statsCache.byRun.size >= statsCache.size) statsCache.byRun.delete(statsCache.byRun.keys().next().value!)
        statsCache.byRun.set(runId, cached)
      }
    }
    if (cached.setId !== set.id) throw new BadInput(`run ${runId} measured another unit set, not '${m[1]}'`)
    const stats = cached.stats
    src.stats = stats
    src.runId = runId
    src.version += `:run${runId}`
    src.description += `, statistics of run ${runId} (${cached.kind})`
    for (const p of stats.values()) {
      for (const [k, v] of Object.entries(p)) if (!(k in src.fields) && v !== null) src.fields[k] = typeof v === 'number' ? 'Number' : 'String'
    }
  }
  return src
}

function layerVersion(l: LayerVersion): string {
  return `layer${l.id}:${l.source_checksum}`
}

async function extentQuery(db: Queryable, sql: string, params: unknown[]): Promise<[number, number, number, number] | null> {
  const rows = await db.query<{ w: number | null; s: number; e: number; n: number }>(
    `SELECT ST_XMin(b) AS w, ST_YMin(b) AS s, ST_XMax(b) AS e, ST_YMax(b) AS n FROM (${sql}) x`, params)
  const r = rows[0]
  return r && r.w !== null ? [Number(r.w), Number(r.s), Number(r.e), Number(r.n)] : null
}

/** TileJSON 3.0.0 for a source. `base` is the server origin + path prefix of the tiles. */
export function tileJson(src: VectorSource, tileUrl: string, minzoom: number, maxzoom: number) {
  const b = src.bounds ?? [-180, -85.0511, 180, 85.0511]
  return {
    tilejson: '3.0.0',
    name: src.id,
    description: src.description,
    version: '1.0.0',
    scheme: 'xyz',
    tiles: [tileUrl],
    minzoom,
    maxzoom,
    bounds: b,
    center: [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, Math.max(minzoom, Math.min(maxzoom, 8))],
    vector_layers: [{ id: src.layerName, fields: src.fields, minzoom, maxzoom, description: src.description }],
    ecocensus: { version: src.version, run: src.runId ?? null },
  }
}

/** How long a resolved source is reused when nothing in this process changed the catalogue
 *  (writers in other processes are seen after at most this long). */
export const SOURCE_TTL_MS = 1000
/** A runtime's resolved tile sources (its one database's); size 0: none kept. */
export class SourceMemo {
  readonly entries = new Map<string, { src: VectorSource; gen: number; at: number }>()
  constructor(readonly size = 1024) {}
}
export const SOURCE_MEMO = slot('tile sources', new SourceMemo(0))

/** resolveSource without bounds, remembered by the runtime for SOURCE_TTL_MS or until an
 *  import in it changes the catalogue: tile requests skip the catalogue query. */
export async function resolveSourceMemo(db: Queryable, id: string, runParam?: string): Promise<VectorSource> {
  const memo = current(SOURCE_MEMO)
  if (!memo.size) return resolveSource(db, id, runParam)
  const m = memo.entries
  const key = `${id}|${runParam ?? ''}`
  const now = performance.now()
  const hit = m.get(key)
  if (hit && hit.gen === catalogGeneration() && now - hit.at < SOURCE_TTL_MS) return hit.src
  const gen = catalogGeneration()
  const src = await resolveSource(db, id, runParam)
  if (m.size >= memo.size) m.clear()
  m.set(key, { src, gen, at: now })
  return src
}
