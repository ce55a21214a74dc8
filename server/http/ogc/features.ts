// OGC API - Features (Part 1 Core with GeoJSON, Part 2 CRS by reference) over the catalogue,
// so that QGIS, ArcGIS Pro and GDAL (`OAPIF:http://host/ogc`) read our data in place:
//
//   layer:NAME@VINTAGE   the features of a current layer version (attributes, category,
//                        ellipsoidal area_m2), ids = feature ids
//   units:SET            the units of a current unit set (code, name, parent_code, area_m2,
//                        attributes), ids = unit codes
//   run:ID               the units of a done statistics run with its per-unit results as
//                        properties (the GeoJSON export's columns), ids = unit codes
//
// Output in CRS84 (longitude, latitude; the default) or CGCS2000 (EPSG:4490, latitude,
// longitude as EPSG orders its axes); stored coordinates are CGCS2000, which CRS84 equals at
// the centimetre (both are ITRF-aligned; PostGIS transforms one into the other unchanged).
// bbox in either (bbox-crs), limit/offset paging with next/prev links. A key limited to
// regions sees only units in them (unit sets, runs); layers are not limited, as their tiles.
import type { Express, Request, Response } from 'express'
import type { z } from 'zod'
import type { Db } from '../../db/db.ts'
import { loadSql } from '../../db/sql.ts'
import { BadInput, NotFound } from '../../errors.ts'
import { listLayers, listUnitSets } from '../../catalog/list.ts'
import { selectLayers } from '../../catalog/layer-select.ts'
import { unitSetId } from '../../units/unit-set.ts'
import { getRun, listRuns, type RunRecord } from '../../runs/run-store.ts'
import { exportableOf } from '../../results/kinds.ts'
import { checkSetInScope, unitsInScope } from '../../auth/scope.ts'
import { NAME_RE, VINTAGE_RE, parseInput, parseSegment } from '../../validate/fields.ts'
import { query as Q, path as P } from '../route-schemas.ts'

const FEATURES_PAGE = loadSql(import.meta.url, 'features-page.sql')
const FEATURES_COUNT = loadSql(import.meta.url, 'features-count.sql')
const UNITS_PAGE = loadSql(import.meta.url, 'units-page.sql')
const UNITS_COUNT = loadSql(import.meta.url, 'units-count.sql')
const EXTENTS = loadSql(import.meta.url, 'extents.sql')

export const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
export const CGCS2000 = 'http://www.opengis.net/def/crs/EPSG/0/4490'
const CRSS = [CRS84, CGCS2000]
const CONFORMANCE = [
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs',
]
/** run kinds whose results are per unit of a set (settlements are per section) */
const RUN_KINDS = new Set(['coverage', 'change', 'zonal', 'zonal_change', 'gep', 'compensation', 'alerts'])

type Props = Record<string, unknown>
type Bbox = [number, number, number, number]
interface Page { features: { id: string | number; properties: Props; gj: string }[]; matched: number }

interface Collection {
  id: string
  title: string
  description: string
  bbox: Bbox | null
  /** one page of features (bbox in CRS84 lon/lat), or the one with `id` */
  page(o: { bbox?: Bbox; limit: number; offset: number; flip: boolean; id?: string }): Promise<Page>
}

export interface OgcDeps {
  db: Db
  /** GB/T 2260 prefixes of the request's key when it is limited to regions */
  scopesOf: (req: Request) => Promise<string[] | undefined>
}

const q = <S extends z.ZodType>(req: Request, schema: S): z.output<S> => parseInput(schema, req.query, 'query')

