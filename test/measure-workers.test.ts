// Layers of cell coverage measured in measure workers (measure-pool.ts): on PostgreSQL the
// same figures to the last bit as all in the main thread (read in two steps and whole, by
// category, counted), warm runs from the workers' own caches, a worker that stops leaves its
// layers to the main thread, a cancelled run ends as cancelled; on PGlite none is used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../server/db/db.ts'
import { coverage } from '../server/stats/coverage.ts'
import type { Worker } from 'node:worker_threads'
import { createRuntime } from '../server/runtime.ts'
import { withCells } from './helpers/runtime.ts'
import { buildGrid } from '../server/units/build-grid.ts'
import { generateCounty, type GeneratedCounty } from '../scripts/bench/county-gen.ts'
import { backends } from './helpers/backends.ts'

interface Measured { elsewhere: { layer: number }[]; cached: number; direct: number; featuresRead: number }

for (const backend of backends()) {
  describe(`measure workers on ${backend.name}`, () => {
    let db: Db
    let county: GeneratedCounty
    beforeAll(async () => {
      db = await backend.open()
      county = await generateCounty(db, { scale: 1 / 4, seed: 5, prefix: 'mw_' })
      for (const size of [500, 100]) await buildGrid(db, { set: `mw${size}`, sizeM: size, bbox: county.bbox })
    }, 180_000)
    // one worker, thresholds 0: this small county is given to workers too; `kill` stops the
    // worker a job has just been posted to
    let kill: ((w: Worker) => void) | undefined
    const rt = createRuntime({ measureThreads: 1, measure: { minRunWork: 0, minLayerFeatures: 0, onJobPosted: (w) => kill?.(w) } })
    // the same without workers, with a feature cache of its own
    const none = createRuntime({ measureThreads: 0 })
    afterAll(async () => {
      await rt.close()
      await none.close()
      await db?.close()
    })

    /** threads 0: every layer in the main thread */
    const run = async (set: string, o: { threads: number; fresh?: boolean; signal?: AbortSignal; on?: Db }) => {
      const where = o.threads ? rt : none
      if (o.fresh !== false) where.features.clear()
      const r = await where.run(() => coverage(o.on ?? db, set, { layers: county.layers.map((l) => l.name).join(','), categories: true }, { reuse: false, signal: o.signal }))
      const m = (r.run.meta as { measured: Measured }).measured
      return { m, rows: r.rows.map((x) => [x.unit_code, x.measure, x.layer, x.category, x.features, x.area_m2].join('|')) }
    }

    const workersReady = () => rt.measure.whenStarted()

    for (const size of [500, 100]) {
      it(`${size} m cells: the same rows, bit for bit, with layers measured in a worker as all in the main thread`, async () => {
        const here = await run(`mw${size}`, { threads: 0 })
        expect(here.m.elsewhere).toEqual([])
        await workersReady()
        const before = rt.measure.measuredInWorkers
        const there = await run(`mw${size}`, { threads: 1 })
        if (backend.name === 'pglite') {
          // the database lives in the main thread: nothing is given away
          expect(there.m.elsewhere).toEqual([])
          expect(rt.measure.measuredInWorkers).toBe(before)
        } else {
          expect(there.m.elsewhere.length).toBeGreaterThan(0)
          expect(there.m.elsewhere.length).toBeLessThan(county.layers.length)
          expect(rt.measure.measuredInWorkers - before).toBe(there.m.elsewhere.length)
        }
        expect(there.m.featuresRead).toBe(here.m.featuresRead)
        expect(there.m.direct).toBe(here.m.direct)
        expect(there.rows.length).toBeGreaterThan(county.layers.length * 16)
        expect(there.rows).toEqual(here.rows)
        // warm: the worker measures the same layers again, from its own cache
        const warm = await run(`mw${size}`, { threads: 1, fresh: false })
        expect(warm.rows).toEqual(here.rows)
        if (backend.name === 'pg') {
          expect(warm.m.elsewhere.map((e) => e.layer)).toEqual(there.m.elsewhere.map((e) => e.layer))
          expect(warm.m.cached).toBe(county.layers.length)
        }
      }, 120_000)
    }

    it('with the default thresholds a run this small stays in the main thread', async () => {
      const plain = createRuntime({ measureThreads: 1 })
      try {
        await plain.measure.whenStarted()
        const r = await plain.run(() => coverage(db, 'mw100', { layers: county.layers.map((l) => l.name).join(',') }, { reuse: false }))
        expect((r.run.meta as { measured: Measured }).measured.elsewhere).toEqual([])
      } finally {
        await plain.close()
      }
    }, 120_000)

    it('read whole (no two-step reads), the same rows in a worker', async () => {
      const here = await withCells({ split: false }, () => run('mw500', { threads: 0 }))
      await workersReady()
      const there = await withCells({ split: false }, () => run('mw500', { threads: 1 }))
      expect(here.m.direct).toBe(0)
      if (backend.name === 'pg') expect(there.m.elsewhere.length).toBeGreaterThan(0)
      expect(there.rows).toEqual(here.rows)
    }, 120_000)

    it.runIf(backend.name === 'pg')('a worker that stops mid-run leaves its layers to the main thread: the same rows', async () => {
      const here = await run('mw100', { threads: 0 })
      await workersReady()
      const before = rt.measure.measuredAfterLoss
      // the worker is stopped as soon as it has been given a layer, before it can answer
      kill = (w) => void w.terminate()
      const r = await run('mw100', { threads: 1 }).finally(() => (kill = undefined))
      expect(r.m.elsewhere.length).toBeGreaterThan(0)
      expect(rt.measure.measuredAfterLoss - before).toBe(r.m.elsewhere.length)
      expect(r.rows).toEqual(here.rows)
      // later runs start a new worker
      await workersReady()
      const again = await run('mw100', { threads: 1 })
      expect(again.m.elsewhere.length).toBeGreaterThan(0)
      expect(again.rows).toEqual(here.rows)
    }, 120_000)

    it.runIf(backend.name === 'pg')('a worker that cannot reach the database leaves its layers to the main thread: the same rows', async () => {
      const here = await run('mw500', { threads: 0 })
      await workersReady()
      const before = rt.measure.measuredAfterLoss
      // the same database for the main thread; for workers an address where nothing listens
      const unreachable: Db = { ...db, server: { url: 'postgres://postgres@127.0.0.1:1/nowhere', statementTimeoutMs: 0 } }
      const r = await run('mw500', { threads: 1, on: unreachable })
      expect(r.m.elsewhere.length).toBeGreaterThan(0)
      expect(rt.measure.measuredAfterLoss - before).toBe(r.m.elsewhere.length)
      expect(r.rows).toEqual(here.rows)
    }, 120_000)

    // PGlite runs its statements in this thread: a timer would not fire before the run ends
    it.runIf(backend.name === 'pg')('a run cancelled while a worker measures ends cancelled, and the next run is whole', async () => {
      await workersReady()
      const ac = new AbortController()
      const p = run('mw100', { threads: 1, signal: ac.signal })
      setTimeout(() => ac.abort(new Error('stop')), 5)
      await expect(p).rejects.toThrow(/stop|cancel/i)
      const here = await run('mw100', { threads: 0 })
      expect((await run('mw100', { threads: 1 })).rows).toEqual(here.rows)
    }, 120_000)
  })
}
