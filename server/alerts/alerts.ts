// Alerts (生态保护红线监测预警, 生态产品动态监测): rules (rules.ts) evaluated per unit over the
// intervals between vintages, kept as a run of kind `alerts`. The figures come from runs of
// their own, each traced: a layer rule from the layer's trend (stats/trend.ts: a coverage run
// and a change run per interval), a raster rule from a raster-change run per interval (the
// difference of a band's means). A layer alert carries the ground it is about: the lost (or
// gained) patches of the unit between the two versions, cut by PostGIS (patches.sql), as
// GeoJSON with their ellipsoidal areas.
import type { Db, Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import { compareVintage, selectLayers } from '../catalog/layer-select.ts'
import { CURRENT } from '../catalog/versions.ts'
import { runToEnd, type RunOptions, type RunPlan, type StepContext } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { trend, type TrendResult } from '../stats/trend.ts'
import { planZonalChange, readZonal } from '../raster/zonal.ts'
import { checkRules, holds, patchSide, rulesSha256, type Rule, type Rules } from './rules.ts'

const PATCHES_SQL = loadSql(import.meta.url, 'patches.sql')
/** patches kept per alert, largest first */
const MAX_PATCHES = 500

export interface AlertRequest {
  units: string
  rules: unknown
}

export interface AlertRow {
  rule: string
  rule_name: string | null
  unit_code: string
  unit_name: string | null
  /** the layer, or `raster band N` */
  subject: string
  from_vintage: string
  to_vintage: string
  measure: string
  value: number
  op: string
  threshold: number
  from_m2: number | null
  to_m2: number | null
  lost_m2: number | null
  gained_m2: number | null
  mean_from: number | null
  mean_to: number | null
  /** patches kept (largest first, at most 500) and their area */
  patches: number
  patch_m2: number
  /** the run the value comes from */
  source_run: number
}

export interface PatchFeature {
  type: 'Feature'
  geometry: unknown
  properties: { rule: string; unit_code: string; from_vintage: string; to_vintage: string; side: 'lost' | 'gained'; area_m2: number }
}

export interface AlertsResult {
  run: RunRecord
  unitSet: string
  rules: Rules['rules']
  rulesSha256: string
  /** per rule, the runs its figures come from */
  sources: { rule: string; runs: number[] }[]
  /** how many (rule, unit, interval) checks were made */
  checked: number
  alerts: AlertRow[]
  patches: { type: 'FeatureCollection'; features: PatchFeature[] }
  method: string
}

interface AlertsMeta {
  unitSet: { id: number; name: string }
  rulesSha256: string
  sources: AlertsResult['sources']
  method: string
}

const METHOD = 'each rule is evaluated per unit over the intervals between consecutive vintages (or the latest one); layer figures from the layer\'s trend (a coverage run and a change run per interval), lost_pct and net_pct as % of the earlier area (not evaluated where there was none); raster figures from a raster-change run per interval (later band mean − earlier); the ground of a layer alert is the unit\'s part of the earlier version not in the later (lost) or the reverse (gained), cut by PostGIS, areas ellipsoidal'

type Source =
  | { kind: 'layer'; rule: Rule; trend: TrendResult; layerIds: Map<string, number> }
  | { kind: 'raster'; rule: Rule; runs: { from: string; to: string; run: RunRecord; rows: Record<string, unknown>[] }[] }

async function vintagesOf(db: Queryable, table: 'layer' | 'raster_layer', name: string, given: string[] | undefined, what: string): Promise<string[]> {
  const known = (await db.query<{ vintage: string }>(`SELECT vintage FROM ${table} WHERE name = $1 AND ${CURRENT}`, [name])).map((r) => r.vintage)
  if (!known.length) throw new BadInput(`${what} '${name}' is not in the catalogue`)
  const list = given ?? known
  for (const v of list) if (!known.includes(v)) throw new BadInput(`${what} '${name}' has no vintage '${v}' (has ${known.sort(compareVintage).join(', ')})`)
  if (list.length < 2) throw new BadInput(`${what} '${name}' has one vintage (${list.join(', ')}); an alert compares two or more`)
  return [...list].sort(compareVintage)
}

/** The figures every rule needs, each computed as (or found among) runs of its own. */
async function sources(db: Db, units: string, rules: Rules, rasterDir: string, ro: RunOptions): Promise<Source[]> {
  const trends = new Map<string, Promise<TrendResult>>()
  const out: Source[] = []
  for (const rule of rules.rules) {
    if (rule.layer) {
      const vintages = await vintagesOf(db, 'layer', rule.layer, rule.vintages, 'layer')
      const key = `${rule.layer}\t${vintages.join(',')}`
      if (!trends.has(key)) trends.set(key, trend(db, units, { layer: rule.layer, vintages }, ro))
      const t = await trends.get(key)!
      const layerIds = new Map<string, number>()
      for (const v of vintages) layerIds.set(v, (await selectLayers(db, `${rule.layer}@${v}`))[0]!.id)
      out.push({ kind: 'layer', rule, trend: t, layerIds })
    } else {
      const vintages = await vintagesOf(db, 'raster_layer', rule.raster!, rule.vintages, 'raster')
      const pairs = vintages.slice(1).map((v, i) => [vintages[i]!, v] as const)
      const runs = []
      for (const [a, b] of rule.intervals === 'latest' ? pairs.slice(-1) : pairs) {
        const run = await runToEnd(db, await planZonalChange(db, units, `${rule.raster}@${a}`, `${rule.raster}@${b}`, { band: rule.band }, rasterDir), ro)
        const z = await readZonal(db, run)
        if (z.mode !== 'difference') throw new BadInput(`alert rule ${rule.id}: raster '${rule.raster}' is categorical; mean_diff needs a continuous raster`)
        runs.push({ from: a, to: b, run, rows: z.rows as Record<string, unknown>[] })
      }
      out.push({ kind: 'raster', rule, runs })
    }
  }
  return out
}

export async function planAlerts(db: Db, req: AlertRequest, rasterDir: string, ro: RunOptions = {}): Promise<RunPlan> {
  const rules = checkRules(req.rules)
  const set = await unitSetVersion(db, req.units)
  const srcs = await sources(db, req.units, rules, rasterDir, ro)
  const sha = rulesSha256(rules)
  const meta: AlertsMeta = {
    unitSet: { id: set.id, name: set.name },
    rulesSha256: sha,
    sources: srcs.map((s) => ({ rule: s.rule.id, runs: s.kind === 'layer' ? s.trend.runs.map((r) => r.id) : s.runs.map((r) => r.run.id) })),
    method: METHOD,
  }
  let body = ''
  return {
    kind: 'alerts',
    params: { units: req.units, rules },
    inputs: { unitSet: set, rulesSha256: sha, sources: meta.sources },
    meta: meta as unknown as Record<string, unknown>,
    steps: [
      {
        label: 'evaluate',
        weight: 1,
        run: async (ctx: StepContext) => {
          const unitIds = new Map((await ctx.db.query<{ id: string | number; code: string }>('SELECT id, code FROM unit WHERE set_id = $1', [set.id])).map((u) => [u.code, Number(u.id)]))
          const alerts: AlertRow[] = []
          const features: PatchFeature[] = []
          let checked = 0
          for (const [k, s] of srcs.entries()) {
            const rule = s.rule
            if (s.kind === 'layer') {
              const last = s.trend.intervals.filter((i) => i.category === null).map((i) => i.from_vintage).sort(compareVintage).at(-1)
              for (const i of s.trend.intervals) {
                if (i.category !== null || (rule.intervals === 'latest' && i.from_vintage !== last)) continue
                const value = rule.measure === 'lost_m2' ? i.lost_m2 : rule.measure === 'gained_m2' ? i.gained_m2 : rule.measure === 'net_m2' ? i.net_m2
                  : i.from_m2 > 0 ? ((rule.measure === 'lost_pct' ? i.lost_m2! : i.net_m2) / i.from_m2) * 100 : null
                if (value === null) continue
                checked++
                if (!holds(value, rule.op, rule.value)) continue
                const side = patchSide(rule)
                const [a, b] = side === 'lost' ? [i.from_vintage, i.to_vintage] : [i.to_vintage, i.from_vintage]
                const rows = await ctx.db.query<{ gj: string; area_m2: number }>(PATCHES_SQL, [unitIds.get(i.unit_code), s.layerIds.get(a), s.layerIds.get(b), rule.min_patch_m2 ?? 1, MAX_PATCHES, 1e-10], { signal: ctx.signal })
                for (const p of rows) features.push({ type: 'Feature', geometry: JSON.parse(p.gj), properties: { rule: rule.id, unit_code: i.unit_code, from_vintage: i.from_vintage, to_vintage: i.to_vintage, side, area_m2: Number(p.area_m2) } })
                alerts.push({
                  rule: rule.id, rule_name: rule.name ?? null, unit_code: i.unit_code, unit_name: i.unit_name, subject: rule.layer!, from_vintage: i.from_vintage, to_vintage: i.to_vintage,
                  measure: rule.measure, value, op: rule.op, threshold: rule.value, from_m2: i.from_m2, to_m2: i.to_m2, lost_m2: i.lost_m2, gained_m2: i.gained_m2, mean_from: null, mean_to: null,
                  patches: rows.length, patch_m2: rows.reduce((t, p) => t + Number(p.area_m2), 0), source_run: s.trend.runs.find((r) => r.kind === 'change' && r.vintages[0] === i.from_vintage)!.id,
                })
              }
            } else {
              for (const r of s.runs) {
                for (const row of r.rows) {
                  const value = row.mean_diff as number | null
                  if (value === null || value === undefined || !Number.isFinite(value)) continue
                  checked++
                  if (!holds(value, rule.op, rule.value)) continue
                  alerts.push({
                    rule: rule.id, rule_name: rule.name ?? null, unit_code: String(row.unit_code), unit_name: (row.unit_name as string | null) ?? null, subject: `${rule.raster} band ${row.band ?? rule.band ?? 1}`,
                    from_vintage: r.from, to_vintage: r.to, measure: rule.measure, value, op: rule.op, threshold: rule.value, from_m2: null, to_m2: null, lost_m2: null, gained_m2: null,
                    mean_from: row.mean_from as number, mean_to: row.mean_to as number, patches: 0, patch_m2: 0, source_run: r.run.id,
                  })
                }
              }
            }
            await ctx.progress((k + 1) / srcs.length)
          }
          alerts.sort((a, b) => a.rule.localeCompare(b.rule) || a.unit_code.localeCompare(b.unit_code) || compareVintage(a.from_vintage, b.from_vintage))
          body = JSON.stringify({ checked, alerts, features })
        },
      },
      {
        label: 'store',
        weight: 0.01,
        run: async (ctx: StepContext) => void (await ctx.db.query('INSERT INTO run_result (run_id, entries, body) VALUES ($1, $2, $3)', [ctx.runId, 1, body])),
      },
    ],
  }
}

export async function readAlerts(db: Queryable, run: RunRecord): Promise<AlertsResult> {
  const meta = run.meta as unknown as AlertsMeta
  const [stored] = await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [run.id])
  if (!stored) throw new BadInput(`alerts run ${run.id} has no stored result; run it again (--fresh)`)
  const b = JSON.parse(stored.body) as { checked: number; alerts: AlertRow[]; features: PatchFeature[] }
  const rules = checkRules(run.params.rules)
  return { run, unitSet: meta.unitSet.name, rules: rules.rules, rulesSha256: meta.rulesSha256, sources: meta.sources, checked: b.checked, alerts: b.alerts, patches: { type: 'FeatureCollection', features: b.features }, method: meta.method }
}

/** Evaluates the rules as a run (or finds an identical one) and reads it. */
export async function evaluateAlerts(db: Db, req: AlertRequest, rasterDir: string, ro: RunOptions = {}): Promise<AlertsResult> {
  return readAlerts(db, await runToEnd(db, await planAlerts(db, req, rasterDir, ro), ro))
}
