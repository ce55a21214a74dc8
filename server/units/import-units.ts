import type { Db } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import { emptyImport, fieldList, importSource, missingField, type SourceImportOptions } from '../ingest/import-source.ts'
import type { VectorSource } from '../ingest/source.ts'
import { checkName } from '../ingest/names.ts'
import { claimUnitSetName } from './unit-set.ts'

const INSERT_UNITS = loadSql(import.meta.url, './insert-units.sql')

// Field names tried, in order, when --code-field / --name-field are not given.
// XZQDM/XZQMC are the 三调 / 国土调查 names for 行政区代码/名称.
const CODE_FIELDS = ['code', 'adcode', 'XZQDM', 'xzqdm', 'CODE', 'ADCODE', 'id', 'ID']
const NAME_FIELDS = ['name', 'XZQMC', 'xzqmc', 'NAME', 'MC', 'mc']

export interface ImportUnitsOptions extends SourceImportOptions {
  set: string
  codeField?: string
  nameField?: string
  parentField?: string
  /** who imports (audit) */
  actor?: string
}

/**
 * Edges of units from a projected source (a township map in Gauss-Krüger, say) longer than
 * this many metres are split before reprojection (ingest/densify.ts), as grid cells' edges
 * are: the stored unit is the one drawn, and the cell engine takes it (edges ≤ 400 m).
 */
export const UNIT_EDGE_M = 250

/** Administrative units: unique codes (GB/T 2260 where given), names, parent codes. */
export async function importUnits(db: Db, o: ImportUnitsOptions) {
  const set = checkName(o.set, 'unit set name')
  return importSource(db, o, async (source) => {
    const codeField = pickField(source, o.codeField, CODE_FIELDS, '--code-field', true)!
    const nameField = pickField(source, o.nameField, NAME_FIELDS, '--name-field', false)
    const parentField = pickField(source, o.parentField, [], '--parent-field', false)
    const seen = new Map<string, number>()
    let replaced = false
    let setId = 0
    return {
      densify: UNIT_EDGE_M,
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
      begin: async (tx, head) => {
        replaced = await claimUnitSetName(tx, set, o.replace, o.actor)
        const [row] = await tx.query<{ id: number }>(
          `INSERT INTO unit_set (name, kind, params, source_file, source_checksum, source_crs, unit_count, report, created_by)
           VALUES ($1, 'admin', $2, $3, $4, $5, 0, '{}', $6) RETURNING id`,
          [set, JSON.stringify({ codeField, nameField: nameField ?? null, parentField: parentField ?? null, edgePiecesM: UNIT_EDGE_M }), head.file, head.checksum, head.crs, o.actor ?? null],
        )
        setId = row!.id
        return { sql: INSERT_UNITS, params: [setId] }
      },
      finish: async (tx, report, stored) => {
        if (!(stored.n > 0)) throw new BadInput(emptyImport(report, `unit set '${set}'`))
        await tx.query('UPDATE unit_set SET unit_count = $2, report = $3 WHERE id = $1', [setId, stored.n, JSON.stringify(report)])
        return { setId, set, loaded: stored.n, replaced, codeField, nameField, ...report }
      },
    }
  })
}

/** The field given by `option` (must exist), else the first candidate present. */
function pickField(source: VectorSource, given: string | undefined, candidates: string[], option: string, required: boolean): string | undefined {
  if (given) {
    if (!source.fields.includes(given)) throw new BadInput(missingField(source, given, option))
    return given
  }
  const found = candidates.find((c) => source.fields.includes(c))
  if (!found && required) throw new BadInput(`${source.file}: no unit code field found (tried ${candidates.join(', ')}); pass ${option} (${fieldList(source)})`)
  return found
}
