// Monitoring sections (断面): points between an upstream and a downstream unit, each with its
// target class. Imported from a shapefile or GeoJSON of points (read by the layer readers, the
// only place they accept points; CRS from the .prj or the file) or a table with lon/lat columns
// (CGCS2000), checked whole, stored as an immutable version with the file's
// checksum. The pair of units comes from the attributes, or from the unit boundary the point
// lies on within a stated tolerance; a point near no boundary, or a pair whose direction the
// attributes do not give, is refused with what to add.
import fs from 'node:fs'
import path from 'node:path'
import type { Db, Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput, TooLarge } from '../errors.ts'
import { claimVersion, CURRENT } from '../catalog/versions.ts'
import { findVersion } from '../catalog/find-version.ts'
import { datasetChecksum } from '../ingest/checksum.ts'
import { resolveCrs } from '../crs/resolve.ts'
import { reprojector } from '../crs/reproject.ts'
import type { CrsDef } from '../crs/registry.ts'
import { openVectorSource } from '../ingest/open.ts'
import { sourceCrs } from '../ingest/source-crs.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { readTableLines } from '../validate/read-table.ts'
import { NAME_RE, VINTAGE_RE } from '../validate/fields.ts'

const SECTION_UNITS_SQL = loadSql(import.meta.url, './section-units.sql')
const CODE_RE = /^[\p{L}\p{N}_.-]{1,64}$/u
const ROMAN: Record<string, number> = { Ⅰ: 1, Ⅱ: 2, Ⅲ: 3, Ⅳ: 4, Ⅴ: 5, I: 1, II: 2, III: 3, IV: 4, V: 5 }

export interface SectionRow {
  code: string; name: string | null; river: string | null; upstream: string; downstream: string
  target_class: number; water_body: 'river' | 'lake'; derived: string; lon: number; lat: number
}
export interface SectionSet { id: number; name: string; vintage: string; source_file: string; source_checksum: string; source_crs: string; unit_set: string | null; tolerance_m: number | null; section_count: number }

export interface ImportSectionsOptions {
  file: string; displayName?: string; name: string; vintage: string
  /** unit set whose boundaries give the pair where the attributes do not */
  units?: string
  /** metres from a unit boundary a section may lie (default 50) */
  toleranceM?: number
  crs?: string; replace?: boolean; actor?: string; maxBytes: number
}

interface RawSection { where: string; x: number; y: number; a: Record<string, unknown> }

/**
 * Points of a dataset the layer readers open (shapefile of points with its .prj and GBK, a .zip
 * of one, GeoJSON), or rows of a CSV/XLSX table with lon and lat (CGCS2000), with the CRS the
 * dataset states (or --crs).
 */
async function readPoints(db: Queryable, file: string, name: string, o: { maxBytes: number; crs?: string }): Promise<{ rows: RawSection[]; crs: CrsDef }> {
  const size = fs.statSync(file).size
  if (size > o.maxBytes) throw new TooLarge(`${name}: ${size} bytes is over the limit of ${o.maxBytes}`)
  if (/\.(csv|xlsx)$/i.test(name)) {
    const rows = (await readTableLines(file)).map(({ line, values }) => ({ where: `${name} line ${line}`, x: Number(values.lon), y: Number(values.lat), a: values }))
    return { rows, crs: await resolveCrs(o.crs ?? 'EPSG:4490', db, 'sections CRS') }
  }
  if (!/\.(shp|zip|geojson|json)$/i.test(name)) throw new BadInput(`${name}: give sections as a shapefile (.shp or .zip) or GeoJSON of points, or a .csv/.xlsx table with lon and lat (CGCS2000)`)
  const source = await openVectorSource(file, { maxBytes: o.maxBytes, geometry: 'point' }, name)
  try {
    const rows: RawSection[] = []
    for await (const f of source.features()) {
      const where = `${name} feature ${f.index + 1}`
      const g = f.geometry
      let c = (g as { coordinates?: unknown } | null)?.coordinates as number[] | number[][] | undefined
      if (g?.type === 'MultiPoint' && Array.isArray(c) && c.length === 1) c = c[0] as number[]
      else if (g?.type !== 'Point') throw new BadInput(`${where}: a ${g?.type ?? 'missing'} geometry; sections are points`)
      const [x, y] = c as number[]
      rows.push({ where, x: Number(x), y: Number(y), a: f.attributes })
    }
    return { rows, crs: (await sourceCrs(db, source, o.crs)).crs }
  } finally {
    await source.close()
  }
}

