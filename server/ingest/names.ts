import { BadInput } from '../errors.ts'
import { NAME_RE as NAME, VINTAGE_RE as VINTAGE } from '../validate/fields.ts'

export const LAYER_KINDS = ['redline', 'protected_area', 'forest', 'wetland', 'farmland', 'grassland', 'water', 'other'] as const
export type LayerKind = (typeof LAYER_KINDS)[number]

// Names travel in URLs, CSV and file names: letters (including CJK), digits, _ - . (the
// same alphabets the HTTP and CLI schemas check, server/validate/fields.ts)

export function checkName(value: string, what: string): string {
  if (!NAME.test(value)) throw new BadInput(`${what} '${value}' is not allowed: use 1–64 letters, digits, '_', '-' or '.'`)
  return value
}

export function checkVintage(value: string): string {
  if (!VINTAGE.test(value)) throw new BadInput(`vintage '${value}' is not allowed: use a year or date such as 2023 or 2023-06-30`)
  return value
}

export function checkKind(value: string): LayerKind {
  if (!(LAYER_KINDS as readonly string[]).includes(value)) throw new BadInput(`kind '${value}' is not one of ${LAYER_KINDS.join(', ')}`)
  return value as LayerKind
}
