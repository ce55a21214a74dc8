// A feature-parsing worker: parses the hex EWKB it is sent (parse-pool.ts) and sends the
// features back packed in transferable typed arrays.
import { parentPort } from 'node:worker_threads'
import { laea } from '../../../geom/laea.ts'
import { packFeatures, type ParseTask } from './parse-pool.ts'
import { FeatureParser } from '../read/feature-parse.ts'
import type { Feat } from '../union-boundary.ts'

const port = parentPort!
port.postMessage({ ready: true })
port.on('message', (t: ParseTask) => {
  try {
    const feats: Feat[] = []
    const rowOf: number[] = []
    new FeatureParser(laea(t.lon0, t.lat0)).parseJoined(Buffer.from(t.hex, 'hex'), t.lengths, (i, f) => { feats.push(f); rowOf.push(i) })
    const packed = packFeatures(feats, rowOf)
    port.postMessage({ packed }, [packed.coords, packed.proj, packed.ringStart, packed.featRing, packed.boxes, packed.area, packed.long, packed.rowOf].map((a) => a.buffer as ArrayBuffer))
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    port.postMessage({ error: { name: e.name, message: e.message } })
  }
})
