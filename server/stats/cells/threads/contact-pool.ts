// Contact finding on other cores (contacts.ts prepareLayer): while this thread reads the
// next tile of a layer as binary COPY, workers parse tiles already read and search them
// (contact-worker.ts). Started for one layer's preparation and stopped after it.
import { Worker } from 'node:worker_threads'
import { siblingModule } from '../../../module-url.ts'
import type { ContactTask } from './contact-worker.ts'

export class ContactPool {
  private readonly idle: Worker[] = []
  private readonly all: Worker[] = []
  private readonly waiting: ((w: Worker) => void)[] = []

  private constructor() {}

  get size(): number {
    return this.all.length
  }

  /** `threads` workers, each started and loaded */
  static async start(threads: number): Promise<ContactPool> {
    const pool = new ContactPool()
    await Promise.all(Array.from({ length: threads }, () => new Promise<void>((resolve, reject) => {
      const w = new Worker(siblingModule(import.meta.url, 'contact-worker', { thread: true }), { execArgv: [] })
      w.unref()
      pool.all.push(w)
      const onExit = (code: number) => reject(new Error(`a contact worker stopped before it started (exit ${code})`))
      w.once('exit', onExit)
      w.once('error', reject)
      w.once('message', (m: { ready?: boolean }) => {
        if (!m.ready) return reject(new Error('a contact worker sent no ready message'))
        w.off('exit', onExit)
        w.off('error', reject)
        pool.release(w)
        resolve()
      })
    })))
    return pool
  }

  /** The ids of the tile's features that meet another (the buffer is moved to the worker). */
  async find(task: ContactTask): Promise<string[]> {
    const w = this.idle.pop() ?? await new Promise<Worker>((resolve) => this.waiting.push(resolve))
    try {
      return await new Promise<string[]>((resolve, reject) => {
        const onExit = (code: number) => reject(new Error(`a contact worker stopped (exit ${code})`))
        w.once('exit', onExit)
        w.once('message', (m: { ids?: string[]; error?: { name: string; message: string } }) => {
          w.off('exit', onExit)
          if (m.error) reject(Object.assign(new Error(m.error.message), { name: m.error.name }))
          else resolve(m.ids!)
        })
        w.postMessage(task, [task.copy.buffer as ArrayBuffer])
      })
    } finally {
      this.release(w)
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()))
  }

  private release(w: Worker): void {
    const next = this.waiting.shift()
    if (next) next(w)
    else this.idle.push(w)
  }
}
