// The shapes of what callers may send, as zod schemas shared by the HTTP routes and the
// CLI: names from a safe alphabet, numbers in ranges, flags, bounding boxes. Each schema
// accepts what its front ends produce (query strings give text, JSON bodies numbers and
// booleans, commander `true` for flags) and yields one typed value. Domain checks that
// need the database (does the layer exist, has the raster that band) stay in the domain
// modules; these are the checks at the door.
import { z } from 'zod'
import { BadInput } from '../errors.ts'

/** layer, unit-set and raster names travel in URLs, CSV and file names */
export const NAME_RE = /^[\p{L}\p{N}_.-]{1,64}$/u
export const VINTAGE_RE = /^[0-9A-Za-z_.-]{1,32}$/
const SPEC_RE = /^[\p{L}\p{N}_.-]{1,64}(@[0-9A-Za-z_.-]{1,32})?$/u

export const text = (re: RegExp, expected: string, max = 2000) =>
  z.string({ error: (i) => (i.input === undefined ? 'is required' : Array.isArray(i.input) ? 'must be given once' : 'must be text') })
    .max(max, { error: `is longer than ${max} characters` })
    .regex(re, { error: expected })

export const name = text(NAME_RE, "1–64 letters, digits, '_', '-' or '.'")
export const vintage = text(VINTAGE_RE, 'a year or date such as 2023 or 2023-06-30')
/** vintages, comma-separated: 2018,2020,2023 */
export const vintageList = text(/^[0-9A-Za-z_.-]{1,32}(,[0-9A-Za-z_.-]{1,32}){0,99}$/, 'vintages separated by commas, such as 2018,2020,2023', 3400).transform((s) => s.split(','))
/** NAME or NAME@VINTAGE */
export const spec = text(SPEC_RE, 'NAME or NAME@VINTAGE')
/** NAME[@VINTAGE], comma-separated */
export const specList = text(/^[\p{L}\p{N}_.@#,-]{1,2000}$/u, 'NAME, NAME@VINTAGE or NAME#ID (a version from `layers history`), comma-separated')
/** A+B pairs, comma-separated, or all */
export const pairList = text(/^(all|[\p{L}\p{N}_.@,+-]{1,2000})$/u, "layer pairs A+B,C+D, or 'all'")
/** EPSG:4527, 4527, ALBERS-CN … (resolved against the registry later) */
export const crs = text(/^[A-Za-z0-9:_.+-]{1,64}$/, 'a CRS code such as EPSG:4527 or ALBERS-CN', 64)
export const encoding = text(/^[A-Za-z0-9_.:-]{1,32}$/, 'an encoding name such as GBK, GB18030 or UTF-8', 32)
/** an attribute (field or property) name */
export const field = text(/^[\p{L}\p{N}_. -]{1,64}$/u, "an attribute name: 1–64 letters, digits, '_', '-', '.' or spaces", 64)
/** a plain file name, no path; the extension picks the reader */
export const filename = text(/^[\p{L}\p{N}_-][\p{L}\p{N}_. -]{0,127}$/u, 'a plain file name such as layer.zip (no path)', 128)
export const tableName = text(/^[a-z_]{1,32}$/, 'a table name (lower-case letters and _)', 32)
export const gpkgTable = text(/^[\p{L}\p{N}_.-]{1,64}$/u, 'a GeoPackage table name', 64)

/** true/false/1/0 as text, or a boolean */
export const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' })], { error: 'must be true or false' })
  .transform((v) => v === true || v === 'true' || v === '1')

const NUMBER_TEXT = /^[+-]?(\d{1,20}(\.\d{0,20})?|\.\d{1,20})([eE][+-]?\d{1,3})?$/
/** a finite number, from a number or its text */
export const number = z.union([z.number(), z.string().regex(NUMBER_TEXT, { error: 'must be a number' }).transform(Number)], { error: 'must be a number' })
  .pipe(z.number().refine(Number.isFinite, { error: 'must be a finite number' }))
/** a whole number in [min, max] */
export const int = (min: number, max: number) => number.pipe(z.number().int({ error: 'must be a whole number' }).min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }))

