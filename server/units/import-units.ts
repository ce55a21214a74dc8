import path from 'node:path'
import type { Db } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import { openVectorSource } from '../ingest/open.ts'
import { datasetChecksum } from '../ingest/checksum.ts'
import { sourceCrs } from '../ingest/source-crs.ts'
import { stageSource, type InvalidPolicy } from '../ingest/stage.ts'
import { checkName } from '../ingest/names.ts'
import { claimUnitSetName } from './unit-set.ts'

const INSERT_UNITS = loadSql(import.meta.url, './insert-units.sql')

// Field names tried, in order, when --code-field / --name-field are not given.
// XZQDM/XZQMC are the 三调 / 国土调查 names for 行政区代码/名称.
const CODE_FIELDS = ['code', 'adcode', 'XZQDM', 'xzqdm', 'CODE', 'ADCODE', 'id', 'ID']
const NAME_FIELDS = ['name', 'XZQMC', 'xzqmc', 'NAME', 'MC', 'mc']

export interface ImportUnitsOptions {
  file: string
  displayName?: string
  set: string
  codeField?: string
  nameField?: string
  parentField?: string
  crs?: string
  encoding?: string
  table?: string
  replace?: boolean
  invalid?: InvalidPolicy
  maxBytes: number
  signal?: AbortSignal
  progress?: (done: number, total: number | undefined) => void
}

export async function importUnits(db: Db, o: ImportUnitsOptions) {
  const set = checkName(o.set, 'unit set name')
  const display = o.displayName ?? path.basename(o.file)
  const source = await openVectorSource(o.file, { encoding: o.encoding, table: o.table, maxBytes: o.maxBytes }, display)
  try {
    const pick = (given: string | undefined, candidates: string[], what: string, required: boolean) => {
      if (given) {
        if (!source.fields.includes(given)) throw new BadInput(`${source.file}: no field '${given}' for ${what} (fields: ${source.fields.join(', ') || 'none'})`)
        return given
      }
      const found = candidates.find((c) => source.fields.includes(c))
      if (!found && required) throw new BadInput(`${source.file}: no unit code field found (tried ${candidates.join(', ')}); pass ${what} (fields: ${source.fields.join(', ') || 'none'})`)
      return found
    }
    const codeField = pick(o.codeField, CODE_FIELDS, '--code-field', true)!
    const nameField = pick(o.nameField, NAME_FIELDS, '--name-field', false)
    const parentField = o.parentField ? pick(o.parentField, [], '--parent-field', true) : undefined
    const { crs, note } = await sourceCrs(db, source, o.crs)
    const checksum = await datasetChecksum(o.file)
    return await db.transaction(async (tx) => {
      const replaced = await claimUnitSetName(tx, set, o.replace)
      const seen = new Map<string, number>()
      const staged = await stageSource(tx, source, {
        crs,
        invalid: o.invalid ?? 'repair',
        tags: (f) => {
          const raw = f.attributes[codeField]
          if (raw === null || raw === undefined || String(raw).trim() === '') {
            throw new BadInput(`${source.file}: feature ${f.index + 1} has no value in code field '${codeField}'`)
          }
          const code = String(raw).trim()
          if (seen.has(code)) throw new BadInput(`${source.file}: unit code '${code}' appears twice (features ${seen.get(code)! + 1} and ${f.index + 1}); codes must be unique — dissolve multipart units first`)
          seen.set(code, f.index)
          const val = (field?: string) => (field && f.attributes[field] != null ? String(f.attributes[field]) : null)
          return { code, name: val(nameField), parent: val(parentField) }
        },
        signal: o.signal,
        progress: o.progress,
      })
      const report = { file: display, format: source.format, checksum, crs: crs.id, crsNote: note, encoding: source.encoding, ...staged }
      const [row] = await tx.query<{ id: number }>(
        `INSERT INTO unit_set (name, kind, params, source_file, source_checksum, source_crs, unit_count, report)
         VALUES ($1, 'admin', $2, $3, $4, $5, 0, $6) RETURNING id`,
        [set, JSON.stringify({ codeField, nameField: nameField ?? null, parentField: parentField ?? null }), display, checksum, crs.id, JSON.stringify(report)],
      )
      await tx.query(INSERT_UNITS, [row!.id], { signal: o.signal })
      const [n] = await tx.query<{ n: number }>('UPDATE unit_set SET unit_count = (SELECT count(*) FROM unit WHERE set_id = $1) WHERE id = $1 RETURNING unit_count AS n', [row!.id])
      return { setId: row!.id, set, loaded: n!.n, replaced, codeField, nameField, ...report }
    })
  } finally {
    await source.close()
  }
}
