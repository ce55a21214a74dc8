// Start-up on the user's path (issue 29 item 5): `npm start` on a new embedded database
// (first start: the sample is loaded), again on the same database (restart), the service's
// resident memory once idle, and the CLI's own overhead (`--help`; `units list` on a
// PostGIS server and on the embedded database).
//
//   node --import tsx scripts/bench/startup-bench.ts           BENCH_ROUNDS=3 (default)
//   BENCH_OLD=/path/to/an/older/checkout (with node_modules)   adds that checkout as an arm
//   DATABASE_URL=postgres://…/bench                            adds `units list` on PostGIS
//
// Arms, alternating ABBA within each round: `compiled` (the default launcher: compiled
// JavaScript, trimmed PostGIS bundle, template), `tsx` (ECOCENSUS_TSX=1: the TypeScript
// sources through tsx's loader, the same database code) and, when given, `old` (another
// checkout started its own way). Every process is new (cold); a start is timed until
// /healthz answers 200, which needs PostGIS loaded.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ROOT } from '../../server/settings.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const PORT = 18_000 + (process.pid % 1000)

interface Arm { name: string; root: string; env: NodeJS.ProcessEnv }
const arms: Arm[] = [
  { name: 'compiled', root: ROOT, env: {} },
  { name: 'tsx', root: ROOT, env: { ECOCENSUS_TSX: '1' } },
]
if (process.env.BENCH_OLD) arms.push({ name: 'old', root: path.resolve(process.env.BENCH_OLD), env: {} })

const baseEnv = (dataDir: string): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, ECOCENSUS_DATA_DIR: dataDir, ECOCENSUS_RASTER_DIR: path.join(dataDir, 'rasters'), ECOCENSUS_PORT: String(PORT) }
  delete e.DATABASE_URL
  return e
}

const rssMiB = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

/** Starts the service, waits for /healthz, waits `idleMs`, reads RSS, stops it with SIGTERM. */
async function start(arm: Arm, dataDir: string, idleMs = 5000): Promise<{ ms: number; rss: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [path.join(arm.root, 'scripts', 'ecocensus.mjs'), 'serve'], { cwd: arm.root, env: { ...baseEnv(dataDir), ...arm.env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => { err = (err + d).slice(-4000) })
  const exited = new Promise<number | null>((r) => child.once('exit', r))
  let ms = NaN
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${arm.name}: the service exited (${child.exitCode}): ${err}`)
      const ok = await fetch(`http://127.0.0.1:${PORT}/healthz`).then((r) => r.ok, () => false)
      if (ok) { ms = performance.now() - t0; break }
      if (performance.now() - t0 > 300_000) throw new Error(`${arm.name}: no answer in 300 s: ${err}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    await new Promise((r) => setTimeout(r, idleMs))
    return { ms, rss: rssMiB(child.pid!) }
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

function cli(arm: Arm, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [path.join(arm.root, 'scripts', 'ecocensus.mjs'), ...args], { cwd: arm.root, env: { ...env, ...arm.env }, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${arm.name} ${args.join(' ')}: exit ${r.status}: ${r.stderr.slice(-2000)}`)
  return performance.now() - t0
}

const results = new Map<string, number[]>()
const add = (arm: string, what: string, v: number) => {
  const k = `${arm}\t${what}`
  results.set(k, [...(results.get(k) ?? []), v])
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ecocensus-startup-'))
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? arms : [...arms].reverse()
    for (const arm of order) {
      const dir = path.join(scratch, `${arm.name}-${round}`)
      const first = await start(arm, dir)
      add(arm.name, 'first start, s', first.ms / 1000)
      add(arm.name, 'idle RSS after first start, MiB', first.rss)
      const again = await start(arm, dir)
      add(arm.name, 'restart, s', again.ms / 1000)
      add(arm.name, 'idle RSS after restart, MiB', again.rss)
      add(arm.name, 'CLI --help, s', cli(arm, ['--help'], baseEnv(dir)) / 1000)
      add(arm.name, 'CLI units list (embedded), s', cli(arm, ['units', 'list'], baseEnv(dir)) / 1000)
      if (process.env.DATABASE_URL) add(arm.name, 'CLI units list (PostGIS), s', cli(arm, ['units', 'list'], process.env) / 1000)
      fs.rmSync(dir, { recursive: true, force: true })
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${arm.name}: first ${(first.ms / 1000).toFixed(2)} s, restart ${(again.ms / 1000).toFixed(2)} s, RSS ${again.rss.toFixed(0)} MiB\n`)
    }
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true })
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }
const whats = [...new Set([...results.keys()].map((k) => k.split('\t')[1]!))]
console.log(`\nstart-up, ${ROUNDS} rounds, ${os.cpus().length} cores, ${new Date().toISOString()}: median (min–max)\n`)
console.log(`| | ${arms.map((a) => a.name).join(' | ')} |`)
console.log(`|---|${arms.map(() => '---').join('|')}|`)
for (const w of whats) {
  console.log(`| ${w} | ${arms.map((a) => {
    const xs = results.get(`${a.name}\t${w}`) ?? []
    const f = (v: number) => (w.includes('MiB') ? v.toFixed(0) : v.toFixed(2))
    return xs.length ? `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})` : '–'
  }).join(' | ')} |`)
}
