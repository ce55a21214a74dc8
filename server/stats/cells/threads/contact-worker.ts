// A contact-finding worker: parses a tile of a layer's features from binary COPY rows
// (layer-features.ts parseCopy) and sends back the ids of those that meet another
// (contacts.ts markFound): the same code as in the calling thread, so the same ids.
import { parentPort } from 'node:worker_threads'
import { laea } from '../../../geom/laea.ts'
import { parseCopy } from '../read/layer-features.ts'
import { markFound } from '../read/contacts.ts'

export interface ContactTask { copy: Uint8Array; lon0: number; lat0: number }

const port = parentPort!
port.postMessage({ ready: true })
port.on('message', (t: ContactTask) => {
  try {
    const ids = markFound(parseCopy(Buffer.from(t.copy.buffer, t.copy.byteOffset, t.copy.byteLength), laea(t.lon0, t.lat0)))
    port.postMessage({ ids })
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    port.postMessage({ error: { name: e.name, message: e.message } })
  }
})
