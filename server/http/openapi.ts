// OpenAPI description of the HTTP API; test/http.test.ts checks every path here is routed.
// The run contract is not written here: the statistics routes' parameters and the body of
// POST /api/runs are generated from the zod schemas of the run kinds (results/kinds.ts) and
// the routes' own (route-schemas.ts), so they cannot drift from what the server checks.
import { RUN_KIND_DOCS, RUN_KINDS, RUN_SHAPES } from '../results/kinds.ts'
import { fieldsOf } from '../validate/json-schema.ts'
import { query as Q, body as B } from './route-schemas.ts'
const err = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
const key = [{ apiKey: [] }, { bearer: [] }]
const upload = {
  required: true,
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  description: 'the file itself: .zip (shapefile), .geojson or .gpkg',
}

const ogcCollection = { name: 'collection', in: 'path', required: true, description: 'layer:NAME@VINTAGE, units:SET or run:ID', schema: { type: 'string' } }
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } }

/** query parameters from an object shape of zod fields */
const paramsOf = (shape: Parameters<typeof fieldsOf>[0]) =>
  fieldsOf(shape).map((x) => ({ name: x.name, in: 'query', required: x.required, description: x.description ?? '', schema: x.schema }))

/** a JSON request body from an object shape of zod fields */
const bodyOf = (shape: Parameters<typeof fieldsOf>[0]) => {
  const fields = fieldsOf(shape)
  const schema = { type: 'object', required: fields.filter((x) => x.required).map((x) => x.name), properties: Object.fromEntries(fields.map((x) => [x.name, { ...x.schema, ...(x.description ? { description: x.description } : {}) }])) }
  return { required: true, content: { 'application/json': { schema } } }
}

/** GET /api/stats/{route} of each run kind: the kind's parameters, then output and reuse */
const statsPaths = Object.fromEntries(RUN_KINDS.map((kind) => [`/api/stats/${RUN_KIND_DOCS[kind].route}`, {
  get: {
    summary: `${RUN_KIND_DOCS[kind].summary}; computed as a run and answered when done`,
    parameters: [...paramsOf(RUN_SHAPES[kind]), ...paramsOf(Q.stats)],
    responses: { 200: { description: `${RUN_KIND_DOCS[kind].result}; header X-Run-Id` }, 400: err, 404: err },
  },
}]))

/** POST /api/runs: kind and fresh, and the parameters of every kind (each kind takes its own) */
function runBody() {
  const properties: Record<string, unknown> = { kind: { type: 'string', enum: [...RUN_KINDS], description: 'what to compute' } }
  for (const kind of RUN_KINDS) {
    for (const x of fieldsOf({ ...RUN_SHAPES[kind], ...B.runs })) {
      properties[x.name] ??= { ...x.schema, description: `${x.description ?? ''} (${kind})` }
    }
  }
  return { type: 'object', required: ['kind', 'units'], properties }
}

