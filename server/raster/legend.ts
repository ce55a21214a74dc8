// Class legends of categorical rasters: from a GDAL .aux.xml raster attribute table (or
// category names), from a --legend CSV/JSON file, or from the TIFF's own palette.
import fs from 'node:fs'
import { BadInput } from '../errors.ts'

export interface LegendEntry {
  value: number
  name: string
  /** '#rrggbb' */
  color?: string
}

const hex = (r: number, g: number, b: number) => '#' + [r, g, b].map((c) => Math.max(0, Math.min(255, Math.round(c))).toString(16).padStart(2, '0')).join('')

/** A legend file given with --legend: CSV (header value,name[,colour|,r,g,b]) or JSON [{value,name,colour}]. */
export function readLegendFile(file: string): LegendEntry[] {
  if (!fs.existsSync(file)) throw new BadInput(`--legend ${file}: no such file`)
  const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')
  const entries = /\.json$/i.test(file) ? fromJson(text, file) : fromCsv(text, file)
  return checked(entries, `--legend ${file}`)
}

function fromJson(text: string, file: string): LegendEntry[] {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new BadInput(`--legend ${file}: not valid JSON (${(err as Error).message})`)
  }
  const list = Array.isArray(data) ? data : (data as { classes?: unknown })?.classes
  if (!Array.isArray(list)) throw new BadInput(`--legend ${file}: expected an array of {value, name, colour}`)
  return list.map((e, i) => {
    const o = e as Record<string, unknown>
    return { value: Number(o.value), name: String(o.name ?? o.label ?? ''), color: normColor(o.colour ?? o.color, `--legend ${file} entry ${i + 1}`) }
  })
}

function fromCsv(text: string, file: string): LegendEntry[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
  if (lines.length < 2) throw new BadInput(`--legend ${file}: expected a header line (value,name,colour) and one line per class`)
  const split = (l: string) => l.split(/[,\t;]/).map((c) => c.trim().replace(/^"(.*)"$/, '$1'))
  const head = split(lines[0]!).map((h) => h.toLowerCase())
  const col = (...names: string[]) => head.findIndex((h) => names.includes(h))
  const iv = col('value', 'code', 'class', 'id')
  const iname = col('name', 'label', 'class_name', 'description')
  const icolor = col('colour', 'color', 'hex')
  const [ir, ig, ib] = [col('r', 'red'), col('g', 'green'), col('b', 'blue')]
  if (iv < 0 || iname < 0) throw new BadInput(`--legend ${file}: the header needs 'value' and 'name' columns (found: ${head.join(', ')})`)
  return lines.slice(1).map((l, i) => {
    const c = split(l)
    const where = `--legend ${file} line ${i + 2}`
    const color = icolor >= 0 ? normColor(c[icolor], where)
      : ir >= 0 && ig >= 0 && ib >= 0 ? hex(Number(c[ir]), Number(c[ig]), Number(c[ib])) : undefined
    return { value: Number(c[iv]), name: c[iname] ?? '', color }
  })
}