const text = (v: unknown) => (v === undefined || v === null || String(v).trim() === '' ? null : String(v).trim())

/** attribute names as section tables write them (a .dbf cuts names to 10 characters) */
const FIELDS: Record<string, string[]> = {
  code: ['code', '断面编码', '断面代码'], name: ['name', '断面名称'], river: ['river', '河流', '所在河流'],
  upstream: ['upstream', '上游'], downstream: ['downstream', '下游'], target_class: ['target_class', 'target_cla', '水质目标', '目标水质'], water_body: ['water_body', '水体类型'],
}
const field = (a: Record<string, unknown>, key: string) => {
  for (const k of FIELDS[key]!) if (a[k] !== undefined && a[k] !== null && String(a[k]).trim() !== '') return text(a[k])
  return null
}

/** Imports monitoring sections as a version; refused whole, every problem named. */
export async function importSections(db: Db, o: ImportSectionsOptions): Promise<SectionSet & { replaced?: number; sections: SectionRow[] }> {
  if (!NAME_RE.test(o.name)) throw new BadInput(`--name '${o.name}': 1–64 letters, digits, '_', '-' or '.'`)
  if (!VINTAGE_RE.test(o.vintage)) throw new BadInput(`--vintage '${o.vintage}': a year or date such as 2024`)
  const tol = o.toleranceM ?? 50
  if (!(tol > 0 && tol <= 1000)) throw new BadInput(`--tolerance ${tol}: metres from a unit boundary, more than 0 and at most 1000`)
  const name = path.basename(o.displayName ?? o.file)
  if (!fs.existsSync(o.file)) throw new BadInput(`${name}: no such file`)
  const { rows, crs } = await readPoints(db, o.file, name, o)
  if (!rows.length) throw new BadInput(`${name}: no sections`)
  const proj = reprojector(crs)
  const set = o.units ? await unitSetVersion(db, o.units) : undefined
  const problems: string[] = []
  const seen = new Map<string, string>()
  const out: SectionRow[] = []
  for (const r of rows) {
    try {
      const code = field(r.a, 'code')
      if (!code || !CODE_RE.test(code)) throw new BadInput(`code '${code ?? ''}' is not a section code (1–64 letters, digits, _ . -)`)
      if (seen.has(code)) throw new BadInput(`code ${code} is given twice (also ${seen.get(code)})`)
      seen.set(code, r.where)
      const [lon, lat] = proj.toStorage(r.x, r.y, 'coordinates')
      const tRaw = field(r.a, 'target_class')
      const target = tRaw === null ? NaN : ROMAN[tRaw.replace(/类$/, '')] ?? Number(tRaw)
      if (!Number.isInteger(target) || target < 1 || target > 5) throw new BadInput(`target_class '${tRaw ?? ''}' is not a class Ⅰ–Ⅴ (1–5)`)
      const wb = field(r.a, 'water_body') ?? 'river'
      if (wb !== 'river' && wb !== 'lake') throw new BadInput(`water_body '${wb}' is river or lake`)
      let up = field(r.a, 'upstream')
      let down = field(r.a, 'downstream')
      let derived = 'attributes'
      if (set) {
        const near = (await db.query<{ code: string; boundary_m: number; inside: boolean }>(SECTION_UNITS_SQL, [set.id, lon, lat, tol])).filter((u) => Number(u.boundary_m) <= tol)
        const codes = near.map((u) => u.code)
        if (!codes.length) throw new BadInput(`lies more than ${tol} m from every unit boundary of ${set.name}; a section sits on the boundary between its upstream and downstream units (move it, or raise --tolerance)`)
        if (codes.length > 2) throw new BadInput(`lies within ${tol} m of the boundaries of ${codes.join(', ')}; give upstream and downstream`)
        const given = [up, down].filter((c): c is string => c !== null)
        for (const g of given) if (!codes.includes(g) && codes.length === 2) throw new BadInput(`${g} is not on the boundary it lies on (between ${codes.join(' and ')} within ${tol} m)`)
        if (up && down) derived = `attributes, checked against the boundary of ${codes.join('/')} within ${tol} m`
        else if (codes.length === 2 && (up || down)) {
          const other = codes.find((c) => c !== (up ?? down))!
          if (up) down = other
          else up = other
          derived = `${up === other ? 'upstream' : 'downstream'} ${other}: the other unit on the boundary within ${tol} m`
        } else if (codes.length === 2) throw new BadInput(`lies on the boundary of ${codes[0]} and ${codes[1]}; give upstream (${codes[0]} or ${codes[1]}): which way the river flows is not in the geometry`)
        else throw new BadInput(`lies on the edge of ${set.name} next to ${codes[0]} only; give upstream and downstream (the unit across the edge is not in ${set.name})`)
      }
      if (!up || !down) throw new BadInput(`give upstream and downstream unit codes (or --units SET to take them from the boundary the section lies on)`)
      if (up === down) throw new BadInput(`upstream and downstream are both ${up}`)
      out.push({ code, name: field(r.a, 'name'), river: field(r.a, 'river'), upstream: up, downstream: down, target_class: target, water_body: wb, derived, lon, lat })
    } catch (err) {
      if (!(err instanceof BadInput)) throw err
      problems.push(`${r.where}: ${err.message}`)
      if (problems.length >= 12) break
    }
  }
  if (problems.length) throw new BadInput(`${name}: ${problems.length} problem${problems.length > 1 ? 's' : ''}, nothing imported: ${problems.join('; ')}`)
  const checksum = await datasetChecksum(o.file)
  return db.transaction(async (tx) => {
    const claim = await claimVersion(tx, 'section_set', o.name, o.vintage, { replace: o.replace, actor: o.actor })
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO section_set (name, vintage, source_file, source_checksum, source_crs, unit_set, tolerance_m, section_count, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [o.name, o.vintage, name, checksum, crs.id, set?.name ?? null, set ? tol : null, out.length, o.actor ?? null])
    await tx.query(
      `INSERT INTO section_point (set_id, code, name, river, upstream, downstream, target_class, water_body, derived, geom)
       SELECT $1, c, n, r, u, d, t, w, v, ST_SetSRID(ST_MakePoint(x, y), 4490)
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::float8[], $11::float8[]) AS s(c, n, r, u, d, t, w, v, x, y)`,
      [row!.id, out.map((s) => s.code), out.map((s) => s.name), out.map((s) => s.river), out.map((s) => s.upstream), out.map((s) => s.downstream),
        out.map((s) => s.target_class), out.map((s) => s.water_body), out.map((s) => s.derived), out.map((s) => s.lon), out.map((s) => s.lat)])
    return { id: row!.id, name: o.name, vintage: o.vintage, source_file: name, source_checksum: checksum, source_crs: crs.id, unit_set: set?.name ?? null, tolerance_m: set ? tol : null, section_count: out.length, replaced: claim.retiredId, sections: out }
  })
}

const COLUMNS = 'id, name, vintage, source_file, source_checksum, source_crs, unit_set, tolerance_m, section_count'

export const findSections = (db: Queryable, spec: string) => findVersion<SectionSet>(db, 'section_set', COLUMNS, spec, { what: 'sections' })

export async function listSections(db: Queryable): Promise<SectionSet[]> {
  return db.query<SectionSet>(`SELECT ${COLUMNS} FROM section_set WHERE ${CURRENT} ORDER BY name, vintage`)
}

export async function sectionsOf(db: Queryable, setId: number): Promise<SectionRow[]> {
  return db.query<SectionRow>(
    `SELECT code, name, river, upstream, downstream, target_class, water_body, derived, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM section_point WHERE set_id = $1 ORDER BY code`, [setId])
}
