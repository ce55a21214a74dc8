// A field's zod schema as the JSON Schema the OpenAPI document shows: the value the field
// yields when that is representable (a whole number in its range), else what it accepts,
// with the text spellings of flags and numbers folded into boolean and number (a query
// string can only carry text; a JSON body may send either).
import { z } from 'zod'

type Json = Record<string, unknown>

const strip = ({ $schema: _s, ...rest }: Json): Json => rest

export function docSchema(s: z.ZodType): Json {
  const out = strip(z.toJSONSchema(s, { io: 'output', unrepresentable: 'any' }) as Json)
  if ('type' in out || 'enum' in out) return out
  const input = strip(z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Json)
  const any = input.anyOf as Json[] | undefined
  const description = input.description === undefined ? {} : { description: input.description }
  if (any?.some((a) => a.type === 'boolean')) return { type: 'boolean', ...description }
  if (any?.some((a) => a.type === 'number')) return { type: 'number', ...description }
  return input
}

/** Each field of an object shape with its schema, description and whether it is required. */
export function fieldsOf(shape: z.ZodRawShape): { name: string; schema: Json; description?: string; required: boolean }[] {
  return Object.entries(shape).map(([name, s]) => {
    const schema = docSchema(s as z.ZodType)
    const { description, ...rest } = schema as Json & { description?: string }
    return { name, schema: rest, description, required: !(s as z.ZodType).safeParse(undefined).success }
  })
}