function normColor(c: unknown, where: string): string | undefined {
  if (c === undefined || c === null || c === '') return undefined
  const s = String(c).trim()
  if (/^#?[0-9a-f]{6}$/i.test(s)) return ('#' + s.replace('#', '')).toLowerCase()
  const rgb = /^(?:rgb\()?\s*(\d+)\s*[ ,]\s*(\d+)\s*[ ,]\s*(\d+)\s*\)?$/.exec(s)
  if (rgb) return hex(Number(rgb[1]), Number(rgb[2]), Number(rgb[3]))
  throw new BadInput(`${where}: colour '${s}' is not #rrggbb or r,g,b`)
}

function checked(entries: LegendEntry[], where: string): LegendEntry[] {
  const seen = new Set<number>()
  for (const e of entries) {
    if (!Number.isFinite(e.value)) throw new BadInput(`${where}: class value '${e.value}' is not a number`)
    if (seen.has(e.value)) throw new BadInput(`${where}: class value ${e.value} appears twice`)
    seen.add(e.value)
  }
  if (!entries.length) throw new BadInput(`${where}: no classes`)
  return entries.sort((a, b) => a.value - b.value)
}

/**
 * The legend of band 1 in a GDAL PAM file (<raster>.aux.xml): a raster attribute table
 * (value from a MinMax field or Row0Min + index·BinSize; name from the Name-usage field
 * or the first text field; colour from Red/Green/Blue), else CategoryNames. Rows without
 * a name are not classes. Undefined when the file has neither.
 */
export function legendFromAuxXml(xml: string, where: string): LegendEntry[] | undefined {
  const band = /<PAMRasterBand[^>]*band="1"[^>]*>([\s\S]*?)<\/PAMRasterBand>/.exec(xml)?.[1] ?? xml
  const rat = /<GDALRasterAttributeTable([^>]*)>([\s\S]*?)<\/GDALRasterAttributeTable>/.exec(band)
  if (rat) {
    const attr = (n: string) => Number(new RegExp(`${n}="([^"]*)"`).exec(rat[1]!)?.[1])
    const row0 = attr('Row0Min')
    const bin = attr('BinSize')
    const fields = [...rat[2]!.matchAll(/<FieldDefn[^>]*>([\s\S]*?)<\/FieldDefn>/g)].map((m) => ({
      name: /<Name>([\s\S]*?)<\/Name>/.exec(m[1]!)?.[1] ?? '',
      type: Number(/<Type>(\d+)<\/Type>/.exec(m[1]!)?.[1]),
      usage: Number(/<Usage>(\d+)<\/Usage>/.exec(m[1]!)?.[1]),
    }))
    const find = (usage: number, names: RegExp) => {
      const byUsage = fields.findIndex((f) => f.usage === usage)
      return byUsage >= 0 ? byUsage : fields.findIndex((f) => names.test(f.name))
    }
    const iValue = find(5, /^(value|val)$/i)
    let iName = find(2, /^(class_?name|name|label)$/i)
    if (iName < 0) iName = fields.findIndex((f) => f.type === 2)
    const [ir, ig, ib] = [find(6, /^red$/i), find(7, /^green$/i), find(8, /^blue$/i)]
    const rows = [...rat[2]!.matchAll(/<Row index="(\d+)">([\s\S]*?)<\/Row>/g)]
    const realColours = [ir, ig, ib].every((i) => i >= 0 && fields[i]!.type === 1)
    const out: LegendEntry[] = []
    for (const r of rows) {
      const f = [...r[2]!.matchAll(/<F>([\s\S]*?)<\/F>|<F\s*\/>/g)].map((m) => decode(m[1] ?? ''))
      const value = iValue >= 0 ? Number(f[iValue]) : Number.isFinite(row0) ? row0 + Number(r[1]) * (Number.isFinite(bin) ? bin : 1) : Number(r[1])
      const name = iName >= 0 ? (f[iName] ?? '').trim() : ''
      if (!name) continue
      const scale = realColours ? 255 : 1
      const color = ir >= 0 && ig >= 0 && ib >= 0 ? hex(Number(f[ir]) * scale, Number(f[ig]) * scale, Number(f[ib]) * scale) : undefined
      out.push({ value, name, color })
    }
    if (out.length) return checked(out, where)
  }
  const cats = /<CategoryNames>([\s\S]*?)<\/CategoryNames>/.exec(band)
  if (cats) {
    const names = [...cats[1]!.matchAll(/<Category>([\s\S]*?)<\/Category>|<Category\s*\/>/g)].map((m) => decode(m[1] ?? '').trim())
    const out = names.map((name, value) => ({ value, name })).filter((e) => e.name)
    if (out.length) return checked(out, where)
  }
  return undefined
}

function decode(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')
}

/** A palette (TIFF ColorMap) as a legend, for the values that occur. */
export function legendFromPalette(palette: Map<number, [number, number, number]>, values: Iterable<number>): LegendEntry[] {
  const out: LegendEntry[] = []
  for (const v of values) {
    const c = palette.get(v)
    if (c) out.push({ value: v, name: String(v), color: hex(...c) })
  }
  return out.sort((a, b) => a.value - b.value)
}
