import fs from 'node:fs'
import path from 'node:path'
import type { Db } from '../db/db.ts'
import { ROOT } from '../settings.ts'
import { ingestLayer } from '../ingest/ingest-layer.ts'
import { importUnits } from '../units/import-units.ts'
import { buildGrid } from '../units/build-grid.ts'
import { ingestRaster } from '../raster/ingest-raster.ts'
import { CURRENT } from '../catalog/versions.ts'
import { prepareLayer } from '../stats/cells/read/contacts.ts'
import { importIndicators } from '../indicators/indicators.ts'
import { importSections } from '../watershed/sections.ts'
import { importSeries } from '../watershed/series.ts'

export const SAMPLE_DIR = path.join(ROOT, 'data', 'sample')

interface Manifest {
  units: { file: string; set: string; codeField: string; nameField: string; parentField?: string }[]
  grids: { set: string; sizeM: number; within: string }[]
  layers: { file: string; layer: string; kind: string; vintage: string; categoryField?: string }[]
  rasters?: { file: string; name: string; vintage: string; kind: string; legend?: string }[]
  indicators?: { file: string; name: string; year: string; units: string }[]
  sections?: { file: string; name: string; vintage: string; units?: string }[]
  series?: { file: string; sections: string; vintage: string }[]
}

/**
 * Loads the bundled sample (data/sample/manifest.json) unless its unit sets are already
 * there; its rasters too when a raster store is given.
 */
export async function loadSampleIfEmpty(db: Db, maxBytes: number, log: (m: string) => void, rasterDir?: string): Promise<boolean> {
  const manifest = JSON.parse(fs.readFileSync(path.join(SAMPLE_DIR, 'manifest.json'), 'utf8')) as Manifest
  const have = await db.query(`SELECT 1 FROM unit_set WHERE name = $1 AND ${CURRENT}`, [manifest.units[0]!.set])
  if (have.length) return false
  log('loading the bundled sample data (first run)…')
  for (const u of manifest.units) {
    const r = await importUnits(db, { ...u, file: path.join(SAMPLE_DIR, u.file), maxBytes })
    log(`  units ${r.set}: ${r.loaded} units (${r.repaired.length} repaired)`)
  }
  for (const g of manifest.grids) {
    const r = await buildGrid(db, g)
    log(`  grid ${r.set}: ${r.loaded} cells of ${g.sizeM} m`)
  }
  for (const l of manifest.layers) {
    const r = await ingestLayer(db, { ...l, file: path.join(SAMPLE_DIR, l.file), maxBytes, prepare: prepareLayer })
    log(`  layer ${r.layer}@${r.vintage}: ${r.loaded} features (${r.repaired.length} repaired) from ${r.crs}`)
  }
  for (const x of manifest.indicators ?? []) {
    const r = await importIndicators(db, { ...x, file: path.join(SAMPLE_DIR, x.file), maxBytes })
    log(`  indicators ${r.name}@${r.vintage}: ${r.row_count} values of ${Object.keys(r.indicators).join(', ')}`)
  }
  for (const x of manifest.sections ?? []) {
    const r = await importSections(db, { ...x, file: path.join(SAMPLE_DIR, x.file), maxBytes })
    log(`  sections ${r.name}@${r.vintage}: ${r.section_count}`)
  }
  for (const x of manifest.series ?? []) {
    const r = await importSeries(db, { ...x, file: path.join(SAMPLE_DIR, x.file), maxBytes })
    log(`  series ${r.name}@${r.vintage}: ${r.row_count} values`)
  }
  for (const x of rasterDir ? manifest.rasters ?? [] : []) {
    const r = await ingestRaster(db, { ...x, file: path.join(SAMPLE_DIR, x.file), legend: x.legend && path.join(SAMPLE_DIR, x.legend), rasterDir: rasterDir!, replace: true })
    log(`  raster ${r.name}@${r.vintage}: ${r.width}×${r.height} ${r.kind}, ${r.crs}`)
  }
  return true
}
