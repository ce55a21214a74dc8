// What a county report says, gathered from the same runs the API serves: the unit, the
// coverage of every layer version up to the report's year (one coverage run, ecological
// space counted once), each layer's trend over its vintages (trend: a coverage run and a
// change run per interval), the area factors, and the latest done GEP and compensation runs
// of the set where there are any. Every number keeps the run it came from (provenance).
import type { Db } from '../db/db.ts'
import { BadInput, NotFound } from '../errors.ts'
import { loadSql } from '../db/sql.ts'
import { listLayers } from '../catalog/list.ts'
import { coverage, type CoverageRow } from '../stats/coverage.ts'
import { trend, vintageYear, type TrendAreaRow, type TrendIntervalRow } from '../stats/trend.ts'
import { computeFactors } from '../factors/factors.ts'
import { exportableOf } from '../results/kinds.ts'
import { render } from '../results/export.ts'
import { getRun, type RunRecord } from '../runs/run-store.ts'
import type { RunOptions } from '../runs/execute.ts'
import { unitSetId } from '../units/unit-set.ts'

const MAP_SQL = loadSql(import.meta.url, 'report-map.sql')
const LATEST_RUN_SQL = loadSql(import.meta.url, 'latest-run.sql')

export interface ReportOptions {
  units: string
  unit: string
  /** layer versions of this year or before (default: all) */
  year?: number
  lang?: 'zh' | 'en'
}

export interface ReportLayer { id: number; name: string; kind: string; vintage: string; source_checksum: string; source_file: string | null; name_zh: string | null; name_en: string | null }

export interface ReportData {
  options: Required<Pick<ReportOptions, 'units' | 'unit' | 'lang'>> & { year: number | null }
  unit: { code: string; name: string | null; parent_code: string | null; area_m2: number }
  layers: ReportLayer[]
  coverage: CoverageRow[]
  trends: { layer: string; areas: TrendAreaRow[]; intervals: TrendIntervalRow[]; runs: { id: number; kind: string }[] }[]
  factors: { id: string; label: string; /** m2, share, count, yuan … */ unit: string; value: number }[]
  gep: { run: RunRecord; unit: Record<string, number | string | null>; items: Record<string, unknown>[]; configName: string } | null
  compensation: { run: RunRecord; unit: Record<string, number | string | null>; rows: Record<string, unknown>[]; explanation: { zh: string; en: string }[]; rule: string } | null
  map: { unit: string; box: [number, number, number, number]; /** Web Mercator y of the unit's middle (the map's scale) */ ymid: number; layers: { layer_id: number; d: string }[] }
  runs: RunRecord[]
  generatedAt: string
  actor: string | null
}