/** Registers the /ogc routes on the app. */
export function ogcFeatures(app: Express, { db, scopesOf }: OgcDeps): void {
  // layer versions and their features never change once written: their extents are kept
  const extents = new Map<number, Bbox | null>()
  // per-unit properties of done runs (which never change), the last few asked for
  const runProps = new Map<number, Map<string, Props>>()

  const base = (req: Request) => `${req.protocol}://${req.get('host')}/ogc`

  // a unit set version never changes either: its kind, size and extent, read once (not the
  // extents of every set at each page a client asks for)
  const sets = new Map<number, { kind: string; unit_count: number; bbox: Bbox | null } | undefined>()
  async function setInfo(id: number) {
    if (!sets.has(id)) {
      const [r] = await db.query<{ kind: string; unit_count: number; x0: number | null; y0: number; x1: number; y1: number }>(
        'SELECT s.kind, s.unit_count, ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 FROM unit_set s, (SELECT ST_Extent(geom)::geometry AS e FROM unit WHERE set_id = $1) x WHERE s.id = $1', [id])
      sets.set(id, r ? { kind: r.kind, unit_count: r.unit_count, bbox: r.x0 === null ? null : [r.x0, r.y0, r.x1, r.y1] } : undefined)
    }
    return sets.get(id)
  }

  async function layerExtents(ids: number[]): Promise<void> {
    const missing = ids.filter((id) => !extents.has(id))
    if (!missing.length) return
    for (const id of missing) extents.set(id, null)
    for (const r of await db.query<{ id: number; x0: number; y0: number; x1: number; y1: number }>(EXTENTS, [missing])) extents.set(r.id, [r.x0, r.y0, r.x1, r.y1])
  }

  function bboxParams(b?: Bbox): (number | null)[] {
    return b ? b : [null, null, null, null]
  }

  async function layerCollection(name: string, vintage: string): Promise<Collection> {
    const [l] = await selectLayers(db, `${name}@${vintage}`)
    await layerExtents([l!.id])
    return {
      id: `layer:${l!.name}@${l!.vintage}`,
      title: `${l!.name} @${l!.vintage}`,
      description: `layer version ${l!.id}: ${l!.name} (${l!.kind}), vintage ${l!.vintage}, ${l!.feature_count} features; area_m2 ellipsoidal (CGCS2000)`,
      bbox: extents.get(l!.id) ?? null,
      async page(o) {
        const id = o.id === undefined ? null : /^[0-9]{1,15}$/.test(o.id) ? Number(o.id) : NaN
        if (Number.isNaN(id)) return { features: [], matched: 0 }
        const rows = await db.query<{ id: string | number; attributes: Props; category: string | null; area_m2: number; gj: string }>(FEATURES_PAGE, [l!.id, ...bboxParams(o.bbox), o.limit, o.offset, o.flip, id])
        const matched = o.id !== undefined ? rows.length : (await db.query<{ n: number }>(FEATURES_COUNT, [l!.id, ...bboxParams(o.bbox)]))[0]!.n
        return {
          matched,
          features: rows.map((r) => {
            const ours = { category: r.category, area_m2: Number(r.area_m2) }
            return { id: Number(r.id), properties: { ...renamed(r.attributes, ours), ...ours }, gj: r.gj }
          }),
        }
      },
    }
  }

  async function unitsCollection(req: Request, set: string, run?: RunRecord): Promise<Collection> {
    const setId = run ? (run.meta as { unitSet: { id: number } }).unitSet.id : await unitSetId(db, set)
    const scopes = await scopesOf(req)
    const codes = scopes ? [...(await checkSetInScope(db, setId, set, scopes))] : null
    const info = await setInfo(setId)
    const props = run ? await runProperties(run) : undefined
    return {
      id: run ? `run:${run.id}` : `units:${set}`,
      title: run ? `${run.kind} run ${run.id} on ${set}` : set,
      description: run ? `per-unit results of ${run.kind} run ${run.id} (unit set ${set}); property names as in its GeoJSON export` : `unit set ${set} (${info?.kind ?? 'retired'}, ${info?.unit_count ?? '?'} units); area_m2 ellipsoidal (CGCS2000)`,
      bbox: info?.bbox ?? null,
      async page(o) {
        const rows = await db.query<{ code: string; name: string | null; parent_code: string | null; attributes: Props; area_m2: number; gj: string }>(UNITS_PAGE, [setId, ...bboxParams(o.bbox), o.limit, o.offset, o.flip, o.id ?? null, codes])
        const matched = o.id !== undefined ? rows.length : (await db.query<{ n: number }>(UNITS_COUNT, [setId, ...bboxParams(o.bbox), codes]))[0]!.n
        return {
          matched,
          features: rows.map((r) => {
            const ours = { code: r.code, name: r.name, parent_code: r.parent_code, area_m2: Number(r.area_m2), ...(props?.get(r.code) ?? {}) }
            return { id: r.code, properties: { ...renamed(r.attributes, ours), ...ours }, gj: r.gj }
          }),
        }
      },
    }
  }

  async function runProperties(run: RunRecord): Promise<Map<string, Props>> {
    const hit = runProps.get(run.id)
    if (hit) return hit
    const x = await exportableOf(db, run)
    const props = x.properties(x.tables[0]!.rows) as Map<string, Props>
    runProps.set(run.id, props)
    while (runProps.size > 8) runProps.delete(runProps.keys().next().value!)
    return props
  }

  async function collection(req: Request): Promise<Collection> {
    const id = parseSegment(P.ogcCollection, String(req.params.collection), 'collection')
    const layer = /^layer:(.+)@(.+)$/u.exec(id)
    if (layer && NAME_RE.test(layer[1]!) && VINTAGE_RE.test(layer[2]!)) return layerCollection(layer[1]!, layer[2]!)
    const units = /^units:(.+)$/u.exec(id)
    if (units && NAME_RE.test(units[1]!)) return unitsCollection(req, units[1]!)
    const run = /^run:([0-9]{1,15})$/.exec(id)
    if (run) {
      const r = await getRun(db, Number(run[1]))
      if (r.status !== 'done' || !RUN_KINDS.has(r.kind)) throw new NotFound(`collection '${id}': run ${r.id} is a ${r.status} ${r.kind} run; collections are done runs of ${[...RUN_KINDS].join(', ')}`)
      return unitsCollection(req, (r.meta as { unitSet: { name: string } }).unitSet.name, r)
    }
    throw new NotFound(`no collection '${id}': collections are layer:NAME@VINTAGE, units:SET and run:ID (GET /ogc/collections lists them)`)
  }

  function describe(req: Request, c: Pick<Collection, 'id' | 'title' | 'description' | 'bbox'>) {
    const href = `${base(req)}/collections/${encodeURIComponent(c.id)}`
    return {
      id: c.id,
      title: c.title,
      description: c.description,
      itemType: 'feature',
      extent: c.bbox ? { spatial: { bbox: [c.bbox], crs: CRS84 } } : undefined,
      crs: CRSS,
      storageCrs: CGCS2000,
      links: [
        { href, rel: 'self', type: 'application/json', title: 'this collection' },
        { href: `${href}/items`, rel: 'items', type: 'application/geo+json', title: 'its features' },
      ],
    }
  }

  app.get('/ogc', (req, res) => {
    q(req, Q.ogc)
    const b = base(req)
    res.json({
      title: 'ecocensus',
      description: 'Ecological layers, unit sets and per-unit statistics as OGC API - Features collections',
      links: [
        { href: b, rel: 'self', type: 'application/json', title: 'this document' },
        { href: `${req.protocol}://${req.get('host')}/api/openapi.json`, rel: 'service-desc', type: 'application/vnd.oai.openapi+json;version=3.0', title: 'the API definition' },
        { href: `${b}/conformance`, rel: 'conformance', type: 'application/json', title: 'conformance classes' },
        { href: `${b}/collections`, rel: 'data', type: 'application/json', title: 'collections' },
      ],
    })
  })

  app.get('/ogc/conformance', (req, res) => (q(req, Q.ogc), res.json({ conformsTo: CONFORMANCE })))

  app.get('/ogc/collections', async (req, res) => {
    q(req, Q.ogc)
    const scopes = await scopesOf(req)
    const layers = (await listLayers(db)) as { id: number; name: string; kind: string; vintage: string; feature_count: number }[]
    await layerExtents(layers.map((l) => l.id))
    const sets = (await listUnitSets(db)) as { id: number; name: string; kind: string; unit_count: number; bbox: Bbox | null }[]
    const visible = new Map<number, boolean>()
    for (const s of sets) visible.set(s.id, !scopes || (await unitsInScope(db, s.id, scopes)).codes.size > 0)
    const runs = (await listRuns(db)).filter((r) => r.status === 'done' && RUN_KINDS.has(r.kind))
    const collections = [
      ...layers.map((l) => describe(req, {
        id: `layer:${l.name}@${l.vintage}`, title: `${l.name} @${l.vintage}`, bbox: extents.get(l.id) ?? null,
        description: `layer version ${l.id}: ${l.name} (${l.kind}), vintage ${l.vintage}, ${l.feature_count} features; area_m2 ellipsoidal (CGCS2000)`,
      })),
      ...sets.filter((s) => visible.get(s.id)).map((s) => describe(req, {
        id: `units:${s.name}`, title: s.name, bbox: s.bbox ? s.bbox.map(Number) as Bbox : null,
        description: `unit set ${s.name} (${s.kind}, ${s.unit_count} units); area_m2 ellipsoidal (CGCS2000)`,
      })),
      ...runs.flatMap((r) => {
        const set = (r.meta as { unitSet?: { id: number; name: string } }).unitSet
        const s = sets.find((x) => x.id === set?.id)
        if (!set || (scopes && !visible.get(set.id))) return []
        return [describe(req, { id: `run:${r.id}`, title: `${r.kind} run ${r.id} on ${set.name}`, bbox: s?.bbox ? s.bbox.map(Number) as Bbox : null, description: `per-unit results of ${r.kind} run ${r.id} (unit set ${set.name}, computed ${r.finished_at ?? r.created_at})` })]
      }),
    ]
    res.json({ links: [{ href: `${base(req)}/collections`, rel: 'self', type: 'application/json', title: 'collections' }], collections })
  })

  app.get('/ogc/collections/:collection', async (req, res) => {
    q(req, Q.ogc)
    res.json(describe(req, await collection(req)))
  })

  app.get('/ogc/collections/:collection/items', async (req, res) => {
    const o = q(req, Q.ogcItems)
    const flip = o.crs === CGCS2000
    const c = await collection(req)
    const bbox = o.bbox ? lonLatBbox(o.bbox, o['bbox-crs'] ?? CRS84) : undefined
    const page = await c.page({ bbox, limit: o.limit, offset: o.offset, flip })
    const self = new URL(`${base(req)}/collections/${encodeURIComponent(c.id)}/items`)
    const params = (offset: number) => {
      const u = new URL(self)
      for (const [k, v] of Object.entries(req.query)) if (k !== 'offset') u.searchParams.set(k, String(v))
      u.searchParams.set('offset', String(offset))
      return u.href
    }
    const links = [{ href: params(o.offset), rel: 'self', type: 'application/geo+json', title: 'this page' }]
    if (o.offset + page.features.length < page.matched) links.push({ href: params(o.offset + o.limit), rel: 'next', type: 'application/geo+json', title: 'next page' })
    if (o.offset > 0) links.push({ href: params(Math.max(0, o.offset - o.limit)), rel: 'prev', type: 'application/geo+json', title: 'previous page' })
    links.push({ href: `${base(req)}/collections/${encodeURIComponent(c.id)}`, rel: 'collection', type: 'application/json', title: 'the collection' })
    sendGeoJson(res, o.crs ?? CRS84, `{"type":"FeatureCollection","numberMatched":${page.matched},"numberReturned":${page.features.length},"timeStamp":${JSON.stringify(new Date().toISOString())},"links":${JSON.stringify(links)},"features":[${page.features.map(featureJson).join(',')}]}`)
  })

  app.get('/ogc/collections/:collection/items/:featureId', async (req, res) => {
    const o = q(req, Q.ogcItem)
    const c = await collection(req)
    const id = parseSegment(P.ogcFeature, String(req.params.featureId), 'feature id')
    const page = await c.page({ limit: 1, offset: 0, flip: o.crs === CGCS2000, id })
    if (!page.features.length) throw new NotFound(`collection '${c.id}' has no feature '${id}'`)
    sendGeoJson(res, o.crs ?? CRS84, featureJson(page.features[0]!))
  })

  app.use('/ogc', (req: Request) => {
    throw new NotFound(`no route ${req.method} ${req.originalUrl.split('?')[0]}`)
  })
}

