// Land-cover classes → ecosystem types, the one mapping format of ESV and GEP:
// {CLASS: TYPE | {TYPE: fraction, …} | null}; null means the class has no ecosystem (no
// service, no value); fractions of a mixed class sum to 1.
import { BadInput } from '../errors.ts'

export type ClassMapping = Map<string, [string, number][]>

export function checkClassMapping(doc: unknown, types: readonly string[], where: string): ClassMapping {
  const bad = (m: string) => new BadInput(`${where}: ${m}`)
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('must be {CLASS: TYPE | {TYPE: fraction, …} | null}')
  const known = (k: string, t: string) => {
    if (!types.includes(t)) throw bad(`class ${k}: unknown ecosystem type '${t}' (known: ${types.join(', ')})`)
    return t
  }
  const classes: ClassMapping = new Map()
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (v === null) classes.set(k, [])
    else if (typeof v === 'string') classes.set(k, [[known(k, v), 1]])
    else if (typeof v === 'object' && !Array.isArray(v)) {
      const parts = Object.entries(v as Record<string, unknown>).map(([t, f]) => {
        if (typeof f !== 'number' || !(f > 0) || f > 1) throw bad(`class ${k}: fraction of '${t}' must be in (0, 1], not ${JSON.stringify(f)}`)
        return [known(k, t), f] as [string, number]
      })
      const sum = parts.reduce((s, [, f]) => s + f, 0)
      if (Math.abs(sum - 1) > 1e-9) throw bad(`class ${k}: fractions sum to ${sum}, not 1`)
      classes.set(k, parts)
    } else throw bad(`class ${k}: a type id, {type: fraction}, or null (no ecosystem)`)
  }
  if (!classes.size) throw bad('maps no class')
  return classes
}
