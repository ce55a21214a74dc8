// Parsing a layer's features on other cores. Reading a big layer keeps this thread busy
// twice: receiving the rows from the database and parsing them (layer-features.ts). With
// the rows of each id range handed to a worker thread as they come, the parsing of one
// range runs while the next is received. Workers get the hex EWKB of a range as one string
// and send the features back packed in typed arrays (moved, not copied); the features
// here are views into them. Parsed the same code either way (FeatureParser), so the
// features are the same to the last bit. Small reads stay in this thread; workers are
// started on first use, kept, and do not keep the process alive. Used for rows of hex
// text (PGlite; contact finding inside an import's transaction): binary COPY from
// PostgreSQL (layer-features.ts readLayer) needs no decoding and is parsed where it arrives.
import { Worker } from 'node:worker_threads'
import { DEFAULT_PARSE_THREADS } from '../../../settings.ts'
import { joinHex } from '../read/feature-parse.ts'
import type { Laea } from '../../../geom/laea.ts'
import type { Feat } from '../union-boundary.ts'

export interface ParseTask { hex: string; lengths: Int32Array; lon0: number; lat0: number }

export interface PackedFeatures {
  /** rings' lon/lat, then projected, concatenated */
  coords: Float64Array
  proj: Float64Array
  /** per ring its first number in coords; one more at the end */
  ringStart: Int32Array
  /** per feature its first ring; one more at the end */
  featRing: Int32Array
  boxes: Float64Array
  area: Float64Array
  long: Uint8Array
  /** per feature the row it came from */
  rowOf: Int32Array
}

let threads = DEFAULT_PARSE_THREADS
/** rows below which a range is parsed in this thread */
let minRows = 500

/** Threads and threshold (tests set minRows 1 to force threads); unset ones take their defaults. */
export function configureParsePool(o: { threads?: number; minRows?: number }): void {
  threads = o.threads ?? DEFAULT_PARSE_THREADS
  if (!(Number.isInteger(threads) && threads >= 0)) throw new Error(`parse threads ${o.threads}: give a whole number ≥ 0`)
  minRows = o.minRows ?? 500
}

export function parseThreads(): number {
  return threads
}

export function parseMinRows(): number {
  return minRows
}

export function packFeatures(feats: Feat[], rowOf: number[]): PackedFeatures {
  let rings = 0, nums = 0
  for (const f of feats) { rings += f.rings.length; for (const r of f.rings) nums += r.length }
  const coords = new Float64Array(nums), proj = new Float64Array(nums)
  const ringStart = new Int32Array(rings + 1), featRing = new Int32Array(feats.length + 1)
  const boxes = new Float64Array(4 * feats.length), area = new Float64Array(feats.length), long = new Uint8Array(feats.length)
  let r = 0, at = 0
  feats.forEach((f, i) => {
    featRing[i] = r
    for (let k = 0; k < f.rings.length; k++) {
      ringStart[r++] = at
      coords.set(f.rings[k]!, at)
      proj.set(f.proj[k]!, at)
      at += f.rings[k]!.length
    }
    boxes.set(f.bbox, 4 * i)
    area[i] = f.area
    long[i] = f.long ? 1 : 0
  })
  ringStart[r] = at
  featRing[feats.length] = r
  return { coords, proj, ringStart, featRing, boxes, area, long, rowOf: Int32Array.from(rowOf) }
}

/** Features as views into packed arrays, with ids and categories from their rows. */
export function unpackFeatures(p: PackedFeatures, rows: { id: string; category: string | null }[], out: Feat[]): void {
  const n = p.area.length
  for (let i = 0; i < n; i++) {
    const rings: Float64Array[] = [], proj: Float64Array[] = []
    for (let r = p.featRing[i]!; r < p.featRing[i + 1]!; r++) {
      rings.push(p.coords.subarray(p.ringStart[r]!, p.ringStart[r + 1]!))
      proj.push(p.proj.subarray(p.ringStart[r]!, p.ringStart[r + 1]!))
    }
    const row = rows[p.rowOf[i]!]!
    const o = 4 * i
    out.push({ id: row.id, category: row.category, rings, proj, bbox: [p.boxes[o]!, p.boxes[o + 1]!, p.boxes[o + 2]!, p.boxes[o + 3]!], area: p.area[i]!, long: p.long[i] === 1 })
  }
}

const idle: Worker[] = []
/** ranges parsed in workers so far (tests check that threads were used) */
export let parsedInWorkers = 0
let started = 0
let ready = 0
const waiting: (() => void)[] = []

function spawn(): void {
  const w = new Worker(new URL('./parse-worker.mjs', import.meta.url), { execArgv: [], workerData: {} })
  w.unref()
  started++
  // a worker is used once it has loaded its modules (it says so); until then this thread
  // parses, so the first read of a process does not wait for workers to start
  const onReady = (m: { ready?: boolean }) => {
    if (!m.ready) return
    w.off('message', onReady)
    w.off('exit', onEarlyExit)
    ready++
    // a worker that stops while idle leaves the pool (one stopping during a task is released by it)
    w.once('exit', () => {
      const i = idle.indexOf(w)
      if (i >= 0) { idle.splice(i, 1); started--; ready-- }
    })
    release(w)
  }
  const onEarlyExit = () => { started--; w.off('message', onReady) }
  w.on('message', onReady)
  w.on('exit', onEarlyExit)
}

/** Stops the idle parse workers (they leave the pool as they exit; later reads start new ones). */
export async function stopParseWorkers(): Promise<void> {
  await Promise.all([...idle].map((w) => w.terminate()))
}

/** Resolves once every parse worker has started and loaded (tests; a service need not wait). */
export async function parseWorkersStarted(): Promise<void> {
  workersReady()
  while (ready < threads) await new Promise((r) => setTimeout(r, 20))
}

/** Some parse worker is ready (workers are started here on first call). */
export function workersReady(): boolean {
  while (started < threads) spawn()
  return ready > 0
}

async function acquire(): Promise<Worker> {
  for (;;) {
    const w = idle.pop()
    if (w) return w
    await new Promise<void>((resolve) => waiting.push(resolve))
  }
}

function release(w: Worker | undefined): void {
  if (w) idle.push(w)
  else { started--; ready-- }
  waiting.shift()?.()
}

/** The rows' features parsed in a worker thread (hex EWKB text rows only). */
export async function parseInWorker(rows: { id: string; category: string | null; wkb: string }[], pr: Laea): Promise<PackedFeatures> {
  const { hex, lengths } = joinHex(rows)
  const w = await acquire()
  return new Promise<PackedFeatures>((resolve, reject) => {
    const done = (ok: boolean) => {
      w.off('message', onMessage)
      w.off('error', onError)
      w.off('exit', onExit)
      release(ok ? w : undefined)
    }
    const onMessage = (m: { packed?: PackedFeatures; error?: { name: string; message: string } }) => {
      done(true)
      if (m.packed) {
        parsedInWorkers++
        resolve(m.packed)
      }
      else reject(Object.assign(new Error(m.error!.message), { name: m.error!.name }))
    }
    const onError = (err: Error) => { done(false); reject(err) }
    const onExit = (code: number) => onError(new Error(`parse worker stopped (exit code ${code})`))
    w.on('message', onMessage)
    w.on('error', onError)
    w.on('exit', onExit)
    w.postMessage({ hex, lengths, lon0: pr.lon0, lat0: pr.lat0 } satisfies ParseTask)
  })
}