function featureJson(f: Page['features'][number]): string {
  return `{"type":"Feature","id":${JSON.stringify(f.id)},"geometry":${f.gj},"properties":${JSON.stringify(f.properties)}}`
}

function sendGeoJson(res: Response, crs: string, body: string): void {
  res.set('Content-Crs', `<${crs}>`).type('application/geo+json').send(body)
}

/** Attributes of the source file: one our own properties name is left out when it holds the
 *  same value (a unit's code), else renamed NAME_src. */
function renamed(attributes: Props | null, ours: Props): Props {
  const out: Props = {}
  for (const [k, v] of Object.entries(attributes ?? {})) {
    if (!(k in ours)) out[k] = v
    else if (String(v) !== String(ours[k])) out[`${k}_src`] = v
  }
  return out
}

/** A bbox in `crs` as CRS84 [minlon, minlat, maxlon, maxlat], checked. */
export function lonLatBbox(b: Bbox, crs: string): Bbox {
  const [x0, y0, x1, y1] = crs === CGCS2000 ? [b[1], b[0], b[3], b[2]] : b
  const order = crs === CGCS2000 ? 'minlat,minlon,maxlat,maxlon' : 'minlon,minlat,maxlon,maxlat'
  if (!(x0 >= -180 && x1 <= 180 && y0 >= -90 && y1 <= 90)) throw new BadInput(`query parameter 'bbox': ${order} with longitudes in −180..180 and latitudes in −90..90`)
  if (!(x0 < x1 && y0 < y1)) throw new BadInput(`query parameter 'bbox': ${order} with each minimum below its maximum (a box across the antimeridian is not supported)`)
  return [x0, y0, x1, y1]
}
