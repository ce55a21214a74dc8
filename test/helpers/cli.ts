// Runs the CLI as a user would, in a child process. A child that outlives its time is
// killed outright (SIGKILL: a process busy in WebAssembly may not stop on SIGTERM), so
// the embedded database's lock (a pid file) is free for the next command, and the test
// says it timed out instead of failing later on a lock.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { ROOT } from '../../server/settings.ts'

/** Long enough for a busy 2-core machine; the suites that call the CLI give their tests more. */
export const CLI_TIMEOUT_MS = 240_000

export function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/ecocensus.mjs'), ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: CLI_TIMEOUT_MS, killSignal: 'SIGKILL', input })
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') throw new Error(`ecocensus ${args.join(' ')} took longer than ${CLI_TIMEOUT_MS} ms and was killed; stderr: ${r.stderr?.slice(-2000)}`)
  return { code: r.status, out: r.stdout, err: r.stderr }
}
