// The compensation ledger on the sample (7 counties, 5 programmes over forest, wetland and
// farmland) against the plain PostGIS way an analyst would script: per unit, per programme in
// the rule's order, the programme's features dissolved and clipped (ST_Union, ST_Intersection),
// minus what earlier programmes cover (ST_Difference), ST_Area on geography. Arms alternate;
// ours in this process (--fresh) and as the CLI from a cold process. Exclusive areas of the two
// are compared per unit and programme.
//   DATABASE_URL=postgres://…/bench node --import tsx scripts/bench/ledger-bench.ts
//   BENCH_LEDGER_ROUNDS=3 BENCH_LEDGER_UNITS=huangshan_counties (or huangshan_grid_5km)
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { openDb } from '../../server/db/open.ts'
import { loadSampleIfEmpty } from '../../server/sample/load.ts'
import { compensate } from '../../server/ledger/compensate.ts'
import { precedence, readStandards, checkStandards } from '../../server/ledger/config.ts'
import { selectLayers } from '../../server/catalog/layer-select.ts'
import { ROOT } from '../../server/settings.ts'

const url = process.env.DATABASE_URL ?? ''
if (!url) throw new Error('ledger-bench needs DATABASE_URL (a PostGIS database; the sample is loaded into it if absent)')
const rounds = Number(process.env.BENCH_LEDGER_ROUNDS ?? 3)
const units = process.env.BENCH_LEDGER_UNITS ?? 'huangshan_counties'
const standardsFile = path.join(ROOT, 'data', 'sample', 'standards.yaml')

const db = await openDb({ url, dataDir: '' })
await loadSampleIfEmpty(db, 1 << 30, (m) => console.error(m), path.join(os.tmpdir(), 'ledger-bench-rasters'))
const config = readStandards(standardsFile)
const c = checkStandards(config)
const order = precedence(c)
const layerOf = new Map<string, number>()
for (const p of c.programmes) layerOf.set(p.id, (await selectLayers(db, p.layer))[0]!.id)

/** the plain way: exclusive area of every programme in every unit, by chained overlays */
async function plain(): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const us = await db.query<{ id: string; code: string }>('SELECT u.id::text, u.code FROM unit u JOIN unit_set s ON s.id = u.set_id WHERE s.name = $1 AND s.retired_at IS NULL ORDER BY code', [units])
  for (const u of us) {
    let earlier: Uint8Array | null = null
    for (const i of order) {
      const p = c.programmes[i]!
      const rows: { a: number | null; g: Uint8Array | null }[] = await db.query<{ a: number | null; g: Uint8Array | null }>(
        `WITH fp AS (
           SELECT ST_Intersection(ST_Union(f.geom), (SELECT geom FROM unit WHERE id = $1)) AS g
           FROM feature f JOIN unit u ON u.id = $1 AND f.geom && u.geom
           WHERE f.layer_id = $2 AND ($3::text[] IS NULL OR f.category = ANY($3)) AND ($4::text IS NULL OR f.attributes->>$4 = ANY($5::text[]))
         ), ex AS (
           SELECT CASE WHEN $6::bytea IS NULL THEN g ELSE ST_Difference(g, ST_GeomFromEWKB($6)) END AS e, g FROM fp
         )
         SELECT ST_Area(e::geography) AS a,
                ST_AsEWKB(CASE WHEN $6::bytea IS NULL THEN g WHEN g IS NULL THEN ST_GeomFromEWKB($6) ELSE ST_Union(g, ST_GeomFromEWKB($6)) END) AS g
         FROM ex`,
        [u.id, layerOf.get(p.id), p.categories ?? null, p.ownership_field ?? null, p.ownership_values ?? null, earlier])
      const r = rows[0]
      out.set(`${u.code}|${p.id}`, Number(r?.a ?? 0))
      earlier = r?.g ?? earlier
    }
  }
  return out
}

const lines: string[] = []
let last: Map<string, number> | undefined
let ours: Awaited<ReturnType<typeof compensate>> | undefined
for (let k = 0; k < rounds; k++) {
  let t = performance.now()
  const cli = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'ecocensus.mjs'), 'compensate', '--db', url, '--units', units, '--config', standardsFile, '--table', 'units', '--fresh'], { encoding: 'utf8' })
  if (cli.status !== 0) throw new Error(`ecocensus compensate failed: ${cli.stderr}`)
  const cold = (performance.now() - t) / 1000
  t = performance.now()
  last = await plain()
  const plainS = (performance.now() - t) / 1000
  t = performance.now()
  ours = await compensate(db, { units, config }, { reuse: false })
  const warm = (performance.now() - t) / 1000
  lines.push(`round ${k + 1}: ecocensus compensate (cold CLI process) ${cold.toFixed(1)} s | in process ${warm.toFixed(1)} s | plain PostGIS chain (exclusive areas only) ${plainS.toFixed(1)} s`)
  console.log(lines.at(-1))
}
// agreement of the exclusive (paid) areas
let worst = 0
for (const [key, want] of last!) {
  const [code, prog] = key.split('|') as [string, string]
  const got = ours!.rows.filter((r) => r.unit_code === code && r.programme === prog).reduce((s, r) => s + r.paid_m2, 0)
  worst = Math.max(worst, Math.abs(got - want) / Math.max(1, want))
}
const faces = (ours!.run.meta as { faces?: number }).faces
lines.push(`paid area per unit and programme, ours vs the plain chain: worst relative difference ${worst.toExponential(2)} over ${last!.size} pairs; ${faces} faces; the plain chain gives exclusive areas only (no classes, payees, pairs or explanations)`)
console.log(`\n${new Date().toISOString().slice(0, 10)} ledger-bench ${units}, ${os.cpus().length} cores:\n${lines.map((l) => `- ${l}`).join('\n')}`)
await db.close()
