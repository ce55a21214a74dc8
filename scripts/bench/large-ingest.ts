// Streaming check: generate a shapefile of N polygons (default 200 000 × 64 vertices,
// ~210 MB .shp), then ingest it in a fresh child process and print its wall time and
// peak RSS (the generator's memory is not counted).
//   DATABASE_URL=postgres://… [ECOCENSUS_BENCH_HEAP_MB=160] node --import tsx scripts/bench/large-ingest.ts [N]
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { openDb } from '../../server/db/open.ts'
import { ingestLayer } from '../../server/ingest/ingest-layer.ts'
import { writeShapefile, esriGkZonePrj, type ShpRecord } from '../sample/write-shapefile.ts'
import { prepareLayer } from '../../server/stats/cells/read/contacts.ts'

if (process.argv[2] === '--ingest') await ingest(process.argv[3]!, Number(process.argv[4]))
else generate(Number(process.argv[2] ?? 200_000))

function generate(n: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-large-'))
  const records: ShpRecord[] = []
  for (let k = 0; k < n; k++) {
    const cx = 39_420_000 + (k % 500) * 300, cy = 3_250_000 + Math.floor(k / 500) * 300
    const ring: number[][] = []
    for (let v = 0; v < 64; v++) ring.push([cx + 120 * Math.cos((v / 64) * 2 * Math.PI), cy + 120 * Math.sin((v / 64) * 2 * Math.PI)])
    ring.push(ring[0]!)
    records.push({ attributes: { 名称: `图斑${k}`, BSM: k }, polygons: [[ring]] })
  }
  writeShapefile(path.join(dir, 'large'), [{ name: '名称', type: 'C', length: 40 }, { name: 'BSM', type: 'N', length: 10 }], records, { encoding: 'gbk', prj: esriGkZonePrj(39) })
  const size = fs.statSync(path.join(dir, 'large.shp')).size
  // ECOCENSUS_BENCH_HEAP_MB caps the ingesting process's V8 heap: streaming must fit in it
  const heap = process.env.ECOCENSUS_BENCH_HEAP_MB ? [`--max-old-space-size=${process.env.ECOCENSUS_BENCH_HEAP_MB}`] : []
  const child = spawnSync(process.execPath, [...heap, '--import', 'tsx', import.meta.filename, '--ingest', dir, String(size)], { stdio: 'inherit', env: process.env })
  fs.rmSync(dir, { recursive: true, force: true })
  process.exit(child.status ?? 1)
}

async function ingest(dir: string, size: number) {
  const rssBefore = process.memoryUsage().rss
  const db = await openDb({ url: process.env.DATABASE_URL, dataDir: path.join(dir, 'db') })
  const t = performance.now()
  const r = await ingestLayer(db, { file: path.join(dir, 'large.shp'), layer: 'large', kind: 'other', vintage: '1', maxBytes: 2 ** 40, replace: true, prepare: prepareLayer })
  const s = (performance.now() - t) / 1000
  console.log(`${db.backend}: ${r.loaded} polygons, .shp ${(size / 2 ** 20).toFixed(0)} MiB, ${s.toFixed(1)} s (${(r.loaded / s).toFixed(0)} features/s); RSS at start ${(rssBefore / 2 ** 20).toFixed(0)} MiB, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`)
  await db.close()
}