export async function reportData(db: Db, o: ReportOptions, ro: RunOptions = {}): Promise<ReportData> {
  const lang = o.lang ?? 'zh'
  if (lang !== 'zh' && lang !== 'en') throw new BadInput(`--lang '${lang}': zh or en`)
  const setId = await unitSetId(db, o.units)
  const [unit] = await db.query<ReportData['unit']>('SELECT code, name, parent_code, area_m2 FROM unit WHERE set_id = $1 AND code = $2', [setId, o.unit])
  if (!unit) throw new NotFound(`unit '${o.unit}' is not in unit set '${o.units}'`)
  unit.area_m2 = Number(unit.area_m2)

  const all = (await listLayers(db)) as unknown as ReportLayer[]
  const layers = all.filter((l) => o.year === undefined || vintageYear(l.vintage) < o.year + 1)
  if (!layers.length) throw new BadInput(o.year === undefined ? 'no layers are loaded: nothing to report' : `no layer has a vintage in or before ${o.year}`)
  const runs = new Map<number, RunRecord>()
  const cov = await coverage(db, o.units, { layers: layers.map((l) => `${l.name}@${l.vintage}`).join(','), union: true }, ro)
  runs.set(cov.run.id, cov.run)

  const trends: ReportData['trends'] = []
  const byName = new Map<string, ReportLayer[]>()
  for (const l of layers) byName.set(l.name, [...(byName.get(l.name) ?? []), l])
  for (const [name, vs] of byName) {
    if (vs.length < 2) continue
    const t = await trend(db, o.units, { layer: name, vintages: vs.map((v) => v.vintage) }, ro)
    for (const r of t.runs) runs.set(r.id, await getRun(db, r.id))
    trends.push({ layer: name, areas: t.areas.filter((a) => a.unit_code === o.unit), intervals: t.intervals.filter((a) => a.unit_code === o.unit), runs: t.runs })
  }

  // area factors by the default definitions: they read the latest vintage of each layer, so
  // they are listed only when the report's year leaves no later vintage out
  let factors: ReportData['factors'] = []
  if (layers.length === all.length) {
    const f = await computeFactors(db, o.units, undefined, ro)
    for (const r of f.provenance.runs) if (!runs.has(r.id)) runs.set(r.id, await getRun(db, r.id))
    factors = f.rows.filter((r) => r.unit_code === o.unit).map((r) => ({ id: r.factor, label: r.label, unit: r.value_unit, value: r.value }))
  }

  const latest = async (kind: string) => {
    const [r] = await db.query<{ id: number }>(LATEST_RUN_SQL, [kind, o.units])
    if (!r) return null
    const run = await getRun(db, Number(r.id))
    runs.set(run.id, run)
    return { run, body: JSON.parse(String((await render(db, 'json', await exportableOf(db, run))).body)) as Record<string, unknown> }
  }
  const g = await latest('gep')
  const gep = g && {
    run: g.run,
    unit: ((g.body.units as Record<string, number | string | null>[]) ?? []).find((u) => u.unit_code === o.unit) ?? {},
    // one row per item: its total over ecosystem types ('*'), not its parts nor the category totals (item '*')
    items: ((g.body.rows as Record<string, unknown>[]) ?? []).filter((r) => r.unit_code === o.unit && r.ecosystem === '*' && r.part_of === null && r.item !== '*'),
    configName: String(g.body.configName ?? ''),
  }
  const c = await latest('compensation')
  const compensation = c && {
    run: c.run,
    unit: ((c.body.units as Record<string, number | string | null>[]) ?? []).find((u) => u.unit_code === o.unit) ?? {},
    rows: ((c.body.rows as Record<string, unknown>[]) ?? []).filter((r) => r.unit_code === o.unit),
    explanation: ((c.body.explanation as { unit_code: string; zh: string; en: string }[]) ?? []).filter((r) => r.unit_code === o.unit),
    rule: String(c.body.rule ?? ''),
  }

  // the map: the unit's outline and the latest version of each layer inside it
  const latestIds = [...byName.values()].map((vs) => vs[vs.length - 1]!.id)
  const rows = await db.query<{ what: string; layer_id: number | null; d: string; x0: number; y0: number; x1: number; y1: number; ymid: number }>(MAP_SQL, [setId, o.unit, latestIds, 1 / 2000])
  const u = rows.find((r) => r.what === 'unit')!
  return {
    options: { units: o.units, unit: o.unit, lang, year: o.year ?? null },
    unit,
    layers,
    coverage: cov.rows.filter((r) => r.unit_code === o.unit),
    trends,
    factors,
    gep: gep && gep.unit.unit_code ? gep : null,
    compensation: compensation && compensation.unit.unit_code ? compensation : null,
    map: { unit: u.d, box: [Number(u.x0), Number(u.y0), Number(u.x1), Number(u.y1)], ymid: Number(u.ymid), layers: rows.filter((r) => r.what === 'layer' && r.d).map((r) => ({ layer_id: Number(r.layer_id), d: r.d })) },
    runs: [...runs.values()].sort((a, b) => a.id - b.id),
    generatedAt: new Date().toISOString(),
    actor: ro.actor ?? null,
  }
}
