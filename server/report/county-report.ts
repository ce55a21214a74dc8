// `ecocensus report` and GET /api/report: a unit's report as PDF (Chromium) or HTML.
import type { Db } from '../db/db.ts'
import type { RunOptions } from '../runs/execute.ts'
import { reportData, type ReportOptions } from './report-data.ts'
import { reportHtml } from './report-html.ts'
import { htmlToPdf } from './report-pdf.ts'

export interface CountyReport {
  body: Buffer
  contentType: string
  ext: 'pdf' | 'html'
  name: string | null
  runs: number[]
}

export async function countyReport(db: Db, o: ReportOptions & { format?: 'pdf' | 'html' }, ro: RunOptions = {}): Promise<CountyReport> {
  const d = await reportData(db, o, ro)
  const html = reportHtml(d)
  const runs = d.runs.map((r) => r.id)
  if (o.format === 'html') return { body: Buffer.from(html), contentType: 'text/html; charset=utf-8', ext: 'html', name: d.unit.name, runs }
  const footer = `ecocensus · ${d.options.units} ${d.unit.code} · ${d.generatedAt.slice(0, 10)}`
  return { body: await htmlToPdf(html, { footer }), contentType: 'application/pdf', ext: 'pdf', name: d.unit.name, runs }
}
