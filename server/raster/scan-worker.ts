// A zonal scan worker: runs the jobs it is sent (zonal-job.ts) one at a time, reporting
// progress at most every 100 ms, and sends back the sums or the error.
import { parentPort } from 'node:worker_threads'
import { runJob, type ZonalJob } from './zonal-job.ts'

const port = parentPort!
port.on('message', async (job: ZonalJob) => {
  let last = 0
  try {
    const result = await runJob(job, {
      progress: async (f) => {
        const now = performance.now()
        if (now - last < 100 && f < 1) return
        last = now
        port.postMessage({ progress: f })
      },
    })
    port.postMessage({ result })
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    port.postMessage({ error: { name: e.name, message: e.message } })
  }
})
