// Per-unit results summed to a parent level (township → county → city → province): the
// parent of a unit is its parent code, or its GB/T 2260 code cut to the county (6 digits),
// city (4 + 00) or province (2 + 0000). Areas and money add up because the children of a
// parent do not overlap (checked in PostGIS; refused otherwise); shares and per-km² figures
// are computed again from the sums and the parent's area, never summed; feature counts are
// not additive (a feature crossing two children is one feature) and are left empty.
import type { Queryable } from '../db/db.ts'
import { BadInput } from '../errors.ts'
import type { Exportable, RollupRule, Table } from './export.ts'

export const ROLLUP_LEVELS = ['parent', 'county', 'city', 'province'] as const
export type RollupLevel = (typeof ROLLUP_LEVELS)[number]

/** The parent code of a unit at a level, or an explanation of why it has none. */
export function parentCode(level: RollupLevel, code: string, parent: string | null): string | Error {
  if (level === 'parent') return parent ?? new Error(`unit ${code} has no parent code (import the set with --parent-field)`)
  if (!/^\d{6}(\d{3}(\d{3})?)?$/.test(code)) return new Error(`unit code ${code} is not a GB/T 2260 code (6, 9 or 12 digits) to take its ${level} from`)
  return level === 'county' ? code.slice(0, 6) : level === 'city' ? `${code.slice(0, 4)}00` : `${code.slice(0, 2)}0000`
}

interface Parent { code: string; name: string | null; area_m2: number; children: number }

/** Parents of a unit set's units at a level; refuses children that overlap each other. */
export async function parentsOf(db: Queryable, setId: number, level: RollupLevel): Promise<{ of: Map<string, string>; parents: Map<string, Parent> }> {
  const units = await db.query<{ code: string; parent_code: string | null; area_m2: number }>('SELECT code, parent_code, area_m2 FROM unit WHERE set_id = $1 ORDER BY code', [setId])
  const of = new Map<string, string>()
  const parents = new Map<string, Parent>()
  const problems: string[] = []
  for (const u of units) {
    const p = parentCode(level, u.code, u.parent_code)
    if (p instanceof Error) { problems.push(p.message); continue }
    of.set(u.code, p)
    const e = parents.get(p) ?? parents.set(p, { code: p, name: null, area_m2: 0, children: 0 }).get(p)!
    e.area_m2 += Number(u.area_m2)
    e.children++
  }
  if (problems.length) throw new BadInput(`--rollup ${level}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`)
  // children of one parent must not overlap, or their areas would count twice
  const overlaps = await db.query<{ a: string; b: string; m2: number }>(
    `SELECT a.code AS a, b.code AS b, ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS m2
     FROM unit a JOIN unit b ON b.set_id = a.set_id AND a.code < b.code AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')
     WHERE a.set_id = $1`, [setId])
  for (const o of overlaps) {
    const p = of.get(o.a)
    if (p !== of.get(o.b)) continue
    if (Number(o.m2) > 1e-6 * parents.get(p!)!.area_m2) throw new BadInput(`--rollup ${level}: units ${o.a} and ${o.b} of ${p} overlap by ${Number(o.m2).toFixed(1)} m², so their areas cannot be added; measure the parent units directly`)
  }
  // a parent that is itself a unit somewhere: its children must cover it, or the sums are
  // those of the children (a grid not split at county lines), not the parent's
  const known = await db.query<{ code: string; name: string | null; area_m2: number; set: string }>(
    `SELECT DISTINCT ON (u.code) u.code, u.name, u.area_m2, s.name AS set FROM unit u JOIN unit_set s ON s.id = u.set_id
     WHERE u.code = ANY($1) AND s.retired_at IS NULL AND s.id <> $2 ORDER BY u.code, s.id DESC`, [[...parents.keys()], setId])
  for (const k of known) {
    const p = parents.get(k.code)!
    p.name = k.name
    if (Math.abs(p.area_m2 - Number(k.area_m2)) > 1e-6 * Number(k.area_m2)) {
      throw new BadInput(`--rollup ${level}: the units of ${k.code} cover ${(p.area_m2 / 1e6).toFixed(3)} km², but ${k.code}${k.name ? ` ${k.name}` : ''} of unit set ${k.set} has ${(Number(k.area_m2) / 1e6).toFixed(3)} km²: they do not partition it (cells not split at its boundary?), so their sums are not its figures; compute on ${k.set} directly`)
    }
  }
  return { of, parents }
}

const isKey = (r: RollupRule | undefined, v: unknown) => (r === undefined ? typeof v !== 'number' : r === 'key')