export const openApi = {
  openapi: '3.0.3',
  info: { title: 'ecocensus', version: '0.1.0', description: 'Per-unit coverage statistics of ecological layers (areas ellipsoidal, EPSG:4490 storage).' },
  components: {
    securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' }, bearer: { type: 'http', scheme: 'bearer' } },
    schemas: { Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } } },
  },
  paths: {
    ...statsPaths,
    '/healthz': { get: { summary: 'liveness and database backend', responses: { 200: { description: 'ok' } } } },
    '/api/layers': {
      get: { summary: 'layer versions loaded', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'ingest a layer version', security: key, requestBody: upload,
        parameters: paramsOf(Q.layerUpload.shape),
        responses: { 201: { description: "import report: features loaded, repairs, CRS and encoding used, area, and 'contacts' (features meeting another feature of the layer other than vertex for vertex; kept for the cell engine)" }, 400: err, 401: err, 409: err, 413: err, 415: err },
      },
    },
    '/api/unit-sets': {
      get: { summary: 'unit sets (admin units and grids)', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'import administrative units', security: key, requestBody: upload,
        parameters: paramsOf(Q.unitsUpload.shape),
        responses: { 201: { description: 'import report' }, 400: err, 401: err, 409: err, 413: err },
      },
    },
    '/api/sections': {
      get: { summary: 'monitoring section sets (current versions)', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'import monitoring sections: GeoJSON points or a .csv/.xlsx with lon, lat; code, name, river, upstream, downstream (or from the unit boundary within a tolerance), target_class, water_body', security: key, requestBody: upload,
        parameters: paramsOf(Q.sectionsUpload.shape),
        responses: { 201: { description: 'the version and its sections with how their units were found' }, 400: err, 401: err, 404: err, 409: err, 413: err },
      },
    },
    '/api/sections/{spec}/points': { get: { summary: 'the points of a section set (NAME or NAME@VINTAGE) as GeoJSON, with code, name, river, upstream, downstream, target class', parameters: [{ name: 'spec', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'GeoJSON FeatureCollection' }, 404: err } } },
    '/api/series': {
      get: { summary: 'water-quality series (current versions)', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'import a series: long table section_code, datetime, indicator, value, unit[, flow_m3s]; values to mg/L; refused whole, every bad line named', security: key, requestBody: upload,
        parameters: paramsOf(Q.seriesUpload.shape),
        responses: { 201: { description: 'the version: rows, indicators, first and last datetime, checksum' }, 400: err, 401: err, 404: err, 409: err, 413: err },
      },
    },
    '/api/basin/settle': {
      post: {
        summary: 'settle a watershed agreement for a year as a run: GB 3838-2002 evaluation per section and month, then the index, class, load and flow templates between upstream and downstream units (docs/watershed.md)',
        parameters: paramsOf(Q.settle.shape) as never[],
        requestBody: bodyOf(B.settle.shape),
        responses: { 200: { description: 'json; csv: table ledger (agreement,template,section_code,period,unit_code,role,counterpart,amount_yuan; two rows per agreement that sum to zero) | evaluation | indicators | months | explanation; xlsx; header X-Run-Id' }, 400: err, 403: err, 404: err },
      },
    },
    '/api/basin/example': { get: { summary: "the sample's agreement", responses: { 200: { description: 'agreement' } } } },
    '/api/indicators': {
      get: { summary: 'indicator sets (per-unit values: population, EQI, score …), current versions', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'import per-unit indicators: a long table unit_code, indicator, value, unit (.csv or .xlsx); refused whole, every bad line named', security: key, requestBody: upload,
        parameters: paramsOf(Q.indicatorsUpload.shape),
        responses: { 201: { description: 'the version: id, rows, indicators and their units, checksum' }, 400: err, 401: err, 409: err, 413: err },
      },
    },
    '/api/unit-sets/grid': {
      post: {
        summary: 'generate a square grid', security: key,
        requestBody: bodyOf(B.grid.shape),
        responses: { 201: { description: 'grid report' }, 400: err, 401: err, 409: err },
      },
    },
    '/api/unit-sets/{name}/units': {
      get: { summary: 'units of a set as GeoJSON (EPSG:4490 lon/lat)', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'FeatureCollection' }, 404: err } },
    },
    '/api/unit-sets/{name}/labels': {
      get: { summary: 'a label point per unit (centre of its largest inscribed circle; r its radius in degrees) as GeoJSON', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'FeatureCollection of points' }, 404: err } },
    },
    '/api/rasters': {
      get: { summary: 'rasters: size, bands, sample type, CRS, transform, nodata, legend, band statistics, derivation', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'ingest a GeoTIFF/COG (the body); categorical or continuous', security: key,
        requestBody: { required: true, content: { 'image/tiff': { schema: { type: 'string', format: 'binary' } } } },
        parameters: paramsOf(Q.rasterUpload.shape),
        responses: { 201: { description: 'ingest report' }, 400: err, 401: err, 409: err, 413: err, 415: err },
      },
    },
    '/api/rasters/{name}': {
      get: { summary: 'one raster (NAME or NAME@VINTAGE)', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, ...paramsOf(Q.raster.shape)], responses: { 200: { description: 'raster' }, 404: err } },
    },
    '/api/rasters/derive': {
      post: {
        summary: 'derive NDVI (from red and NIR bands) or FVC (from NDVI, pixel dichotomy); computed from the source on read', security: key,
        requestBody: bodyOf(B.derive.shape),
        responses: { 201: { description: 'the derived raster' }, 400: err, 401: err, 404: err, 409: err },
      },
    },
    '/tiles/raster/{name}/{z}/{x}/{y}.png': {
      get: {
        summary: 'raster tile (Web Mercator): legend colours or a ramp over a range, nodata transparent; cached by raster checksum (header X-Tile-Cache)',
        parameters: ['name', 'z', 'x', 'y'].map((n) => ({ name: n, in: 'path', required: true, schema: { type: n === 'name' ? 'string' : 'integer' } })).concat(paramsOf(Q.rasterTile.shape) as never[]),
        responses: { 200: { description: 'image/png' }, 400: err, 404: err },
      },
    },
    '/tiles/{source}/{z}/{x}/{y}.mvt': {
      get: {
        summary: 'vector tile (MVT 2.1, extent 4096): source layer:NAME[@VINTAGE], units:SET (run= adds that run\'s per-unit statistics) or change:NAME@FROM,TO; strong ETag, 304, 204 when empty, gzip; headers X-Tile-Cache, Server-Timing',
        parameters: ['source', 'z', 'x', 'y'].map((n) => ({ name: n, in: 'path', required: true, schema: { type: n === 'source' ? 'string' : 'integer' } })).concat(paramsOf(Q.tileJson.shape) as never[]),
        responses: { 200: { description: 'application/vnd.mapbox-vector-tile' }, 204: { description: 'no feature reaches the tile' }, 304: { description: 'not modified' }, 400: err, 404: err },
      },
    },
    '/ogc': { get: { summary: 'OGC API - Features landing page (QGIS, ArcGIS, GDAL OAPIF:http://host/ogc)', parameters: paramsOf(Q.ogc.shape) as never[], responses: { 200: { description: 'links' }, 400: err } } },
    '/ogc/conformance': { get: { summary: 'OGC API - Features conformance classes (Core, GeoJSON, OpenAPI 3.0, CRS by reference)', parameters: paramsOf(Q.ogc.shape) as never[], responses: { 200: { description: 'conformsTo' }, 400: err } } },
    '/ogc/collections': { get: { summary: 'collections: layer:NAME@VINTAGE (current layer versions), units:SET, run:ID (done per-unit runs); a key limited to regions sees its unit sets and runs only', parameters: paramsOf(Q.ogc.shape) as never[], responses: { 200: { description: 'collections' }, 400: err } } },
    '/ogc/collections/{collection}': { get: { summary: 'one collection: extent (CRS84), CRSs offered, storage CRS (EPSG:4490)', parameters: [ogcCollection, ...paramsOf(Q.ogc.shape)] as never[], responses: { 200: { description: 'collection' }, 400: err, 404: err } } },
    '/ogc/collections/{collection}/items': { get: { summary: 'a page of features as GeoJSON (numberMatched, numberReturned, next/prev links; header Content-Crs)', parameters: [ogcCollection, ...paramsOf(Q.ogcItems.shape)] as never[], responses: { 200: { description: 'FeatureCollection' }, 400: err, 404: err } } },
    '/ogc/collections/{collection}/items/{featureId}': { get: { summary: 'one feature (a feature id of a layer, a unit code of a unit set or run)', parameters: [ogcCollection, { name: 'featureId', in: 'path', required: true, schema: { type: 'string' } }, ...paramsOf(Q.ogcItem.shape)] as never[], responses: { 200: { description: 'Feature' }, 400: err, 404: err } } },
    '/api/report': { get: { summary: 'a printable report of one unit (map, coverage, change and time series, area factors, GEP and compensation where computed, provenance and method): PDF through headless Chromium, or HTML; X-Run-Id lists the runs it reads', parameters: paramsOf(Q.report.shape) as never[], responses: { 200: { description: 'application/pdf or text/html' }, 400: err, 403: err, 404: err, 501: err } } },
    '/api/stats/trend': { get: { summary: 'a layer over N vintages per unit: areas per vintage (and category), change over each interval, rates per year; from a coverage run and a change run per interval (header X-Run-Id lists them)', parameters: paramsOf(Q.trend.shape) as never[], responses: { 200: { description: 'areas, intervals, totals' }, 400: err, 404: err } } },
    '/api/alerts': { post: { summary: 'evaluate alert rules per unit (layer loss/gain/net between vintages, raster mean change), kept as a run; the alerts table, or the units with alert counts (geojson, gpkg, shp)', parameters: paramsOf(Q.alerts.shape) as never[], requestBody: bodyOf(B.alerts.shape), responses: { 200: { description: 'alerts (header X-Run-Id)' }, 400: err, 404: err } } },
    '/api/alerts/example': { get: { summary: 'the sample\'s alert rules (data/sample/alerts.yaml)', responses: { 200: { description: 'rules document' } } } },
    '/api/alerts/{id}/patches': { get: { summary: 'the lost (or gained) patches of an alerts run as GeoJSON, with their ellipsoidal areas', parameters: [idParam], responses: { 200: { description: 'FeatureCollection' }, 400: err, 404: err } } },
    '/tiles/{source}.json': {
      get: { summary: 'TileJSON 3.0.0 of a vector tile source (bounds, fields, input version)', parameters: [{ name: 'source', in: 'path', required: true, schema: { type: 'string' } }, ...paramsOf(Q.tileJson.shape)] as never[], responses: { 200: { description: 'TileJSON' }, 400: err, 404: err } },
    },
    '/api/factors': {
      get: { summary: 'area factors per unit with provenance (defaults by layer kind); xlsx = the finance workbook', parameters: paramsOf(Q.factors.shape) as never[], responses: { 200: { description: 'factors' }, 400: err, 404: err } },
      post: { summary: 'area factors with your own definitions [{id, label, layer, categories?, measure}]', requestBody: bodyOf(B.factors.shape), responses: { 200: { description: 'factors' }, 400: err, 404: err } },
    },
    '/api/allocations': {
      post: { summary: 'factor-method allocation (因素法): budget × weighted factor shares, coefficients, deductions, floors, caps, rounded to 0.01 summing to the budget; explanation per unit', requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['units', 'budget', 'factors'], properties: { description: { type: 'string' }, units: { type: 'string' }, budget: { type: 'number' }, factors: { type: 'array' }, adjustments: { type: 'array' }, deductions: { type: 'array' }, floor: { type: 'number' }, cap: { type: 'number' }, definitions: { type: 'array' } } } } } }, responses: { 200: { description: 'allocation (json), one table (csv) or the workbook (xlsx)' }, 400: err, 404: err } },
    },
    '/api/allocations/example': { get: { summary: "the sample's allocation config", responses: { 200: { description: 'config' } } } },
    '/api/esv': {
      post: { summary: 'ecosystem service value per unit and service (equivalent-factor method, Xie et al. 2015 table)', requestBody: bodyOf(B.esv.shape), responses: { 200: { description: 'ESV' }, 400: err, 404: err } },
    },
    '/api/gep': {
      post: {
        summary: 'gross ecosystem product (GEP) per unit as a run: quantity, price and value per item and ecosystem type, categories, GEP; with compare, ΔGEP and a decline flag (docs/gep.md)',
        parameters: paramsOf(Q.gep.shape) as never[],
        requestBody: bodyOf(B.gep.shape),
        responses: { 200: { description: 'csv: unit_code,unit_name,year,category,item,ecosystem,quantity,quantity_unit,price,price_unit,value_yuan,… (table gep|units|extent|change|prices); json; geojson; xlsx (the accounting workbook); header X-Run-Id' }, 400: err, 404: err },
      },
    },
    '/api/compensation': {
      post: {
        summary: 'compensation ledger per unit as a run: per-hectare standards by programme, class and ownership, each hectare paid once under the rule (highest_once, first_listed, sum), per payee, with the double-counted area per programme pair (docs/compensation.md)',
        parameters: paramsOf(Q.compensation.shape) as never[],
        requestBody: bodyOf(B.compensation.shape),
        responses: { 200: { description: 'csv: unit_code,unit_name,programme,programme_name,class,year,rate,rate_unit,claimed_m2,excluded_m2,paid_m2,amount_yuan,claimed_yuan (table ledger|units|payees|double|explanation|standards); json; geojson; xlsx (the reviewer\'s workbook); header X-Run-Id' }, 400: err, 404: err },
      },
    },
    '/api/compensation/example': { get: { summary: "the sample's compensation standards", responses: { 200: { description: 'standards' } } } },
    '/api/gep/example': { get: { summary: "the sample's GEP config with its tables read in", responses: { 200: { description: 'config' } } } },
    '/api/config': { get: { summary: 'viewer configuration: optional basemap, whether writes are enabled, upload limit', responses: { 200: { description: 'config' } } } },
    '/api/layers/{name}/history': {
      get: { summary: "every version of a layer: id, vintage, current or retired, features, checksum, who created and retired it, the runs that read it", parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'versions' }, 404: err } },
    },
    '/api/audit': {
      get: { summary: 'the audit trail: who wrote, computed and exported what, with outcome (admin key without regions)', security: key, parameters: paramsOf(Q.audit.shape), responses: { 200: { description: 'entries' }, 400: err, 401: err, 403: err } },
    },
    '/api/runs': {
      get: { summary: 'recent runs with status and progress', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'start a run; answers at once (202) with its id, or 200 with an identical done run',
        requestBody: { required: true, content: { 'application/json': { schema: runBody() } } },
        responses: { 200: { description: 'reused run' }, 202: { description: 'run started; poll Location' }, 400: err, 404: err },
      },
    },
    '/api/runs/{id}': {
      get: { summary: 'one run: parameters, input versions, status, progress, timing', parameters: [idParam], responses: { 200: { description: 'run' }, 400: err, 404: err } },
      delete: { summary: 'cancel a running run', parameters: [idParam], responses: { 202: { description: 'cancel requested' }, 404: err, 409: err } },
    },
    '/api/runs/{id}/result': {
      get: { summary: 'the result of a done run', parameters: [idParam, ...paramsOf(Q.result.shape)], responses: { 200: { description: 'csv, json, geojson or xlsx' }, 400: err, 404: err, 410: err } },
    },
    '/api/runs/{id}/cancel': {
      post: { summary: 'cancel a running run', parameters: [idParam], responses: { 202: { description: 'cancel requested' }, 404: err, 409: err } },
    },
  },
}
