// A zonal scan worker: runs the jobs it is sent (zonal-job.ts) one at a time, reporting
// progress at most every 100 ms, and sends back the sums or the error.
import { parentPort } from 'node:worker_threads'
import { packSums, unpackUnits, type PackedUnits } from './thread-codec.ts'
import { runJob, type ZonalJob } from './zonal-job.ts'

const port = parentPort!
// a job comes with its units packed (scan-pool.ts, thread-codec.ts)
port.on('message', async (msg: Omit<ZonalJob, 'units'> & { units: PackedUnits }) => {
  let last = 0
  try {
    const job: ZonalJob = { ...msg, units: unpackUnits(msg.units) }
    const result = await runJob(job, {
      progress: async (f) => {
        const now = performance.now()
        if (now - last < 100 && f < 1) return
        last = now
        port.postMessage({ progress: f })
      },
    })
    // sums of our own accumulators go back as one array, moved rather than copied
    const packed = packSums(job.accumulator, result.sums)
    if (packed) port.postMessage({ result: { ...result, sums: [] }, packedSums: packed }, [packed.buffer])
    else port.postMessage({ result })
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    port.postMessage({ error: { name: e.name, message: e.message } })
  }
})
