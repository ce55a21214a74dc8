// `ecocensus worker` processes for the benchmarks of distributed runs (scale-bench.ts,
// province-bench.ts): started cold, resolved once each takes tasks, stopped with SIGTERM;
// a bench that stops on an error takes them with it (SIGKILL at its exit).
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export async function startWorkers(url: string, n: number, args: string[] = [], env: Record<string, string> = {}): Promise<{ stop: () => Promise<void>; startS: number }> {
  const t = performance.now()
  const kids: ChildProcess[] = []
  process.once('exit', () => { for (const c of kids) c.kill('SIGKILL') })
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(root, 'scripts/ecocensus.mjs'), 'worker', ...args], { cwd: root, env: { ...process.env, DATABASE_URL: url, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
    kids.push(c)
    let err = ''
    c.stderr!.on('data', (b) => { err += b; if (err.includes('taking tasks')) resolve() })
    c.once('exit', (code) => reject(new Error(`worker exited (${code}): ${err}`)))
  })))
  const startS = (performance.now() - t) / 1000
  return {
    startS,
    stop: async () => {
      await Promise.all(kids.map((c) => new Promise((r) => { c.removeAllListeners('exit'); c.once('exit', r); c.kill('SIGTERM') })))
    },
  }
}
