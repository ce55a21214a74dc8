// The compensation ledger as a run (kind 'compensation'): the standards checked, every
// programme's layer resolved to a version, then per unit the ground the programmes cover
// cut into faces (faces.sql) and stored as pieces with their programmes, classes and payees.
// The reader applies the rule the run recorded (ledger.ts), so a ledger is always computed
// from exactly the inputs it lists.
import { createHash } from 'node:crypto'
import type { Db, Queryable } from '../db/db.ts'
import { loadSql } from '../db/sql.ts'
import { BadInput } from '../errors.ts'
import { runToEnd, type RunOptions, type RunPlan, type StepContext } from '../runs/execute.ts'
import type { RunRecord } from '../runs/run-store.ts'
import { runUnits } from '../units/unit-cache.ts'
import { unitSetVersion } from '../units/unit-set.ts'
import { selectLayers, type LayerVersion } from '../catalog/layer-select.ts'
import { OVERLAY_GRID } from '../stats/sums.ts'
import { checkStandards, payeeFieldOf, precedence, RATE_UNITS, type Standards } from './config.ts'
import { ledger, type Ledger, type Piece, type UnitPieces } from './ledger.ts'

const FACES_SQL = loadSql(import.meta.url, './faces.sql')

export const COMPENSATION_METHOD =
  'Per unit, the features each programme selects (layer version, categories, ownership values) are clipped to the unit; all their boundaries are noded together and polygonized into faces, ' +
  'each covered wholly or not at all by each feature (members found at a point inside the face). Face areas are ellipsoidal (PostGIS ST_Area on geography, GRS80). ' +
  'Within a programme a face counts once (its class and payee are those of its first feature: the first listed category, then the lowest feature id). ' +
  'Across programmes the rule decides who pays a face: highest_once the highest rate per hectare (ties: listing order), first_listed the programme listed first, sum every programme. ' +
  'Amount = paid area × rate (1 亩 = 10 000/15 m², 1 公顷 = 10 000 m²). Double-counted area per pair: ground the paying programme pays that the other also covers, with the other\'s money.'

export interface CompensationRequest { units: string; config: unknown }

interface ProgrammeRef { id: string; layer: LayerVersion }

export interface CompensationMeta {
  unitSet: { id: number; name: string }
  layers: { programme: string; id: number; name: string; vintage: string; checksum: string }[]
  configName: string | null
  configSha256: string
  rule: Standards['rule']
  method: string
  faces?: number
}

/** The programmes' layers resolved, their filters checked against the data. */
async function resolveProgrammes(db: Queryable, c: Standards): Promise<ProgrammeRef[]> {
  const out: ProgrammeRef[] = []
  for (const p of c.programmes) {
    const l = (await selectLayers(db, p.layer))[0]!
    if (p.categories) {
      if (!l.category_field) throw new BadInput(`programme ${p.id}: layer ${l.name}@${l.vintage} was ingested without --category-field, so it has no categories to select`)
      const known = (await db.query<{ c: string }>('SELECT DISTINCT category AS c FROM feature WHERE layer_id = $1 AND category IS NOT NULL ORDER BY 1', [l.id])).map((r) => r.c)
      const unknown = p.categories.filter((x) => !known.includes(x))
      if (unknown.length) throw new BadInput(`programme ${p.id}: layer ${l.name}@${l.vintage} has no ${l.category_field} ${unknown.join(', ')} (has ${known.join(', ') || 'none'})`)
    }
    for (const [what, field] of [['ownership_field', p.ownership_field], ['payee_field', payeeFieldOf(c, p)]] as const) {
      if (!field) continue
      const [r] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM feature WHERE layer_id = $1 AND jsonb_exists(attributes, $2)', [l.id, field])
      if (!r!.n) throw new BadInput(`programme ${p.id}: ${what} '${field}' is not an attribute of layer ${l.name}@${l.vintage}`)
    }
    out.push({ id: p.id, layer: l })
  }
  return out
}

/** A unit's faces reduced to pieces: per programme covering a face, its first feature's class and payee. */
function piecesOf(c: Standards, faces: { area: number; progs: number[]; fids: string[]; categories: (string | null)[]; payees: (string | null)[] }[]): Piece[] {
  const byKey = new Map<string, Piece>()
  for (const f of faces) {
    const members: [number, string, string][] = []
    for (let i = 0; i < f.progs.length; i++) {
      const p = f.progs[i]!
      const cats = c.programmes[p]!.categories
      const cat = f.categories[i] ?? ''
      const at = members.findIndex((m) => m[0] === p)
      // rows come ordered by programme, then feature id: a later feature wins only by an earlier listed category
      if (at >= 0) {
        if (cats && cats.indexOf(cat) < cats.indexOf(members[at]![1])) members[at] = [p, cat, f.payees[i] ?? '']
        continue
      }
      members.push([p, cat, f.payees[i] ?? ''])
    }
    const key = JSON.stringify(members)
    const piece = byKey.get(key)
    if (piece) piece.area_m2 += f.area
    else byKey.set(key, { members, area_m2: f.area })
  }
  return [...byKey.values()]
}

