import type { Queryable } from '../db/db.ts'
import { BadInput, NotFound } from '../errors.ts'
import { CURRENT } from './versions.ts'

export interface LayerVersion {
  id: number
  name: string
  vintage: string
  kind: string
  source_checksum: string
  feature_count: number
  /** attribute the categories were read from at ingest, if any */
  category_field: string | null
}

/**
 * `--layers A,B@2020,C#12` → layer versions. A bare name means its latest vintage; NAME#ID
 * one version by id, also a retired one (older versions stay addressable); no list means the
 * latest vintage of every layer.
 */
export async function selectLayers(db: Queryable, spec?: string): Promise<LayerVersion[]> {
  const all = await db.query<LayerVersion>(
    `SELECT id, name, vintage, kind, source_checksum, feature_count, category_field FROM layer WHERE ${CURRENT} ORDER BY name, vintage`,
  )
  const latest = new Map<string, LayerVersion>()
  for (const l of all) {
    const prev = latest.get(l.name)
    if (!prev || compareVintage(l.vintage, prev.vintage) > 0) latest.set(l.name, l)
  }
  if (!spec?.trim()) return [...latest.values()]
  const out: LayerVersion[] = []
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^@#]+)(?:@([^@#]+))?(?:#([0-9]{1,9}))?$/.exec(item)
    if (!m) throw new BadInput(`--layers '${item}': write NAME, NAME@VINTAGE or NAME#ID`)
    const [, name, vintage, id] = m as unknown as [string, string, string | undefined, string | undefined]
    if (id !== undefined) {
      // one version by id, current or retired (ids from `ecocensus layers history NAME`)
      const [v] = await db.query<LayerVersion>('SELECT id, name, vintage, kind, source_checksum, feature_count, category_field FROM layer WHERE id = $1', [Number(id)])
      if (!v || v.name !== name || (vintage !== undefined && v.vintage !== vintage)) throw new NotFound(`layer '${name}' has no version ${id}${vintage ? ` in vintage ${vintage}` : ''}; see \`ecocensus layers history ${name}\``)
      if (!out.some((l) => l.id === v.id)) out.push(v)
      continue
    }
    const found = vintage ? all.find((l) => l.name === name && l.vintage === vintage) : latest.get(name)
    if (!found) {
      const versions = all.filter((l) => l.name === name).map((l) => l.vintage)
      throw new NotFound(
        versions.length
          ? `layer '${name}' has no vintage ${vintage} (has ${versions.join(', ')})`
          : `no layer '${name}' (known: ${[...latest.keys()].join(', ') || 'none'})`,
      )
    }
    if (!out.some((l) => l.id === found.id)) out.push(found)
  }
  // rows are labelled by name and vintage: two versions of one name and vintage in one run
  // would give two rows that cannot be told apart
  const labels = new Set<string>()
  for (const l of out) {
    const label = `${l.name}@${l.vintage}`
    if (labels.has(label)) throw new BadInput(`--layers names two versions of ${label}; compute them in separate runs`)
    labels.add(label)
  }
  return out
}

/** Vintages are years or ISO dates; compare numerically where both are numbers. */
export function compareVintage(a: string, b: string): number {
  const na = Number(a.replace(/-/g, ''))
  const nb = Number(b.replace(/-/g, ''))
  if (Number.isFinite(na) && Number.isFinite(nb) && a.length === b.length) return na - nb
  return a < b ? -1 : a > b ? 1 : 0
}
