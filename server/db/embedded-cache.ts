// Files the embedded database derives from its packages once per install (the trimmed
// PostGIS bundle, the template data directory): kept in <node_modules>/.cache/ecocensus,
// or in the system's temporary directory when node_modules cannot be written.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** `name` from the first cache folder that has it, else written by `write` (to a temporary
 *  file, renamed into place, so concurrent processes never read half a file); undefined
 *  when no folder can be written. */
export async function cached(nodeModules: string, name: string, write: (tmp: string) => Promise<void>, log: (msg: string) => void): Promise<string | undefined> {
  const dirs = [path.join(nodeModules, '.cache', 'ecocensus'), path.join(os.tmpdir(), 'ecocensus')]
  for (const dir of dirs) {
    const file = path.join(dir, name)
    if (fs.existsSync(file)) return file
  }
  for (const dir of dirs) {
    const file = path.join(dir, name)
    const tmp = `${file}.${process.pid}.tmp`
    try {
      fs.mkdirSync(dir, { recursive: true })
      await write(tmp)
      fs.renameSync(tmp, file)
      return file
    } catch (e) {
      fs.rmSync(tmp, { force: true })
      log(`embedded database: cannot write ${name} in ${dir} (${(e as Error).message})`)
    }
  }
  return undefined
}
