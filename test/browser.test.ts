// The viewer in headless Chromium (Debian's chromium, driven by playwright-core): loads
// without console errors, draws the units, and shows the API's numbers for a clicked unit.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Db } from '../server/db/db.ts'
import { openDb } from '../server/db/open.ts'
import { createApp } from '../server/http/app.ts'
import { loadSettings, ROOT } from '../server/settings.ts'
import { loadSampleIfEmpty } from '../server/sample.ts'

const CHROMIUM = '/usr/bin/chromium'
const haveChromium = fs.existsSync(CHROMIUM)
if (process.env.CI && !haveChromium) throw new Error('CI must run the browser tests: install Debian\'s chromium')
const ARTIFACTS = path.join(ROOT, 'test-artifacts')

describe.skipIf(!haveChromium)('viewer in Chromium', () => {
  let db: Db
  let server: Server
  let browser: Browser
  let page: Page
  let base: string
  const errors: string[] = []
  beforeAll(async () => {
    db = await openDb({ dataDir: 'memory://' })
    const rasterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eco-browser-'))
    await loadSampleIfEmpty(db, 1 << 30, () => {}, rasterDir)
    server = createApp({ db, settings: { ...loadSettings({}), rasterDir, tileCacheDir: path.join(rasterDir, 'tiles') } }).listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] })
    page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(base + '/')
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 })
    await page.waitForFunction(() => (window as unknown as { ecomap: { loaded(): boolean; areTilesLoaded(): boolean } }).ecomap.areTilesLoaded(), null, { timeout: 30_000 })
    await page.waitForTimeout(500)
    fs.mkdirSync(ARTIFACTS, { recursive: true })
  })
  afterAll(async () => {
    await browser?.close()
    server?.close()
    await db?.close()
  })

  /** Share of screenshot pixels in the map area that are not the plain background. */
  const paintedShare = async () => {
    const png = (await page.screenshot({ clip: { x: 340, y: 10, width: 840, height: 760 } })).toString('base64')
    return page.evaluate(async (b64) => {
      const img = new Image()
      img.src = 'data:image/png;base64,' + b64
      await img.decode()
      const c = document.createElement('canvas')
      c.width = img.width
      c.height = img.height
      const g = c.getContext('2d')!
      g.drawImage(img, 0, 0)
      const d = g.getImageData(0, 0, c.width, c.height).data
      let painted = 0
      // background #dfe6ee
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]! - 0xdf) + Math.abs(d[i + 1]! - 0xe6) + Math.abs(d[i + 2]! - 0xee) > 30) painted++
      return painted / (d.length / 4)
    }, png)
  }

  it('loads without console errors and draws the county units', async () => {
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer.png') })
    expect(errors).toEqual([])
    const share = await paintedShare()
    // the 7 counties fill a large part of the fitted view
    expect(share).toBeGreaterThan(0.3)
  })

  it('clicking a unit shows the same numbers the API returns', async () => {
    const [pt] = await db.query<{ x: number; y: number }>("SELECT ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT ST_PointOnSurface(geom) AS p FROM unit WHERE code = '341003') s")
    const xy = await page.evaluate(([x, y]) => (window as unknown as { ecomap: { project(p: [number, number]): { x: number; y: number } } }).ecomap.project([x, y]), [pt!.x, pt!.y] as [number, number])
    const box = (await page.locator('#map').boundingBox())!
    await page.mouse.click(box.x + xy.x, box.y + xy.y)
    await page.waitForSelector('#details h3[data-code="341003"]')
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-click.png') })
    const shown = await page.$$eval('#details tr[data-layer] td[data-m2]', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.m2)))
    const api = await (await fetch(`${base}/api/stats/coverage?units=huangshan_counties`)).json()
    const expected = api.rows.filter((r: { unit_code: string }) => r.unit_code === '341003').map((r: { area_m2: number }) => r.area_m2)
    expect(shown).toEqual(expected)
    expect(shown.length).toBe(5)
  })

  it('shows a land-cover raster from its tiles, and a clicked unit\'s class areas equal the zonal API', async () => {
    const before = await paintedShare()
    await page.selectOption('#raster', 'landcover@2023')
    await page.waitForSelector('#raster-legend span')
    await page.waitForFunction(() => (window as unknown as { ecomap: { areTilesLoaded(): boolean } }).ecomap.areTilesLoaded(), null, { timeout: 30_000 })
    await page.waitForTimeout(500)
    const [pt] = await db.query<{ x: number; y: number }>("SELECT ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT ST_PointOnSurface(geom) AS p FROM unit WHERE code = '341021') s")
    const xy = await page.evaluate(([x, y]) => (window as unknown as { ecomap: { project(p: [number, number]): { x: number; y: number } } }).ecomap.project([x, y]), [pt!.x, pt!.y] as [number, number])
    const box = (await page.locator('#map').boundingBox())!
    await page.mouse.click(box.x + xy.x, box.y + xy.y)
    await page.waitForSelector('#details h3[data-code="341021"]')
    await page.waitForSelector('#details table.zonal tr[data-class]')
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-raster.png') })
    const shown = await page.$$eval('#details table.zonal tr[data-class] td[data-m2]', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.m2)))
    const api = await (await fetch(`${base}/api/stats/zonal?units=huangshan_counties&raster=landcover@2023`)).json()
    expect(shown).toEqual(api.rows.filter((r: { unit_code: string }) => r.unit_code === '341021').map((r: { area_m2: number }) => r.area_m2))
    expect(shown.length).toBeGreaterThan(3)
    // the tiles cover the map where the unit fill was made transparent: still painted, and the picture changed
    expect(await paintedShare()).toBeGreaterThan(0.3)
    expect(before).toBeGreaterThan(0)
    expect(errors).toEqual([])
    await page.selectOption('#raster', '')
    await page.waitForTimeout(300)
  })

  it('switching the layer changes the picture', async () => {
    const before = await page.screenshot({ clip: { x: 340, y: 10, width: 840, height: 760 } })
    await page.selectOption('#layer', 'wetland')
    await page.waitForTimeout(500)
    const after = await page.screenshot({ clip: { x: 340, y: 10, width: 840, height: 760 } })
    expect(Buffer.compare(before, after)).not.toBe(0)
    expect(errors).toEqual([])
  })
})
