// Non-area indicators per unit (population, EQI, performance score, fiscal gap, GEP from
// elsewhere, damaging-industry output …): imported from a long table `unit_code, indicator,
// value, unit`, checked whole (every bad line named), stored as an immutable version with
// the file's checksum, and read back by factors (measure `value`), so allocations can weigh,
// adjust and deduct by them.
import fs from 'node:fs'
import path from 'node:path'
import type { Db, Queryable } from '../db/db.ts'
import { BadInput, TooLarge } from '../errors.ts'
import { claimVersion, CURRENT } from '../catalog/versions.ts'
import { findVersion } from '../catalog/find-version.ts'
import { datasetChecksum } from '../ingest/checksum.ts'
import { compareVintage } from '../catalog/layer-select.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { numberCell, readTableLines } from '../validate/read-table.ts'
import { NAME_RE, VINTAGE_RE } from '../validate/fields.ts'

const INDICATOR_RE = /^[\p{L}\p{N}_.%()（）/-]{1,64}$/u
const MAX_PROBLEMS = 12

export interface IndicatorSetVersion {
  id: number
  name: string
  vintage: string
  unit_set: string
  unit_set_id: number
  source_file: string
  source_checksum: string
  row_count: number
  /** indicator → its unit */
  indicators: Record<string, string>
}

export interface ImportIndicatorsOptions { file: string; displayName?: string; name: string; year: string; units: string; replace?: boolean; actor?: string; maxBytes: number }

/** Imports an indicator table as a new version; refuses it whole, with every bad line, when any line is bad. */
export async function importIndicators(db: Db, o: ImportIndicatorsOptions): Promise<IndicatorSetVersion & { replaced?: number }> {
  if (!NAME_RE.test(o.name)) throw new BadInput(`--name '${o.name}': 1–64 letters, digits, '_', '-' or '.'`)
  if (!VINTAGE_RE.test(o.year)) throw new BadInput(`--year '${o.year}': a year such as 2023`)
  const file = path.basename(o.displayName ?? o.file)
  if (!fs.existsSync(o.file)) throw new BadInput(`${file}: no such file`)
  const size = fs.statSync(o.file).size
  if (size > o.maxBytes) throw new TooLarge(`${file}: ${size} bytes is over the limit of ${o.maxBytes}`)
  const set = await unitSetVersion(db, o.units)
  const codes = new Set((await db.query<{ code: string }>('SELECT code FROM unit WHERE set_id = $1', [set.id])).map((r) => r.code))
  const rows = await readTableLines(o.file)
  if (!rows.length) throw new BadInput(`${file}: no rows under the header (unit_code, indicator, value, unit)`)
  const head = new Set(rows.flatMap((r) => Object.keys(r.values)))
  for (const col of ['unit_code', 'indicator', 'value']) if (!head.has(col)) throw new BadInput(`${file}: no column '${col}'; the table is long: unit_code, indicator, value, unit`)
  const problems: string[] = []
  const seen = new Map<string, number>()
  const units = new Map<string, { unit: string; line: number }>()
  const values: [string, string, number][] = []
  for (const { line, values: r } of rows) {
    const code = String(r.unit_code ?? '').trim()
    const ind = String(r.indicator ?? '').trim()
    const raw = r.value
    const unit = String(r.unit ?? '').trim()
    if (!code) problems.push(`line ${line}: no unit_code`)
    else if (!codes.has(code)) problems.push(`line ${line}: unit code ${code} is not in unit set ${set.name}`)
    if (!INDICATOR_RE.test(ind)) problems.push(`line ${line}: indicator '${ind}' is not a name (1–64 letters, digits, _ . % ( ) / -)`)
    const v = numberCell(raw)
    if (!Number.isFinite(v)) problems.push(`line ${line}: value '${String(raw ?? '')}' is not a number`)
    const key = `${code}\u0000${ind}`
    if (seen.has(key)) problems.push(`line ${line}: ${ind} of ${code} is given twice (also line ${seen.get(key)})`)
    else seen.set(key, line)
    const u = units.get(ind)
    if (!u) units.set(ind, { unit, line })
    else if (u.unit !== unit) problems.push(`line ${line}: ${ind} in '${unit}', but line ${u.line} gives it in '${u.unit}'; one unit per indicator`)
    values.push([code, ind, v])
    if (problems.length >= MAX_PROBLEMS) break
  }
  if (problems.length) throw new BadInput(`${file}: ${problems.length >= MAX_PROBLEMS ? `the first ${MAX_PROBLEMS} problems` : `${problems.length} problem${problems.length > 1 ? 's' : ''}`}, nothing imported: ${problems.join('; ')}`)
  const checksum = await datasetChecksum(o.file)
  const indicators = Object.fromEntries([...units].map(([k, v]) => [k, v.unit]))
  return storeIndicators(db, { name: o.name, year: o.year, set, sourceFile: file, checksum, indicators, values, replace: o.replace, actor: o.actor })
}

