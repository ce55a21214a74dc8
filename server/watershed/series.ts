// Water-quality series at monitoring sections, from a long table `section_code, datetime,
// indicator, value, unit[, flow_m3s]` (CSV or XLSX): indicators by GB 3838 id or name, values
// normalised to mg/L (µg/L divided by 1 000), datetimes without a zone read as China time
// (UTC+8). Checked whole — unknown sections, bad numbers and datetimes, a unit one indicator
// is not measured in, two units for one indicator, duplicates, datetimes outside a year's
// vintage — and refused with every line named; stored as an immutable version.
import fs from 'node:fs'
import path from 'node:path'
import type { Db, Queryable } from '../db/db.ts'
import { BadInput, TooLarge } from '../errors.ts'
import { claimVersion, CURRENT } from '../catalog/versions.ts'
import { datasetChecksum } from '../ingest/checksum.ts'
import { numberCell, readTableLines } from '../validate/read-table.ts'
import { NAME_RE, VINTAGE_RE } from '../validate/fields.ts'
import { GB3838_TABLE1, type Indicator } from './gb3838.ts'
import { findSections, sectionsOf, type SectionSet } from './sections.ts'
import { findVersion } from '../catalog/find-version.ts'

/** indicator names as monitoring tables write them → GB 3838 ids */
const ALIASES: Record<string, string> = {
  ph: 'ph', 'ph值': 'ph', do: 'do', 溶解氧: 'do', codmn: 'codmn', 高锰酸盐指数: 'codmn', cod: 'cod', codcr: 'cod', 化学需氧量: 'cod',
  bod5: 'bod5', 五日生化需氧量: 'bod5', 'nh3-n': 'nh3n', nh3n: 'nh3n', 氨氮: 'nh3n', tp: 'tp', 总磷: 'tp', tn: 'tn', 总氮: 'tn',
}
for (const i of GB3838_TABLE1) { ALIASES[i.id] = i.id; ALIASES[i.name] = i.id }

/** units a value may come in, per kind of indicator, and the factor to the stored unit */
const MASS: Record<string, number> = { 'mg/l': 1, 'g/m3': 1, 'g/m³': 1, 'µg/l': 1e-3, 'ug/l': 1e-3, 'μg/l': 1e-3 }
function factorOf(i: Indicator, unit: string): number | undefined {
  const u = unit.trim().toLowerCase()
  if (i.unit === '1') return u === '' || u === '1' || u === '无量纲' || u === 'ph' ? 1 : undefined
  if (i.unit === '个/L') return u === '个/l' || u === 'mpn/l' || u === 'cfu/l' ? 1 : undefined
  return MASS[u]
}

export interface SeriesSet { id: number; name: string; vintage: string; section_set_id: number; source_file: string; source_checksum: string; row_count: number; first_at: string; last_at: string }
const COLUMNS = 'id, name, vintage, section_set_id, source_file, source_checksum, row_count, first_at::text AS first_at, last_at::text AS last_at'

export interface ImportSeriesOptions { file: string; displayName?: string; sections: string; name?: string; vintage: string; replace?: boolean; actor?: string; maxBytes: number }

/** `2024-03-05`, `2024-03-05 10:00`, `2024-03-05T10:00:00+08:00` → epoch ms; no zone: China time. */
export function parseDatetime(s: string): number {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(s.trim())
  if (!m) return NaN
  const [, y, mo, d, h = '0', mi = '0', sec = '0', zone] = m
  const local = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +sec)
  const back = new Date(local)
  if (back.getUTCMonth() !== +mo! - 1 || back.getUTCDate() !== +d! || +h > 23) return NaN
  if (!zone) return local - 8 * 3600_000
  if (zone === 'Z') return local
  const z = /([+-])(\d{2}):?(\d{2})/.exec(zone)!
  return local - (z[1] === '-' ? -1 : 1) * (+z[2]! * 60 + +z[3]!) * 60_000
}

