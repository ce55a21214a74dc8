// A feature-parsing worker: parses the hex EWKB it is sent (parse-pool.ts) and sends the
// features back packed in transferable typed arrays.
import { parentPort } from 'node:worker_threads'
import { laea } from './laea.ts'
import { packFeatures, type ParseTask } from './parse-pool.ts'
import { FeatureParser } from './feature-parse.ts'
import type { Feat } from './union-boundary.ts'

const port = parentPort!
port.postMessage({ ready: true })
port.on('message', (t: ParseTask) => {
  try {
    const bytes = Buffer.from(t.hex, 'hex')
    const parser = new FeatureParser(laea(t.lon0, t.lat0))
    const feats: Feat[] = []
    const rowOf: number[] = []
    let at = 0
    for (let i = 0; i < t.lengths.length; i++) {
      const f = parser.parse('', null, bytes, at)
      at += t.lengths[i]!
      if (f) { feats.push(f); rowOf.push(i) }
    }
    const packed = packFeatures(feats, rowOf)
    port.postMessage({ packed }, [packed.coords, packed.proj, packed.ringStart, packed.featRing, packed.boxes, packed.area, packed.long, packed.rowOf].map((a) => a.buffer as ArrayBuffer))
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    port.postMessage({ error: { name: e.name, message: e.message } })
  }
})
