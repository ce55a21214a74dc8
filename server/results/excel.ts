// exceljs is loaded when a workbook is first made, not when a process starts: importing it
// costs ~0.3 s, which every CLI call paid (issue 29, start-up).
import type ExcelJS from 'exceljs'

export async function newWorkbook(): Promise<ExcelJS.Workbook> {
  const { default: Excel } = await import('exceljs')
  return new Excel.Workbook()
}
