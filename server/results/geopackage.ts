// A result's units as a GeoPackage (OGC 12-128r18, version 1.3): one feature table of the
// units' geometry exactly as stored (WKB from PostGIS, CGCS2000 EPSG:4490, its definition
// from PostGIS's spatial_ref_sys) with the per-unit properties as columns, written with
// sql.js (SQLite compiled to WebAssembly; no native build), which the GeoPackage reader
// already uses.
import { createRequire } from 'node:module'
import initSqlJs from 'sql.js'
import type { ExportUnit } from './export-units.ts'

const require = createRequire(import.meta.url)

export interface GpkgOptions {
  table: string
  description: string
  /** the storage CRS's WKT (PostGIS spatial_ref_sys.srtext of 4490) */
  srsWkt: string
}

/** GeoPackage binary geometry: the 'GP' header (little-endian, xy envelope) around ISO WKB. */
export function gpkgGeometry(wkb: Uint8Array, srsId: number, env: [number, number, number, number]): Buffer {
  const head = Buffer.alloc(8 + 32)
  head.write('GP', 0, 'ascii')
  head[2] = 0 // version 1
  head[3] = 0b0000_0011 // little-endian, envelope [minx, maxx, miny, maxy]
  head.writeInt32LE(srsId, 4)
  head.writeDoubleLE(env[0], 8)
  head.writeDoubleLE(env[2], 16)
  head.writeDoubleLE(env[1], 24)
  head.writeDoubleLE(env[3], 32)
  return Buffer.concat([head, wkb])
}

export async function geoPackage(units: ExportUnit[], columns: { name: string; type: 'REAL' | 'TEXT' }[], o: GpkgOptions): Promise<Buffer> {
  const SQL = await initSqlJs({ locateFile: (f: string) => require.resolve(`sql.js/dist/${f}`) })
  const db = new SQL.Database()
  try {
    const q = (name: string) => `"${name.replace(/"/g, '""')}"`
    db.run(`PRAGMA application_id = 1196444487; PRAGMA user_version = 10300;`)
    db.run(`CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
      CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
      CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));`)
    const srs = db.prepare('INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)')
    srs.run(['Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'])
    srs.run(['Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'])
    srs.run(['WGS 84 geodetic', 4326, 'EPSG', 4326, 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid'])
    srs.run(['China Geodetic Coordinate System 2000', 4490, 'EPSG', 4490, o.srsWkt, 'CGCS2000, the storage CRS of ecocensus'])
    srs.free()
    const env = units.reduce((e, u) => [Math.min(e[0], u.bbox[0]), Math.min(e[1], u.bbox[1]), Math.max(e[2], u.bbox[2]), Math.max(e[3], u.bbox[3])], [Infinity, Infinity, -Infinity, -Infinity])
    const has = units.length > 0
    db.run('INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [o.table, 'features', o.table, o.description, has ? env[0] : null, has ? env[1] : null, has ? env[2] : null, has ? env[3] : null, 4490])
    db.run('INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)', [o.table, 'geom', 'MULTIPOLYGON', 4490])
    db.run(`CREATE TABLE ${q(o.table)} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom MULTIPOLYGON, ${columns.map((c) => `${q(c.name)} ${c.type}`).join(', ')})`)
    const ins = db.prepare(`INSERT INTO ${q(o.table)} (geom, ${columns.map((c) => q(c.name)).join(', ')}) VALUES (?, ${columns.map(() => '?').join(', ')})`)
    db.run('BEGIN')
    for (const u of units) {
      ins.run([gpkgGeometry(u.wkb, 4490, u.bbox), ...columns.map((c) => {
        const v = u.properties[c.name]
        return v === null || v === undefined ? null : c.type === 'REAL' ? Number(v) : String(v)
      })])
    }
    db.run('COMMIT')
    ins.free()
    return Buffer.from(db.export())
  } finally {
    db.close()
  }
}
