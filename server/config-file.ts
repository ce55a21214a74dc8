import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'

/**
 * A JSON or YAML file (YAML by a .yml/.yaml extension, JSON otherwise), parsed. Throws a plain
 * Error naming the file and the first line of the parser's complaint; callers add context.
 */
export function parseConfigFile(file: string): unknown {
  const yaml = /\.ya?ml$/i.test(file)
  const text = fs.readFileSync(file, 'utf8')
  try {
    return yaml ? YAML.parse(text) : JSON.parse(text)
  } catch (err) {
    throw new Error(`${path.basename(file)} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`)
  }
}