/** The compensation ledger of a unit set as a run. */
export async function planCompensation(db: Queryable, req: CompensationRequest): Promise<RunPlan> {
  const c = checkStandards(req.config)
  const set = await unitSetVersion(db, req.units)
  const refs = await resolveProgrammes(db, c)
  const configSha256 = createHash('sha256').update(JSON.stringify(req.config)).digest('hex')
  const meta: CompensationMeta = {
    unitSet: { id: set.id, name: set.name },
    layers: refs.map((r) => ({ programme: r.id, id: r.layer.id, name: r.layer.name, vintage: r.layer.vintage, checksum: r.layer.source_checksum })),
    configName: c.name ?? null, configSha256, rule: c.rule, method: COMPENSATION_METHOD,
  }
  const entries: [string, Piece[]][] = []
  const args = [
    c.programmes.map((_, i) => i),
    refs.map((r) => r.layer.id),
    c.programmes.map((p) => (p.categories ? JSON.stringify(p.categories) : null)),
    c.programmes.map((p) => p.ownership_field ?? null),
    c.programmes.map((p) => (p.ownership_values ? JSON.stringify(p.ownership_values) : null)),
    c.programmes.map((p) => payeeFieldOf(c, p)),
  ]
  return {
    kind: 'compensation',
    params: { units: req.units, config: req.config },
    inputs: { unitSet: set, layers: refs.map((r) => ({ use: r.id, id: r.layer.id, checksum: r.layer.source_checksum })), configSha256 },
    meta: meta as unknown as Record<string, unknown>,
    steps: [
      {
        label: 'faces',
        weight: 1,
        run: async (ctx: StepContext) => {
          const units = await runUnits(ctx.db, ctx.runId, set.id, set.name)
          let faces = 0
          for (let i = 0; i < units.length; i++) {
            const rows = await ctx.db.query<{ area: number; progs: number[]; fids: string[]; categories: (string | null)[]; payees: (string | null)[] }>(FACES_SQL, [units[i]!.id, ...args, OVERLAY_GRID], { signal: ctx.signal })
            faces += rows.length
            entries.push([units[i]!.id, piecesOf(c, rows)])
            await ctx.progress((i + 1) / units.length)
          }
          meta.faces = faces
        },
      },
      {
        label: 'store',
        weight: 0.01,
        run: async (ctx: StepContext) => void (await ctx.db.query('INSERT INTO run_result (run_id, entries, body) VALUES ($1, $2, $3)', [ctx.runId, entries.length, JSON.stringify(entries)])),
      },
    ],
  }
}

export interface CompensationResult extends Ledger {
  run: RunRecord
  unitSet: string
  configName: string | null
  configSha256: string
  rule: Standards['rule']
  year: number
  /** programmes in the order they claim ground, with their layer versions */
  programmes: (Standards['programmes'][number] & { layer_version: CompensationMeta['layers'][number]; claims: number })[]
  method: string
}

/** The ledger of a done compensation run, from its stored pieces and recorded standards. */
export async function readCompensation(db: Queryable, run: RunRecord): Promise<CompensationResult> {
  const meta = run.meta as unknown as CompensationMeta
  const c = checkStandards(run.params.config)
  const units = await runUnits(db, run.id, meta.unitSet.id, meta.unitSet.name)
  const stored = await db.query<{ body: string }>('SELECT body FROM run_result WHERE run_id = $1', [run.id])
  const piecesOfUnit = new Map<string, Piece[]>()
  for (const s of stored) for (const [u, p] of JSON.parse(s.body) as [string, Piece[]][]) piecesOfUnit.set(u, p)
  const input: UnitPieces[] = units.map((u) => {
    const pieces = piecesOfUnit.get(u.id)
    if (!pieces) throw new BadInput(`compensation run ${run.id} has no pieces for unit ${u.code}; run it again (--fresh)`)
    return { code: u.code, name: u.name, area_m2: u.area_m2, pieces }
  })
  const l = ledger(c, input)
  const order = precedence(c)
  return {
    ...l, run, unitSet: meta.unitSet.name, configName: meta.configName, configSha256: meta.configSha256, rule: c.rule, year: c.year, method: meta.method,
    programmes: order.map((p, i) => ({ ...c.programmes[p]!, rate_unit: RATE_UNITS[c.programmes[p]!.rate_unit]!.label, layer_version: meta.layers[p]!, claims: i + 1 })),
  }
}

/** Computes the ledger as a run (or finds an identical one) and reads it. */
export async function compensate(db: Db, req: CompensationRequest, opts: RunOptions = {}): Promise<CompensationResult> {
  return readCompensation(db, await runToEnd(db, await planCompensation(db, req), opts))
}
