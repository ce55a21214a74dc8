import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import initSqlJs from 'sql.js'
import { BadInput } from '../errors.ts'
import type { CrsHint, ReadOptions, VectorSource } from './source.ts'
import { gpkgWkbOffset, wkbToGeometry } from '../geom/wkb.ts'

const require = createRequire(import.meta.url)

// sql.js (SQLite compiled to WASM) needs no native build; it holds the file in memory,
// so GeoPackages are bounded by ReadOptions.maxBytes like GeoJSON.
export async function openGeoPackage(file: string, opts: ReadOptions, displayName = path.basename(file)): Promise<VectorSource> {
  const name = displayName
  const size = fs.statSync(file).size
  if (size === 0) throw new BadInput(`${name}: the file is empty`)
  if (size > opts.maxBytes) throw new BadInput(`${name}: ${size} bytes is over the limit of ${opts.maxBytes}`)
  const SQL = await initSqlJs({ locateFile: (f: string) => require.resolve(`sql.js/dist/${f}`) })
  let db: InstanceType<typeof SQL.Database>
  try {
    db = new SQL.Database(fs.readFileSync(file))
    db.exec('SELECT count(*) FROM sqlite_master')
  } catch (err) {
    throw new BadInput(`${name}: not a GeoPackage (SQLite says: ${(err as Error).message})`)
  }
  const all = (sql: string, params: (string | number)[] = []) => {
    const stmt = db.prepare(sql)
    stmt.bind(params)
    const rows: Record<string, unknown>[] = []
    while (stmt.step()) rows.push(stmt.getAsObject())
    stmt.free()
    return rows
  }
  let tables: Record<string, unknown>[]
  try {
    tables = all(`SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c JOIN gpkg_geometry_columns g ON g.table_name = c.table_name WHERE c.data_type = 'features'`)
  } catch {
    db.close()
    throw new BadInput(`${name}: not a GeoPackage (no gpkg_contents / gpkg_geometry_columns tables)`)
  }
  const chosen = opts.table ? tables.filter((t) => t.table_name === opts.table) : tables
  if (chosen.length !== 1) {
    db.close()
    const list = tables.map((t) => t.table_name).join(', ') || 'none'
    throw new BadInput(opts.table ? `${name}: no feature table '${opts.table}' (tables: ${list})` : `${name}: ${tables.length} feature tables (${list}); pass --table NAME`)
  }
  const table = String(chosen[0]!.table_name)
  const geomCol = String(chosen[0]!.column_name)
  const srsId = Number(chosen[0]!.srs_id)
  const srs = all('SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?', [srsId])[0]
  let crs: CrsHint | undefined
  if (srs && String(srs.organization).toUpperCase() === 'EPSG' && Number(srs.organization_coordsys_id) > 0) {
    crs = { code: `EPSG:${srs.organization_coordsys_id}`, from: 'gpkg_spatial_ref_sys' }
  } else if (srs && typeof srs.definition === 'string' && srs.definition !== 'undefined') {
    crs = { wkt: srs.definition, from: 'gpkg_spatial_ref_sys' }
  }
  const q = (id: string) => '"' + id.replace(/"/g, '""') + '"'
  const columns = all(`PRAGMA table_info(${q(table)})`).map((c) => String(c.name))
  const fields = columns.filter((c) => c !== geomCol)
  const count = Number(all(`SELECT count(*) AS n FROM ${q(table)}`)[0]!.n)
  return {
    format: 'geopackage',
    file: `${name}:${table}`,
    fields,
    crs,
    expectedCount: count,
    async *features(signal) {
      const stmt = db.prepare(`SELECT * FROM ${q(table)}`)
      try {
        let index = 0
        while (stmt.step()) {
          signal?.throwIfAborted()
          const row = stmt.getAsObject()
          const blob = row[geomCol] as Uint8Array | null
          delete row[geomCol]
          let geometry = null
          if (blob && blob.byteLength) {
            try {
              const { offset, empty } = gpkgWkbOffset(blob)
              geometry = empty ? null : wkbToGeometry(blob, offset)
            } catch (err) {
              throw new BadInput(`${name}: feature ${index + 1} has an unreadable geometry (${(err as Error).message})`)
            }
          }
          yield { index, attributes: row as Record<string, unknown>, geometry }
          index++
        }
      } finally {
        stmt.free()
      }
    },
    async close() {
      db.close()
    },
  }
}
