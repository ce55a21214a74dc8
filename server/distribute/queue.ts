// The job queue that carries a distributed run's tasks between processes: pg-boss, in the
// PostgreSQL database the service already uses (schema ecocensus_queue). pg-boss rather
// than graphile-worker: a job has an expiry after which the queue's maintenance fails it
// and, while retries are left, gives it to the next worker — that is how the task of a
// worker killed with SIGKILL is taken up elsewhere; graphile-worker holds such a job
// locked for four hours unless something else knows the worker is dead. pg-boss 10 is the
// last line that runs on Node 20 (11 and later need Node 22).
import { randomUUID } from 'node:crypto'
import PgBoss from 'pg-boss'

export const TASK_QUEUE = 'ecocensus-tasks'
const SCHEMA = 'ecocensus_queue'

/** What a queued task carries: which run, which part of it, and how to compute that part. */
export interface TaskData {
  run: number
  part: number
  parts: number
  /** the task kind (worker/tasks.ts) */
  kind: string
  /** whatever that kind needs besides what the run row records */
  spec: unknown
}

export interface QueueOptions {
  url: string
  /** seconds a task may stay taken before the queue gives it to another worker (its worker
   *  is presumed dead); a task that takes longer is computed twice, its first result kept */
  expireSeconds: number
  /** attempts after the first (a failure or an expiry each count one) */
  retries: number
  /** seconds between the queue's maintenance passes (expiry is noticed at these) */
  maintenanceSeconds: number
  /** seconds between a worker's polls when the queue is empty */
  pollSeconds: number
}

export const QUEUE_DEFAULTS = { expireSeconds: 900, retries: 3, maintenanceSeconds: 10, pollSeconds: 0.5 }

export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed'

export interface QueuedJob { id: string; data: TaskData; retryCount: number; retryLimit: number }

export class TaskQueue {
  private constructor(private readonly boss: PgBoss, readonly options: QueueOptions) {}

  /** Connects, creating the queue's schema and queue on first use. */
  static async open(o: Partial<QueueOptions> & { url: string }): Promise<TaskQueue> {
    const options = { ...QUEUE_DEFAULTS, ...o }
    const boss = new PgBoss({
      connectionString: options.url,
      schema: SCHEMA,
      max: 2,
      application_name: 'ecocensus-queue',
      supervise: true,
      schedule: false,
      maintenanceIntervalSeconds: options.maintenanceSeconds,
    })
    // pg-boss reports its own connection trouble as events: kept for whoever asks (lastError)
    const queue = new TaskQueue(boss, options)
    boss.on('error', (err) => { queue.lastError = err })
    await boss.start()
    await boss.createQueue(TASK_QUEUE, { name: TASK_QUEUE, retryLimit: options.retries, retryDelay: 0, expireInSeconds: options.expireSeconds })
    return queue
  }

  lastError: unknown

  /** Queues the tasks; answers their job ids, in the order given. */
  async send(tasks: TaskData[]): Promise<string[]> {
    const ids = tasks.map(() => randomUUID())
    const o = this.options
    await this.boss.insert(tasks.map((data, i) => ({ id: ids[i], name: TASK_QUEUE, data, retryLimit: o.retries, retryDelay: 0, expireInSeconds: o.expireSeconds })))
    return ids
  }

  /** The jobs' states (a job the queue no longer holds is absent). */
  async states(ids: string[]): Promise<Map<string, { state: JobState; output: unknown }>> {
    const out = new Map<string, { state: JobState; output: unknown }>()
    for (const id of ids) {
      const j = await this.boss.getJobById<TaskData>(TASK_QUEUE, id, { includeArchive: true })
      if (j) out.set(id, { state: j.state, output: j.output })
    }
    return out
  }

  /** Takes the jobs out of the queue (those not yet taken are never handed out). */
  async cancel(ids: string[]): Promise<void> {
    if (ids.length) await this.boss.cancel(TASK_QUEUE, ids)
  }

  /**
   * Calls handle for each task, `concurrency` at a time; a handler that throws fails the
   * attempt (the queue retries it while attempts are left). Answers a function that stops
   * taking tasks and waits for those in hand. Each loop asks for the next task as soon as it
   * has finished one, and waits `pollSeconds` only when the queue had none (pg-boss's own
   * work() waits out its polling interval after every job: half a second per short task).
   */
  async work(concurrency: number, handle: (job: QueuedJob) => Promise<void>): Promise<() => Promise<void>> {
    let stopping = false
    const sleeping = new Set<() => void>()
    const loop = async () => {
      while (!stopping) {
        let job: PgBoss.JobWithMetadata<TaskData> | undefined
        try {
          ;[job] = await this.boss.fetch<TaskData>(TASK_QUEUE, { batchSize: 1, includeMetadata: true })
        } catch (err) {
          this.lastError = err
        }
        if (!job) {
          await new Promise<void>((resolve) => {
            const wake = () => { clearTimeout(t); sleeping.delete(wake); resolve() }
            const t = setTimeout(wake, this.options.pollSeconds * 1000)
            sleeping.add(wake)
          })
          continue
        }
        try {
          await handle({ id: job.id, data: job.data, retryCount: job.retryCount, retryLimit: job.retryLimit })
          await this.boss.complete(TASK_QUEUE, job.id)
        } catch (err) {
          await this.boss.fail(TASK_QUEUE, job.id, { message: err instanceof Error ? err.message : String(err) }).catch((e: unknown) => { this.lastError = e })
        }
      }
    }
    const loops = Array.from({ length: concurrency }, loop)
    return async () => {
      stopping = true
      for (const wake of [...sleeping]) wake()
      await Promise.all(loops)
    }
  }

  async close(): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: 30_000 })
  }
}