/** one of a list */
export const oneOf = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { error: `must be one of ${values.join(', ')}` })

const pair = (s: string) => s.split(',').map((p) => p.trim())
/** 'lo,hi' with lo < hi (kept as text: it is part of a run's parameters) */
export const range = text(/^[^,]{1,24},[^,]{1,24}$/, 'lo,hi', 60)
  .refine((s) => { const [lo, hi] = pair(s).map((p) => (NUMBER_TEXT.test(p) ? Number(p) : NaN)); return lo! < hi! }, { error: 'two numbers lo,hi with lo < hi' })

/** [minlon, minlat, maxlon, maxlat] in degrees: an array of four numbers or their text a,b,c,d */
export const bbox = z.union([z.string().max(200).transform(pair), z.array(z.unknown())], { error: 'must be minlon,minlat,maxlon,maxlat' })
  .pipe(z.tuple([number, number, number, number], { error: 'must be four numbers minlon,minlat,maxlon,maxlat' }))
  .refine(([x0, y0, x1, y1]) => x0 >= -180 && x1 <= 180 && y0 >= -90 && y1 <= 90, { error: 'longitudes must lie in −180..180 and latitudes in −90..90' })
  .refine(([x0, y0, x1, y1]) => x0 < x1 && y0 < y1, { error: 'needs minlon < maxlon and minlat < maxlat' })

/** a run id */
export const unitCode = text(/^[\p{L}\p{N}_.-]{1,64}$/u, 'a unit code such as 341024', 64)
export const runId = text(/^[0-9]{1,15}$/, 'a run id (a number)', 15).transform(Number)

/** A ZodError as one sentence naming the parameter and the value as the caller wrote them.
 *  `style`: query (?name=), body ("name"), option (--name). */
export function describeIssues(error: z.ZodError, input: unknown, style: 'query' | 'body' | 'option'): string {
  const label = (key: string) =>
    style === 'query' ? `query parameter '${key}'` : style === 'body' ? `'${key}'` : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
  // unknown names first: a misspelt parameter explains the missing one that follows
  const issues = [...error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'))
  return issues.slice(0, 3).map((i) => {
    if (i.code === 'unrecognized_keys') {
      const what = style === 'query' ? 'query parameter' : style === 'body' ? 'key' : 'option'
      return `unknown ${what}${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k.slice(0, 40)}'`).join(', ')}`
    }
    const key = String(i.path[0] ?? '')
    const given = key && typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[key] : undefined
    const shown = typeof given === 'string' || typeof given === 'number' ? ` '${String(given).slice(0, 80)}'` : ''
    const sub = i.path.length > 1 ? ` (item ${i.path.slice(1).join('.')})` : ''
    if (!key) return i.message
    return i.message === 'is required' ? `${label(key)} is required` : `${label(key)}${shown}${sub}: ${i.message}`
  }).join('; ')
}

export type InputStyle = 'query' | 'body' | 'option'

/** Parses `input` with `schema`, or throws BadInput (400) naming the parameter. Empty text
 *  and null count as absent (a form field left blank). */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, style: InputStyle): z.output<S> {
  const given = typeof input === 'object' && input !== null && !Array.isArray(input)
    ? Object.fromEntries(Object.entries(input).filter(([, v]) => v !== '' && v !== null && v !== undefined))
    : input
  const r = schema.safeParse(given)
  if (!r.success) throw new BadInput(describeIssues(r.error, given, style))
  return r.data
}

/** One path segment (a name, a run id): BadInput naming `what` when it does not fit. */
export function parseSegment<S extends z.ZodType>(schema: S, value: string, what: string): z.output<S> {
  const r = schema.safeParse(value)
  if (!r.success) throw new BadInput(`${what} '${value.slice(0, 80)}': ${r.error.issues[0]!.message}`)
  return r.data
}