export async function importSeries(db: Db, o: ImportSeriesOptions): Promise<SeriesSet & { replaced?: number; sections: SectionSet; indicators: string[] }> {
  const sections = await findSections(db, o.sections)
  const name = o.name ?? sections.name
  if (!NAME_RE.test(name)) throw new BadInput(`--name '${name}': 1–64 letters, digits, '_', '-' or '.'`)
  if (!VINTAGE_RE.test(o.vintage)) throw new BadInput(`--vintage '${o.vintage}': a year or date such as 2024`)
  const file = path.basename(o.displayName ?? o.file)
  if (!fs.existsSync(o.file)) throw new BadInput(`${file}: no such file`)
  const size = fs.statSync(o.file).size
  if (size > o.maxBytes) throw new TooLarge(`${file}: ${size} bytes is over the limit of ${o.maxBytes}`)
  const codes = new Set((await sectionsOf(db, sections.id)).map((s) => s.code))
  const rows = await readTableLines(o.file)
  if (!rows.length) throw new BadInput(`${file}: no rows under the header (section_code, datetime, indicator, value, unit[, flow_m3s])`)
  const head = new Set(rows.flatMap((r) => Object.keys(r.values)))
  for (const col of ['section_code', 'datetime', 'indicator', 'value']) if (!head.has(col)) throw new BadInput(`${file}: no column '${col}'; the table is long: section_code, datetime, indicator, value, unit[, flow_m3s]`)
  const year = /^\d{4}$/.test(o.vintage) ? Number(o.vintage) : undefined
  const problems: string[] = []
  const seen = new Map<string, number>()
  const unitOf = new Map<string, { unit: string; line: number }>()
  const out: { code: string; at: number; indicator: string; value: number; flow: number | null }[] = []
  for (const { line, values: r } of rows) {
    const bad = (m: string) => problems.push(`line ${line}: ${m}`)
    const code = String(r.section_code ?? '').trim()
    if (!codes.has(code)) bad(`section ${code || '(none)'} is not one of ${sections.name}@${sections.vintage}`)
    // a workbook's date cell holds the wall time as UTC: read it as China time like text
    const raw = r.datetime instanceof Date ? r.datetime.getTime() - 8 * 3600_000 : parseDatetime(String(r.datetime ?? ''))
    if (!Number.isFinite(raw)) bad(`datetime '${String(r.datetime ?? '')}' is not a date (YYYY-MM-DD[ HH:MM[:SS]][±HH:MM])`)
    else if (year !== undefined && new Date(raw + 8 * 3600_000).getUTCFullYear() !== year) bad(`${String(r.datetime)} is outside ${year}, the vintage`)
    const id = ALIASES[String(r.indicator ?? '').trim().toLowerCase()] ?? ALIASES[String(r.indicator ?? '').trim()]
    const ind = id ? GB3838_TABLE1.find((i) => i.id === id)! : undefined
    if (!ind) bad(`indicator '${String(r.indicator ?? '')}' is not a GB 3838-2002 Table 1 item (ids ${GB3838_TABLE1.map((i) => i.id).join(', ')}, or their names)`)
    const unit = String(r.unit ?? '').trim()
    const f = ind ? factorOf(ind, unit) : 1
    if (ind && f === undefined) bad(`${ind.name} in '${unit}': give ${ind.unit === 'mg/L' ? 'mg/L (or µg/L)' : ind.unit === '1' ? 'no unit' : '个/L'}`)
    if (ind) {
      const u = unitOf.get(ind.id)
      if (!u) unitOf.set(ind.id, { unit, line })
      else if (u.unit !== unit) bad(`${ind.name} in '${unit}', but line ${u.line} gives it in '${u.unit}'; one unit per indicator`)
    }
    const v = numberCell(r.value)
    if (!Number.isFinite(v) || v < 0) bad(`value '${String(r.value ?? '')}' is not a non-negative number`)
    const flowRaw = r.flow_m3s
    const flow = flowRaw === undefined ? null : Number(flowRaw)
    if (flow !== null && !(Number.isFinite(flow) && flow >= 0)) bad(`flow_m3s '${String(flowRaw)}' is not a non-negative number`)
    if (ind && Number.isFinite(raw)) {
      const key = `${code}\u0000${raw}\u0000${ind.id}`
      if (seen.has(key)) bad(`${ind.name} of ${code} at ${String(r.datetime)} is given twice (also line ${seen.get(key)})`)
      else seen.set(key, line)
      out.push({ code, at: raw, indicator: ind.id, value: v * (f ?? 1), flow })
    }
    if (problems.length >= 12) break
  }
  if (problems.length) throw new BadInput(`${file}: ${problems.length >= 12 ? 'the first 12 problems' : `${problems.length} problem${problems.length > 1 ? 's' : ''}`}, nothing imported: ${problems.join('; ')}`)
  const checksum = await datasetChecksum(o.file)
  const first = Math.min(...out.map((x) => x.at))
  const last = Math.max(...out.map((x) => x.at))
  return db.transaction(async (tx) => {
    const claim = await claimVersion(tx, 'series_set', name, o.vintage, { replace: o.replace, actor: o.actor })
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO series_set (name, vintage, section_set_id, source_file, source_checksum, row_count, first_at, last_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), to_timestamp($8 / 1000.0), $9) RETURNING id`,
      [name, o.vintage, sections.id, file, checksum, out.length, first, last, o.actor ?? null])
    await tx.query(
      `INSERT INTO series_value (set_id, section_code, at, indicator, value, flow_m3s)
       SELECT $1, c, to_timestamp(t / 1000.0), i, v, q FROM unnest($2::text[], $3::float8[], $4::text[], $5::float8[], $6::float8[]) AS s(c, t, i, v, q)`,
      [row!.id, out.map((x) => x.code), out.map((x) => x.at), out.map((x) => x.indicator), out.map((x) => x.value), out.map((x) => x.flow)])
    const [v] = await tx.query<SeriesSet>(`SELECT ${COLUMNS} FROM series_set WHERE id = $1`, [row!.id])
    return { ...v!, replaced: claim.retiredId, sections, indicators: [...unitOf.keys()] }
  })
}

export const findSeries = (db: Queryable, spec: string) => findVersion<SeriesSet>(db, 'series_set', COLUMNS, spec, { what: 'series' })

export async function listSeries(db: Queryable): Promise<SeriesSet[]> {
  return db.query<SeriesSet>(`SELECT ${COLUMNS} FROM series_set WHERE ${CURRENT} ORDER BY name, vintage`)
}

/** The values of a series version in a time window [from, to) (epoch ms), oldest first. */
export async function seriesValues(db: Queryable, setId: number, from: number, to: number): Promise<{ section_code: string; at: number; indicator: string; value: number; flow_m3s: number | null }[]> {
  const rows = await db.query<{ section_code: string; at: number; indicator: string; value: number; flow_m3s: number | null }>(
    `SELECT section_code, (extract(epoch FROM at) * 1000)::float8 AS at, indicator, value, flow_m3s FROM series_value
     WHERE set_id = $1 AND at >= to_timestamp($2 / 1000.0) AND at < to_timestamp($3 / 1000.0) ORDER BY section_code, at, indicator`, [setId, from, to])
  return rows.map((r) => ({ ...r, at: Number(r.at), value: Number(r.value), flow_m3s: r.flow_m3s === null ? null : Number(r.flow_m3s) }))
}
