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
import { slot } from '../../../scoped.ts'
import { joinHex } from '../read/feature-parse.ts'
import type { Laea } from '../../../geom/laea.ts'
import type { Feat } from '../union-boundary.ts'
import { siblingModule } from '../../../module-url.ts'

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

/**
 * Parse workers (threads; 0 = parse in the calling thread) and the size below which a range
 * is parsed in the calling thread (tests set minRows 1 to force threads). One pool per
 * runtime (server/runtime.ts); the reading code finds the pool bound for its work with
 * current(PARSE_POOL).
 */
export class ParsePool {
  readonly threads: number
  readonly minRows: number
  /** ranges parsed in workers so far (tests check that threads were used) */
  parsedInWorkers = 0
  private readonly idle: Worker[] = []
  private started = 0
  private ready = 0
  private readonly waiting: (() => void)[] = []

  constructor(o: { threads?: number; minRows?: number } = {}) {
    this.threads = o.threads ?? DEFAULT_PARSE_THREADS
    if (!(Number.isInteger(this.threads) && this.threads >= 0)) throw new Error(`parse threads ${o.threads}: give a whole number ≥ 0`)
    this.minRows = o.minRows ?? 500
  }

  private spawn(): void {
    const w = new Worker(siblingModule(import.meta.url, 'parse-worker', { thread: true }), { execArgv: [], workerData: {} })
    w.unref()
    this.started++
    const onReady = (m: { ready?: boolean }) => {
      if (!m.ready) return
      w.off('message', onReady)
      w.off('exit', onEarlyExit)
      this.ready++
      w.once('exit', () => {
        const i = this.idle.indexOf(w)
        if (i >= 0) { this.idle.splice(i, 1); this.started--; this.ready-- }
      })
      this.release(w)
    }
    const onEarlyExit = () => { this.started--; w.off('message', onReady) }
    w.on('message', onReady)
    w.on('exit', onEarlyExit)
  }

  /** Stops the idle parse workers (they leave the pool as they exit; later reads start new ones). */
  async stop(): Promise<void> {
    await Promise.all([...this.idle].map((w) => w.terminate()))
  }

  /** Resolves once every parse worker has started and loaded (tests; a service need not wait). */
  async whenStarted(): Promise<void> {
    this.workersReady()
    while (this.ready < this.threads) await new Promise((r) => setTimeout(r, 20))
  }

  /** Some parse worker is ready (workers are started here on first call). */
  workersReady(): boolean {
    while (this.started < this.threads) this.spawn()
    return this.ready > 0
  }

  private async acquire(): Promise<Worker> {
    for (;;) {
      const w = this.idle.pop()
      if (w) return w
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
  }

  private release(w: Worker | undefined): void {
    if (w) this.idle.push(w)
    else { this.started--; this.ready-- }
    this.waiting.shift()?.()
  }

  /** The rows' features parsed in a worker thread (hex EWKB text rows only). */
  async parse(rows: { id: string; category: string | null; wkb: string }[], pr: Laea): Promise<PackedFeatures> {
    const { hex, lengths } = joinHex(rows)
    const w = await this.acquire()
    return new Promise<PackedFeatures>((resolve, reject) => {
      const done = (ok: boolean) => {
        w.off('message', onMessage)
        w.off('error', onError)
        w.off('exit', onExit)
        this.release(ok ? w : undefined)
      }
      const onMessage = (m: { packed?: PackedFeatures; error?: { name: string; message: string } }) => {
        done(true)
        if (m.packed) {
          this.parsedInWorkers++
          resolve(m.packed)
        } else reject(Object.assign(new Error(m.error!.message), { name: m.error!.name }))
      }
      const onError = (err: Error) => { done(false); reject(err) }
      const onExit = (code: number) => onError(new Error(`parse worker stopped (exit code ${code})`))
      w.on('message', onMessage)
      w.on('error', onError)
      w.on('exit', onExit)
      w.postMessage({ hex, lengths, lon0: pr.lon0, lat0: pr.lat0 } satisfies ParseTask)
    })
  }
}

/** The parse pool of the work in progress; unbound: none (parse in the calling thread). */
export const PARSE_POOL = slot('parse pool', new ParsePool({ threads: 0 }))
