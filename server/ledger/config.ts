// The compensation standards (standards.yaml, docs/compensation.md): programmes paid per
// hectare (公益林, 湿地, 草原补奖, 永久基本农田 …), each a layer version with optional category
// and ownership filters, a rate and its unit, and the rule that decides who pays a hectare
// two programmes both cover. Checked whole with zod before anything runs.
import { z } from 'zod'
import { parseConfigFile } from '../config-file.ts'
import { BadInput } from '../errors.ts'
import * as f from '../validate/fields.ts'

/** the rules for ground that two or more programmes cover */
export const RULES = ['highest_once', 'first_listed', 'sum'] as const
export type Rule = (typeof RULES)[number]

export const MU_M2 = 10_000 / 15
/** rate units, as written in standards documents, and the m² one unit of area holds */
export const RATE_UNITS: Record<string, { area: 'mu' | 'ha'; m2: number; label: string; en: string }> = {
  '元/亩·年': { area: 'mu', m2: MU_M2, label: '元/亩·年', en: 'yuan/mu/yr' },
  '元/亩': { area: 'mu', m2: MU_M2, label: '元/亩·年', en: 'yuan/mu/yr' },
  'yuan/mu': { area: 'mu', m2: MU_M2, label: '元/亩·年', en: 'yuan/mu/yr' },
  '元/公顷·年': { area: 'ha', m2: 10_000, label: '元/公顷·年', en: 'yuan/ha/yr' },
  '元/公顷': { area: 'ha', m2: 10_000, label: '元/公顷·年', en: 'yuan/ha/yr' },
  'yuan/ha': { area: 'ha', m2: 10_000, label: '元/公顷·年', en: 'yuan/ha/yr' },
}

const layerSpec = z.string().min(1).max(100).regex(/^[\p{L}\p{N}_.-]{1,64}(@[0-9A-Za-z_.-]{1,32})?$/u, { error: 'a layer NAME or NAME@VINTAGE' })
const values = z.array(z.union([z.string(), z.number()]).transform(String)).min(1, { error: 'must list at least one value' }).max(1000)

const programme = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, { error: 'a programme id: lower-case letters, digits and _ (e.g. forest_state)' }),
  name: z.string().min(1).max(100),
  layer: layerSpec,
  categories: values.optional(),
  ownership_field: f.field.optional(),
  ownership_values: values.optional(),
  rate: f.number.pipe(z.number().min(0, { error: 'must be at least 0' }).max(1e6, { error: 'must be at most 1 000 000' })),
  rate_unit: z.string().refine((u) => u in RATE_UNITS, { error: `must be one of ${Object.keys(RATE_UNITS).join(', ')}` }),
  year: f.int(1900, 2200).optional(),
  payee_field: f.field.optional(),
  source: z.string().max(500).optional(),
  verified: z.boolean().optional(),
})
export type Programme = z.output<typeof programme>

export const StandardsSchema = z.strictObject({
  name: z.string().max(200).optional(),
  year: f.int(1900, 2200),
  rule: f.oneOf(RULES),
  payee_field: f.field.optional(),
  programmes: z.array(programme).min(1, { error: 'list at least one programme' }).max(100),
  note: z.string().max(2000).optional(),
})
export type Standards = z.output<typeof StandardsSchema>

/** A standards document checked whole: schema, unique ids, ownership filters complete. */
export function checkStandards(doc: unknown): Standards {
  const c = f.parseInput(StandardsSchema, doc, 'body') as Standards
  const seen = new Set<string>()
  c.programmes.forEach((p, i) => {
    if (seen.has(p.id)) throw new BadInput(`standards: programmes[${i}].id '${p.id}' is listed twice`)
    seen.add(p.id)
    if (!!p.ownership_field !== !!p.ownership_values) throw new BadInput(`standards: programme ${p.id}: ownership_field and ownership_values go together`)
  })
  return c
}

/** yuan per m² of a programme's rate */
export const ratePerM2 = (p: Programme) => p.rate / RATE_UNITS[p.rate_unit]!.m2

/** the payee attribute of a programme (its own, or the document's), if any */
export const payeeFieldOf = (c: Standards, p: Programme) => p.payee_field ?? c.payee_field ?? null

/**
 * The order in which programmes claim a hectare: by rate, highest first (ties by listing
 * order) for highest_once, and also for sum, where every programme pays and the order only
 * decides which of two is named as paying twice; the listing order for first_listed.
 */
export function precedence(c: Standards): number[] {
  const idx = c.programmes.map((_, i) => i)
  if (c.rule === 'first_listed') return idx
  return idx.sort((a, b) => ratePerM2(c.programmes[b]!) - ratePerM2(c.programmes[a]!) || a - b)
}

/** A standards file read for the CLI (YAML or JSON). */
export function readStandards(file: string): unknown {
  try {
    return parseConfigFile(file)
  } catch (err) {
    throw new BadInput(`standards: ${(err as Error).message}`)
  }
}