/** Stores checked values as a new version of NAME@YEAR (the import's, or a computation's such as a watershed settlement). */
export async function storeIndicators(db: Db, o: {
  name: string; year: string; set: { id: number; name: string }; sourceFile: string; checksum: string
  indicators: Record<string, string>; values: [string, string, number][]; replace?: boolean; actor?: string
}): Promise<IndicatorSetVersion & { replaced?: number }> {
  return db.transaction(async (tx) => {
    const claim = await claimVersion(tx, 'indicator_set', o.name, o.year, { replace: o.replace, actor: o.actor })
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO indicator_set (name, vintage, unit_set, unit_set_id, source_file, source_checksum, row_count, indicators, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [o.name, o.year, o.set.name, o.set.id, o.sourceFile, o.checksum, o.values.length, JSON.stringify(o.indicators), o.actor ?? null])
    await tx.query(
      `INSERT INTO indicator_value (set_id, unit_code, indicator, value)
       SELECT $1, c, i, v FROM unnest($2::text[], $3::text[], $4::float8[]) AS t(c, i, v)`,
      [row!.id, o.values.map((v) => v[0]), o.values.map((v) => v[1]), o.values.map((v) => v[2])])
    return { id: row!.id, name: o.name, vintage: o.year, unit_set: o.set.name, unit_set_id: o.set.id, source_file: o.sourceFile, source_checksum: o.checksum, row_count: o.values.length, indicators: o.indicators, replaced: claim.retiredId }
  })
}

const COLUMNS = 'id, name, vintage, unit_set, unit_set_id, source_file, source_checksum, row_count, indicators'

/** The current indicator sets, newest year last per name. */
export async function listIndicatorSets(db: Queryable): Promise<IndicatorSetVersion[]> {
  const rows = await db.query<IndicatorSetVersion>(`SELECT ${COLUMNS} FROM indicator_set WHERE ${CURRENT} ORDER BY name, vintage`)
  return rows.sort((a, b) => (a.name === b.name ? compareVintage(a.vintage, b.vintage) : a.name < b.name ? -1 : 1))
}

/** `NAME` (its latest year) or `NAME@YEAR` → the current version. */
export const findIndicatorSet = (db: Queryable, spec: string) =>
  findVersion<IndicatorSetVersion>(db, 'indicator_set', COLUMNS, spec, { what: 'indicators', vintageWord: 'year', hint: 'import them with `ecocensus indicators import`' })

/** One indicator's values by unit code; refuses an indicator the version does not hold. */
export async function indicatorValues(db: Queryable, set: IndicatorSetVersion, indicator: string): Promise<Map<string, number>> {
  if (!(indicator in set.indicators)) throw new BadInput(`indicators ${set.name}@${set.vintage} have no indicator '${indicator}' (have ${Object.keys(set.indicators).join(', ')})`)
  const rows = await db.query<{ unit_code: string; value: number }>('SELECT unit_code, value FROM indicator_value WHERE set_id = $1 AND indicator = $2', [set.id, indicator])
  return new Map(rows.map((r) => [r.unit_code, Number(r.value)]))
}
