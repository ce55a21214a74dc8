// The ecocensus command line: server/cli/program.ts defines the commands (each with a zod
// schema for its options, server/cli/options.ts); this runs it, with a one-line reason on
// stderr and the exit code of docs/design.md when something fails.
import { CommanderError } from 'commander'
import { exitCode, oneLine } from '../errors.ts'
import { program } from './program.ts'

program.parseAsync(process.argv).catch((err) => {
  // commander has printed its one line already (program.ts); help and version exit 0
  if (err instanceof CommanderError) { process.exitCode = err.exitCode === 0 ? 0 : 2; return }
  process.stderr.write(`ecocensus: ${oneLine(err)}\n`)
  if (process.env.ECOCENSUS_DEBUG) process.stderr.write(String((err as Error).stack) + '\n')
  process.exitCode = exitCode(err)
})
