// The county report (report/): its numbers are the API's, from the same runs; its PDF is
// real (Chromium; pdfinfo counts A4 pages, pdftotext reads the text back); compensation
// appears once computed; a key sees only its regions; a missing Chromium is a clear 501.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { createServer } from '../server/http/app.ts'
import { loadSettings } from '../server/settings.ts'
import { loadSampleIfEmpty } from '../server/sample/load.ts'
import { addKey } from '../server/auth/keys.ts'
import { setLayerLabel } from '../server/catalog/layer-labels.ts'
import { runCli } from './helpers/cli.ts'
import { baseUrl } from './helpers/http.ts'

const CHROMIUM = '/usr/bin/chromium'
const havePdf = fs.existsSync(CHROMIUM) && (() => { try { execFileSync('pdftotext', ['-v'], { stdio: 'ignore' }); return true } catch { return false } })()
if (process.env.CI && !havePdf) throw new Error('CI must test the PDF report: install Debian\'s chromium and poppler-utils')
const KEY = 'report-test-key-0123456789'

describe.skipIf(!havePdf)('county report', () => {
  let db: Db
  let server: Server
  let base: string
  let dir: string
  const get = (url: string, key: string | null = KEY) => fetch(`${base}${url}`, { headers: key ? { 'x-api-key': key } : {} })
  /** data-* attributes of the HTML rows matching a selector-like prefix */
  const rowsOf = (html: string, attr: string) => [...html.matchAll(new RegExp(`<tr ([^>]*${attr}[^>]*)>`, 'g'))].map((m) => Object.fromEntries([...m[1]!.matchAll(/data-([a-z0-9-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])))

  beforeAll(async () => {
    db = await openDb({ dataDir: 'memory://' })
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-report-'))
    await loadSampleIfEmpty(db, 1 << 30, () => {}, dir)
    server = createServer({ db, settings: { ...loadSettings({}), apiKey: KEY, rasterDir: dir, tileCacheDir: path.join(dir, 'tiles') } }).listen(0, '127.0.0.1')
    base = await baseUrl(server)
  }, 180_000)
  afterAll(async () => {
    server?.close()
    await db?.close()
  })

  it('HTML: coverage, ecological space and change per interval equal the coverage and trend APIs; no compensation before one is computed', async () => {
    const res = await get('/api/report?units=huangshan_counties&unit=341024&format=html')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    const html = await res.text()
    expect(html).toContain('祁门县')
    const layers = (await (await get('/api/layers')).json()).map((l: { name: string; vintage: string }) => `${l.name}@${l.vintage}`).join(',')
    const cov = await (await get(`/api/stats/coverage?units=huangshan_counties&layers=${encodeURIComponent(layers)}&union=true`)).json()
    const mine = cov.rows.filter((r: { unit_code: string }) => r.unit_code === '341024')
    const shown = rowsOf(html, 'data-vintage=')
    const want = mine.filter((r: { measure: string }) => r.measure === 'layer')
    expect(shown.length).toBe(want.length)
    for (const w of want) expect(Number(shown.find((s) => s.layer === w.layer && s.vintage === w.vintage)?.m2)).toBe(w.area_m2)
    expect(Number(rowsOf(html, 'data-measure="union"')[0]!.m2)).toBe(mine.find((r: { measure: string }) => r.measure === 'union').area_m2)
    // the change table: every layer with two vintages, equal to the trend API's interval
    const intervals = rowsOf(html, 'data-net=')
    expect(intervals.map((r) => r.layer).sort()).toEqual(['farmland', 'forest', 'protected_area', 'redline'])
    for (const r of intervals) {
      const tr = await (await get(`/api/stats/trend?units=huangshan_counties&layer=${r.layer}&format=json`)).json()
      const w = tr.intervals.find((i: { unit_code: string; category: string | null }) => i.unit_code === '341024' && i.category === null)
      expect([r.from, r.to, Number(r.net)]).toEqual([w.from_vintage, w.to_vintage, w.net_m2])
    }
    // factors: the same numbers the factors API gives for the unit
    const factors = await (await get('/api/factors?units=huangshan_counties')).json()
    const shownF = rowsOf(html, 'data-factor=')
    expect(shownF.length).toBe(factors.definitions.length)
    for (const f of shownF) expect(Number(f.value)).toBe(factors.rows.find((r: { unit_code: string; factor: string }) => r.unit_code === '341024' && r.factor === f.factor).value)
    // the map: the unit's outline and patches of each layer drawn
    expect(html).toMatch(/<clipPath id="unit"><path d="M [0-9.]+ -[0-9.]+/)
    expect((html.match(/data-layer="redline"\/>/g) ?? []).length).toBeGreaterThan(3)
    // nothing computed for money yet: said, not invented
    expect(rowsOf(html, 'data-amount=')).toEqual([])
    expect(html).toContain('本单元集尚未计算')
    // provenance: the runs it read are listed and in the header
    const runs = res.headers.get('x-run-id')!.split(',').map(Number)
    expect(runs).toContain(cov.run?.id ?? Number((await get(`/api/stats/coverage?units=huangshan_counties&layers=${encodeURIComponent(layers)}&union=true`)).headers.get('x-run-id')))
    for (const id of runs) expect(html).toContain(`data-run="${id}"`)
  }, 180_000)

  it('PDF through Chromium: A4 pages whose text carries the unit, its numbers and, once computed, its compensation', async () => {
    const standards = await (await get('/api/compensation/example')).json()
    const ledger = await (await fetch(`${base}/api/compensation?format=json`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ units: 'huangshan_counties', config: standards }) })).json()
    const amount = ledger.units.find((u: { unit_code: string }) => u.unit_code === '341024').amount_yuan
    const res = await get('/api/report?units=huangshan_counties&unit=341024')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(res.headers.get('content-disposition')).toContain('report-huangshan_counties-341024.pdf')
    const pdf = Buffer.from(await res.arrayBuffer())
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-')
    const file = path.join(dir, 'r.pdf')
    fs.writeFileSync(file, pdf)
    const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' })
    expect(Number(/Pages:\s+(\d+)/.exec(info)![1])).toBeGreaterThanOrEqual(3)
    expect(info).toMatch(/Page size:\s+59[45]\.\d+ x 84[12]\.\d+ pts \(A4\)/)
    const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' })
    for (const s of ['祁门县', '341024', '生态保护红线', '覆盖', '变化与时间序列', '面积因素', '生态保护补偿', '来源与方法']) expect(text).toContain(s)
    // the compensation now computed: its amount for the unit, as printed (2 decimals)
    expect(text).toContain(amount.toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 }))
    // the red line's 2023 area in hectares, as printed
    const html = await (await get('/api/report?units=huangshan_counties&unit=341024&format=html')).text()
    const red = rowsOf(html, 'data-layer="redline" data-vintage="2023"')[0]!
    expect(text).toContain((Number(red.m2) / 1e4).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 }))
    // English
    const en = await get('/api/report?units=huangshan_counties&unit=341024&lang=en')
    fs.writeFileSync(file, Buffer.from(await en.arrayBuffer()))
    const textEn = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' })
    for (const s of ['Coverage', 'Change and time series', 'Provenance and method']) expect(textEn).toContain(s)
  }, 180_000)

  it('display names: `layers label` names a layer in /api/layers, labelled CSV and the report; bad input is refused', async () => {
    await setLayerLabel(db, 'redline', { zh: '生态保护红线（调整后）', en: 'red line (adjusted)' }, 'test')
    const l = (await (await get('/api/layers')).json()).find((x: { name: string }) => x.name === 'redline')
    expect([l.name_zh, l.name_en]).toEqual(['生态保护红线（调整后）', 'red line (adjusted)'])
    // only the English name changes; the Chinese one stays
    await setLayerLabel(db, 'redline', { en: 'ecological red line (adjusted)' }, 'test')
    const csv = await (await get(`/api/stats/coverage?units=huangshan_counties&layers=redline@2023&format=csv&labels=zh`)).text()
    const lines = csv.replace(/^\uFEFF/, '').trim().split('\r\n').map((x) => x.split(','))
    const at = lines[0]!.indexOf('图层名称')
    expect(at).toBeGreaterThan(0)
    expect(new Set(lines.slice(1).map((x) => x[at]))).toEqual(new Set(['生态保护红线（调整后）']))
    const html = await (await get('/api/report?units=huangshan_counties&unit=341024&format=html')).text()
    expect(html).toContain('生态保护红线（调整后） <span class="id">redline</span>')
    const en = await (await get('/api/report?units=huangshan_counties&unit=341024&format=html&lang=en')).text()
    expect(en).toContain('ecological red line (adjusted) <span class="id">redline</span>')
    await expect(setLayerLabel(db, 'nosuch', { zh: 'x' })).rejects.toThrow(/layer 'nosuch' is not in the catalogue/)
    const r = runCli(['layers', 'label', 'redline'], { ...process.env, DATABASE_URL: '', ECOCENSUS_DATA_DIR: path.join(dir, 'cli-db') })
    expect([r.code, r.err.trim()]).toEqual([2, expect.stringMatching(/give --zh, --en or both/)])
  }, 120_000)

  it('a year keeps later vintages out; bad input, another region and a missing Chromium get clear errors', async () => {
    const html = await (await get('/api/report?units=huangshan_counties&unit=341024&year=2020&format=html')).text()
    expect(rowsOf(html, 'data-vintage=').map((r) => r.vintage)).toEqual(expect.arrayContaining(['2020']))
    expect(rowsOf(html, 'data-vintage=').every((r) => r.vintage === '2020')).toBe(true)
    expect(html).toContain('面积因素按各图层最新年份计算')
    const nosuch = await get('/api/report?units=huangshan_counties&unit=999999&format=html')
    expect(nosuch.status).toBe(404)
    expect((await nosuch.json()).error.message).toMatch(/unit '999999' is not in unit set 'huangshan_counties'/)
    expect((await get('/api/report?units=huangshan_counties&unit=341024&lang=fr')).status).toBe(400)
    expect((await get('/api/report?units=huangshan_counties&format=html')).status).toBe(400)
    const scoped = await addKey(db, 'tunxi', 'analyst', ['341002'])
    const other = await get('/api/report?units=huangshan_counties&unit=341024&format=html', scoped.key)
    expect(other.status).toBe(403)
    expect((await get('/api/report?units=huangshan_counties&unit=341002&format=html', scoped.key)).status).toBe(200)
    const saved = process.env.ECOCENSUS_CHROMIUM
    process.env.ECOCENSUS_CHROMIUM = path.join(dir, 'no-chromium')
    try {
      const r = await get('/api/report?units=huangshan_counties&unit=341024')
      expect(r.status).toBe(501)
      expect((await r.json()).error.message).toMatch(/needs Chromium at .*no-chromium.*--format html/)
    } finally {
      if (saved === undefined) delete process.env.ECOCENSUS_CHROMIUM
      else process.env.ECOCENSUS_CHROMIUM = saved
    }
  }, 180_000)
})
