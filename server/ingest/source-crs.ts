import type { Queryable } from '../db/db.ts'
import { CrsError } from '../errors.ts'
import type { CrsDef } from '../crs/registry.ts'
import { crsFromWkt, resolveCrs } from '../crs/resolve.ts'
import type { VectorSource } from './source.ts'

/** --crs wins; else the file's own CRS; else an error that asks for --crs. */
export async function sourceCrs(db: Queryable, source: VectorSource, override?: string): Promise<{ crs: CrsDef; note?: string }> {
  if (override) return { crs: await resolveCrs(override, db, '--crs') }
  const hint = source.crs
  if (hint?.code) return { crs: await resolveCrs(hint.code, db, `${source.file}: CRS from ${hint.from}`) }
  if (hint?.wkt !== undefined) return crsFromWkt(hint.wkt, db, source.file)
  throw new CrsError(`${source.file}: no .prj file and no --crs, so the coordinates cannot be placed; pass --crs EPSG:XXXX (e.g. EPSG:4490, or EPSG:4527 for CGCS2000 GK zone 39)`)
}
