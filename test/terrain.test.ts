// Terrain for soil retention's LS: Horn slope against `gdaldem slope` and D8 directions
// against GRASS `r.watershed -s` on a real DEM (USGS NED, Jacksboro fault, Tennessee, from
// matplotlib's sample data: test/fixtures/dem/README.md), flow accumulation and LS on
// hand-built DEMs in closed form, and depression filling that leaves no pit and raises every
// cell to exactly the level a textbook Priority-Flood finds.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { openTiff, readWindow } from '../server/raster/geotiff-file.ts'
import { d8Directions, drainage, flowAccumulation, hornGradient, lsAt, lsFactor, lsPrepared, slopeDegrees } from '../server/gep/terrain.ts'
import { tmpDir } from './helpers/fixtures.ts'

const DEM = path.join(import.meta.dirname, 'fixtures', 'dem', 'jacksboro_utm17n_90m.tif')

async function readAll(file: string): Promise<{ v: ArrayLike<number>; w: number; h: number }> {
  const t = await openTiff(file)
  const w = t.image.getWidth(), h = t.image.getHeight()
  const v = (await readWindow(t.image, 0, 0, 0, w, h)) as ArrayLike<number>
  t.close()
  return { v, w, h }
}

describe('terrain', () => {
  let dem: Float32Array
  let w: number
  let h: number
  let dir: string
  beforeAll(async () => {
    const d = await readAll(DEM)
    dem = Float32Array.from(d.v)
    w = d.w
    h = d.h
    dir = tmpDir('eco-terrain-')
  })

  it('Horn slope equals gdaldem slope on a real DEM (1e-4°, every interior pixel)', async () => {
    const out = path.join(dir, 'slope.tif')
    execFileSync('gdaldem', ['slope', '-q', DEM, out])
    const ref = (await readAll(out)).v
    const { tan } = hornGradient(dem, { width: w, height: h, dx: 90, dy: 90 })
    let worst = 0
    let n = 0
    for (let r = 1; r < h - 1; r++) for (let c = 1; c < w - 1; c++) { worst = Math.max(worst, Math.abs(slopeDegrees(tan[r * w + c]!) - ref[r * w + c]!)); n++ }
    expect(n).toBe((w - 2) * (h - 2))
    expect(worst).toBeLessThan(1e-4)
  })

  it('D8 directions agree with GRASS r.watershed -s outside depressions (≥ 97 % of cells)', async () => {
    const out = path.join(dir, 'drain.tif')
    const script = `r.in.gdal --q input=${DEM} output=dem && g.region raster=dem && r.watershed -s elevation=dem drainage=dir --q && r.out.gdal --q -c input=dir output=${out} type=Int16 --o`
    execFileSync('grass', ['--tmp-location', DEM, '--exec', 'bash', '-c', script], { stdio: 'ignore' })
    const gd = (await readAll(out)).v
    const g = { width: w, height: h, dx: 90, dy: 90 }
    const { z } = drainage(dem, g)
    const ours = d8Directions(dem, g)
    let same = 0
    let n = 0
    for (let r = 1; r < h - 1; r++) {
      for (let c = 1; c < w - 1; c++) {
        const i = r * w + c
        if (z[i] !== dem[i] || ours[i] === -1) continue
        n++
        // GRASS numbers directions 1 (NE) … 8 (E) counter-clockwise; ours 0 (E), 1 (NE) …
        if ((ours[i] === 0 ? 8 : ours[i]) === Math.abs(gd[i]!)) same++
      }
    }
    expect(n).toBeGreaterThan(0.9 * w * h)
    expect(same / n).toBeGreaterThan(0.97)
  })

  it('filling leaves no pit: every cell drains to the edge, all cells counted once', () => {
    const g = { width: w, height: h, dx: 90, dy: 90 }
    const { z, dir: d, raised, pits } = drainage(dem, g)
    expect(raised).toBeGreaterThan(0)
    expect(pits).toBe(0)
    for (let i = 0; i < z.length; i++) expect(z[i]! >= dem[i]!).toBe(true)
    let undrained = 0
    for (let r = 1; r < h - 1; r++) for (let c = 1; c < w - 1; c++) if (d[r * w + c] === -1) undrained++
    expect(undrained).toBe(0)
    const acc = flowAccumulation(d, z, g)
    // outlets (edge cells draining off the grid or nowhere) collect every cell exactly once
    let total = 0
    for (let i = 0; i < acc.length; i++) {
      const r = (i / w) | 0, c = i % w
      const k = d[i]!
      const DR = [0, -1, -1, -1, 0, 1, 1, 1], DC = [1, 1, 0, -1, -1, -1, 0, 1]
      const rr = r + (k >= 0 ? DR[k]! : 0), cc = c + (k >= 0 ? DC[k]! : 0)
      if (k < 0 || rr < 0 || rr >= h || cc < 0 || cc >= w) total += acc[i]!
    }
    expect(total).toBe(w * h)
  })

  it('every cell is raised to exactly the textbook Priority-Flood level (real, mirrored, rough DEMs)', () => {
    // Priority-Flood (Barnes et al. 2014, Algorithm 1) with a plain sorted frontier: the level
    // of a cell is the lowest possible highest point on a path to the edge or to no data
    const reference = (z0: Float32Array, W: number, H: number) => {
      const z = Float32Array.from(z0)
      const done = new Uint8Array(W * H)
      const heap: [number, number][] = []
      const push = (v: number, i: number) => { heap.push([v, i]); let k = heap.length - 1; while (k > 0) { const p = (k - 1) >> 1; if (heap[p]![0] <= heap[k]![0]) break; [heap[p], heap[k]] = [heap[k]!, heap[p]!]; k = p } }
      const pop = () => { const top = heap[0]!; const last = heap.pop()!; if (heap.length) { heap[0] = last; let k = 0; for (;;) { const l = 2 * k + 1, r = l + 1; let m = k; if (l < heap.length && heap[l]![0] < heap[m]![0]) m = l; if (r < heap.length && heap[r]![0] < heap[m]![0]) m = r; if (m === k) break; [heap[m], heap[k]] = [heap[k]!, heap[m]!]; k = m } } return top }
      for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
        const i = r * W + c
        if (!(z[i]! === z[i]!)) { done[i] = 1; continue }
        let seed = r === 0 || c === 0 || r === H - 1 || c === W - 1
        for (let dr = -1; dr <= 1 && !seed; dr++) for (let dc = -1; dc <= 1; dc++) { const v = z[(r + dr) * W + c + dc]!; if (v !== v) seed = true }
        if (seed) { done[i] = 1; push(z[i]!, i) }
      }
      while (heap.length) {
        const [v, i] = pop()
        const r = (i / W) | 0, c = i % W
        for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr, cc = c + dc
          if (rr < 0 || rr >= H || cc < 0 || cc >= W) continue
          const j = rr * W + cc
          if (done[j]) continue
          done[j] = 1
          if (z[j]! < v) z[j] = v
          push(z[j]!, j)
        }
      }
      return z
    }
    const mirrored = new Float32Array(4 * w * h)
    for (let r = 0; r < 2 * h; r++) for (let c = 0; c < 2 * w; c++) mirrored[r * 2 * w + c] = dem[(r < h ? r : 2 * h - 1 - r) * w + (c < w ? c : 2 * w - 1 - c)]!
    const rough = new Float32Array(120 * 90)
    for (let i = 0; i < rough.length; i++) rough[i] = ((i * 7919) % 13) + (i % 120 === 60 || i % 17 === 0 ? NaN : 0)
    for (const [z0, W, H] of [[dem, w, h], [mirrored, 2 * w, 2 * h], [rough, 120, 90]] as const) {
      const g = { width: W, height: H, dx: 30, dy: 30 }
      const { z, pits } = drainage(z0, g)
      const ref = reference(z0, W, H)
      let differ = 0, raised = 0
      for (let i = 0; i < z.length; i++) { if (!Object.is(z[i], ref[i])) differ++; if (z[i] !== z0[i]) raised++ }
      expect(raised).toBeGreaterThan(0)
      expect(differ).toBe(0)
      expect(pits).toBe(0)
    }
  })

  it('a pit in a plane is filled and drained; a V valley accumulates in closed form', () => {
    // V valley: slopes of 0.1 toward the middle column 10, which falls 0.01 per row southward
    const W = 21, H = 15, g = { width: W, height: H, dx: 10, dy: 10 }
    const z = new Float32Array(W * H)
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) z[r * W + c] = 100 + Math.abs(c - 10) * 1 - r * 0.1
    const acc = flowAccumulation(d8Directions(z, g), z, g)
    // the valley cell of row r collects its own row and everything above it, except the cells
    // of the first row (rows drain into the valley row by row; edge columns too)
    for (let r = 1; r < H; r++) expect(acc[r * W + 10]).toBe((r + 1) * W)
    const pit = new Float32Array(W * H)
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) pit[r * W + c] = 50 - 0.2 * c
    pit[7 * W + 8] = 10
    const { z: f, dir } = drainage(pit, g)
    // raised to its lowest neighbour (the pour point, column 9), then drains east onto it
    expect(f[7 * W + 8]).toBe(Math.fround(50 - 0.2 * 9))
    expect([0, 1, 7]).toContain(dir[7 * W + 8])
  })

  it('the scan threads\' LS (logarithms of counts from a table) equals lsAt to 1e-12', () => {
    for (const [D, lMax] of [[30, undefined], [10, 122], [90, 3]] as const) {
      const g = { D, cell: D * D, lMax }
      const fast = lsPrepared(g)
      let worst = 0
      for (let i = 0; i < 20000; i++) {
        const tan = ((i * 7919) % 1000) / 700
        const x = 1 + ((i * 104729) % 1000) / 2415
        const acc = i < 10000 ? 1 + ((i * 31) % 5000) : 1 + i * 997
        const a = lsAt(tan, x, acc, g), b = fast(tan, x, acc)
        if (a === 0) expect(b).toBe(0)
        else worst = Math.max(worst, Math.abs(b / a - 1))
      }
      expect(worst).toBeLessThan(1e-12)
    }
  })

  it('LS on a plane equals Desmet & Govers with McCool S, column by column (1e-6)', () => {
    // a drop of 3.75 m per 30 m column: exact in float32
    const W = 40, H = 12, D = 30, s = 0.125
    const z = new Float32Array(W * H)
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) z[r * W + c] = 800 - s * D * c
    const { ls, acc } = lsFactor(z, { width: W, height: H, dx: D, dy: D })
    const sin = s / Math.sqrt(1 + s * s)
    const beta = sin / 0.0896 / (3 * Math.pow(sin, 0.8) + 0.56)
    const m = beta / (1 + beta)
    for (let c = 1; c < W - 1; c++) {
      expect(acc[5 * W + c]).toBe(c + 1)
      const A = c * D * D
      const L = (Math.pow(A + D * D, m + 1) - Math.pow(A, m + 1)) / (Math.pow(D, m + 2) * Math.pow(22.13, m))
      // tan θ ≥ 0.09: S = 16.8 sin θ − 0.5
      // LS is stored as float32: 1e-6
      expect(Math.abs(ls[5 * W + c]! / (L * (16.8 * sin - 0.5)) - 1)).toBeLessThan(1e-6)
    }
  })
})
