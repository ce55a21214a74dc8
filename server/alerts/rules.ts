// Alert rules (docs/alerts.md): what to watch per unit between vintages. A rule watches a
// layer (its loss, gain or net change between consecutive vintages, absolute or as a share of
// the earlier area) or a continuous raster (the change of a band's mean between vintages).
//
//   units: huangshan_counties            # optional: --units / the request's units win
//   rules:
//     - id: redline_loss
//       name: 生态保护红线面积减少
//       layer: redline
//       measure: lost_m2                 # lost_m2, gained_m2, net_m2, lost_pct, net_pct
//       op: '>'                          # >, >=, <, <=
//       value: 1000                      # m², or % of the earlier area
//     - id: fvc_down
//       raster: fvc
//       band: 1
//       measure: mean_diff               # later mean − earlier mean
//       op: '<'
//       value: -0.05
//       intervals: latest                # consecutive (default: every interval) or latest
import { createHash } from 'node:crypto'
import { z } from 'zod'
import * as f from '../validate/fields.ts'
import { BadInput } from '../errors.ts'

export const LAYER_MEASURES = ['lost_m2', 'gained_m2', 'net_m2', 'lost_pct', 'net_pct'] as const
export const RASTER_MEASURES = ['mean_diff'] as const
export const OPS = ['>', '>=', '<', '<='] as const

const rule = z.strictObject({
  id: f.name,
  name: z.string().max(200, { error: 'is longer than 200 characters' }).optional(),
  layer: f.name.optional(),
  raster: f.name.optional(),
  band: f.int(1, 1000).optional(),
  measure: f.oneOf([...LAYER_MEASURES, ...RASTER_MEASURES]),
  op: f.oneOf(OPS),
  value: f.number.pipe(z.number().finite()),
  intervals: f.oneOf(['consecutive', 'latest']).default('consecutive'),
  vintages: z.array(f.vintage).min(2, { error: 'needs two vintages or more' }).max(100).optional(),
  /** smallest patch reported as lost or gained ground, m² (default 1) */
  min_patch_m2: f.number.pipe(z.number().min(0)).optional(),
})

export const rulesFile = z.strictObject({
  units: f.name.optional(),
  rules: z.array(rule).min(1, { error: 'needs at least one rule' }).max(200, { error: 'holds at most 200 rules' }),
})

export type Rule = z.output<typeof rule>
export type Rules = z.output<typeof rulesFile>

/** Checks a rules document: its shape, then what the shape cannot say. */
export function checkRules(doc: unknown): Rules {
  const r = rulesFile.safeParse(doc)
  if (!r.success) {
    const i = r.error.issues[0]!
    throw new BadInput(`alert rules: ${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || 'document'}: ${i.message}`)
  }
  const ids = new Set<string>()
  for (const [n, x] of r.data.rules.entries()) {
    const at = `alert rules: rules[${n}] (${x.id})`
    if (ids.has(x.id)) throw new BadInput(`${at}: id used twice`)
    ids.add(x.id)
    if (!!x.layer === !!x.raster) throw new BadInput(`${at}: give either layer or raster`)
    if (x.layer && !(LAYER_MEASURES as readonly string[]).includes(x.measure)) throw new BadInput(`${at}: a layer rule measures ${LAYER_MEASURES.join(', ')}, not ${x.measure}`)
    if (x.raster && !(RASTER_MEASURES as readonly string[]).includes(x.measure)) throw new BadInput(`${at}: a raster rule measures ${RASTER_MEASURES.join(', ')}, not ${x.measure}`)
    if (x.band !== undefined && !x.raster) throw new BadInput(`${at}: band applies to raster rules`)
  }
  return r.data
}

export function rulesSha256(r: Rules): string {
  return createHash('sha256').update(JSON.stringify(r.rules)).digest('hex')
}

export const holds = (v: number, op: Rule['op'], t: number) => (op === '>' ? v > t : op === '>=' ? v >= t : op === '<' ? v < t : v <= t)

/** Which ground a layer alert points at: lost patches, or gained ones for gains. */
export const patchSide = (r: Rule): 'lost' | 'gained' => (r.measure === 'gained_m2' || (r.measure.startsWith('net') && (r.op === '>' || r.op === '>=')) ? 'gained' : 'lost')
