// HTML to PDF through headless Chromium (Debian's chromium, driven by playwright-core), A4,
// with page numbers in the footer. Chromium is started for the one document and closed.
import fs from 'node:fs'
import { AppError } from '../errors.ts'

export class NoChromium extends AppError {
  override readonly status = 501
  override readonly code = 'no_chromium'
}

export async function htmlToPdf(html: string, o: { chromium?: string; footer?: string } = {}): Promise<Buffer> {
  const executablePath = o.chromium ?? process.env.ECOCENSUS_CHROMIUM ?? '/usr/bin/chromium'
  if (!fs.existsSync(executablePath)) throw new NoChromium(`a PDF report needs Chromium at ${executablePath} (Debian: apt-get install chromium; or set ECOCENSUS_CHROMIUM); --format html writes the same report without it`)
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] })
  try {
    const page = await browser.newPage()
    // nothing is fetched: the report is self-contained
    await page.route('**/*', (r) => (r.request().url().startsWith('data:') ? r.continue() : r.abort()))
    await page.setContent(html, { waitUntil: 'load' })
    return await page.pdf({
      format: 'A4', printBackground: true, preferCSSPageSize: true, displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate: `<div style="font-size:8px;width:100%;padding:0 14mm;color:#7b8794;display:flex;justify-content:space-between"><span>${(o.footer ?? '').replace(/[<>&]/g, '')}</span><span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>`,
    })
  } finally {
    await browser.close()
  }
}
