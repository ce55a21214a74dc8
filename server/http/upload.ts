// Uploads are streamed to a private spool folder, never held whole in memory, and bounded
// as they arrive (413 at the first byte over the limit, or at once from Content-Length).
// The folder is removed on every exit path of the request; a process killed outright
// (SIGKILL, power cut) leaves it behind, so the server sweeps the folders of processes that
// no longer run when it starts.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Request } from 'express'
import { BadInput, TooLarge } from '../errors.ts'

const PREFIX = 'ecocensus-up-'

/** Streams the request body to `dir/<name>` inside a new spool folder; runs fn on it; removes the folder. */
export async function withUpload<T>(req: Request, filename: string, maxBytes: number, fn: (file: string) => Promise<T>, spoolRoot = os.tmpdir()): Promise<T> {
  if (/\.shp$/i.test(filename)) throw new BadInput(`${filename}: upload a shapefile as one .zip holding its .shp, .dbf, .shx, .prj (and .cpg)`)
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes)
  const dir = fs.mkdtempSync(path.join(spoolRoot, `${PREFIX}${process.pid}-`))
  try {
    const file = path.join(dir, path.basename(filename))
    let bytes = 0
    const bound = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length
        done(bytes > maxBytes ? tooLarge(maxBytes) : null, chunk)
      },
    })
    await pipeline(req, bound, fs.createWriteStream(file, { mode: 0o600 }))
    if (bytes === 0) throw new BadInput(`${filename}: the upload is empty; send the file as the request body`)
    return await fn(file)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function tooLarge(maxBytes: number): TooLarge {
  return new TooLarge(`upload is larger than the limit of ${maxBytes} bytes (ECOCENSUS_MAX_UPLOAD_BYTES)`)
}

/** Removes spool folders left by processes that no longer run; returns how many. */
export function sweepSpool(spoolRoot = os.tmpdir()): number {
  let removed = 0
  let names: string[]
  try {
    names = fs.readdirSync(spoolRoot)
  } catch {
    return 0
  }
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)
    if (!m || alive(Number(m[1]))) continue
    fs.rmSync(path.join(spoolRoot, name), { recursive: true, force: true })
    removed++
  }
  return removed
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