/** One table summed to parents. */
export function rollTable(t: Table, of: Map<string, string>, parents: Map<string, Parent>): Table {
  const rules = t.rollup || {}
  const cols = t.columns.filter((c) => c !== 'unit_code' && c !== 'unit_name' && c !== 'unit_area_m2')
  const groups = new Map<string, { parent: Parent; rows: Record<string, unknown>[] }>()
  // a column a rule switches on groups the rows like a key
  const switchCols = Object.values(rules).flatMap((r) => (typeof r === 'object' && 'switch' in r ? [r.switch] : []))
  for (const row of t.rows as Record<string, unknown>[]) {
    const p = parents.get(of.get(String(row.unit_code))!)!
    const key = [p.code, ...cols.filter((c) => isKey(rules[c], row[c]) || switchCols.includes(c)).map((c) => JSON.stringify(row[c] ?? null))].join('\u0000')
    ;(groups.get(key) ?? groups.set(key, { parent: p, rows: [] }).get(key)!).rows.push(row)
  }
  const out: Record<string, unknown>[] = []
  for (const { parent, rows } of groups.values()) {
    const r: Record<string, unknown> = { unit_code: parent.code, unit_name: parent.name, unit_area_m2: parent.area_m2 }
    const later: [string, Extract<RollupRule, { ratio: unknown } | { fn: unknown }>][] = []
    const combine = (c: string, rule: RollupRule | undefined): void => {
      const vals = rows.map((x) => x[c])
      if (rule === undefined) rule = vals.some((v) => typeof v === 'number') ? 'sum' : 'key'
      if (rule === 'key') r[c] = rows[0]![c]
      else if (rule === 'drop') r[c] = null
      else if (rule === 'sum') r[c] = vals.some((v) => v === null || v === undefined) ? null : vals.reduce((s: number, v) => s + Number(v), 0)
      else if (rule === 'max') r[c] = vals.reduce((m: unknown, v) => (m === undefined || m === null || (v !== null && v !== undefined && (v as number) > (m as number)) ? v : m), undefined) ?? null
      else if ('weighted' in rule) {
        let num = 0, den = 0
        for (const x of rows) { const w = Number(x[rule.weighted]); num += Number(x[c]) * w; den += w }
        r[c] = den > 0 ? num / den : null
      } else if ('switch' in rule) combine(c, rule.cases[String(rows[0]![rule.switch])] ?? rule.otherwise)
      else later.push([c, rule as Extract<RollupRule, { ratio: unknown } | { fn: unknown }>])
    }
    for (const c of cols) combine(c, rules[c])
    for (const [c, rule] of later) {
      if ('ratio' in rule) {
        const [n, d, scale = 1] = rule.ratio
        const num = r[n], den = r[d]
        r[c] = typeof num === 'number' && typeof den === 'number' && den !== 0 ? (num / Math.abs(den)) * scale : null
      } else if ('fn' in rule) r[c] = rule.fn(r)
    }
    out.push(r)
  }
  return { name: t.name, columns: t.columns, rows: out.sort((a, b) => String(a.unit_code).localeCompare(String(b.unit_code))) }
}

/** A result summed to a parent level: tables only (CSV, JSON, XLSX); GeoJSON needs the parents' outlines. */
export async function rolledUp(db: Queryable, x: Exportable, level: RollupLevel): Promise<Exportable> {
  const { of, parents } = await parentsOf(db, x.setId, level)
  if (!x.tables.some((t) => t.rollup !== false && t.columns.includes('unit_code'))) throw new BadInput(`--rollup: ${x.tables.map((t) => t.name).join(', ')} cannot be summed to parent units (means, minima and histograms are not additive); compute on the parent units`)
  const tables = x.tables.filter((t) => t.rollup !== false).map((t) => (t.columns.includes('unit_code') ? rollTable(t, of, parents) : t))
  if (x.scope) {
    // a key limited to regions may see a parent only when it may see every child of it
    for (const [child, p] of of) if (!x.scope.has(child)) parents.delete(p)
    for (const t of tables) if (t.columns.includes('unit_code')) t.rows = t.rows.filter((r) => parents.has(String((r as { unit_code: string }).unit_code)))
  }
  const run = x.result.run
  const result = { run, method: x.result.method, rollup: { level, parents: [...parents.values()], note: 'areas and money summed over non-overlapping children; shares and per-km² figures computed from the sums; feature counts left empty' }, tables: Object.fromEntries(tables.map((t) => [t.name, t.rows])) }
  return {
    tables,
    result,
    setId: x.setId,
    properties: () => new Map(),
    scope: undefined,
  }
}
