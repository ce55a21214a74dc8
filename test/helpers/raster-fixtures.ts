// Values of the generated rasters, known in advance: the tests compare what ecocensus
// reads and computes against these formulas (and against PostGIS evaluating them).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Classes of the categorical fixtures: blocks of 16×16 pixels, classes 1..7, nodata 0 in the top-left 20×20 pixels. */
export const CLASS_AT = (r: number, c: number): number => (r < 20 && c < 20 ? 0 : (((r >> 4) * 3 + (c >> 4)) % 7) + 1)
export const CLASS_SQL = (r: string, c: string) => `(CASE WHEN ${r} < 20 AND ${c} < 20 THEN 0 ELSE (((${r} / 16) * 3 + (${c} / 16)) % 7) + 1 END)`

export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'raster')

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}
