// OpenAPI description of the HTTP API; test/http.test.ts checks every path here is routed.
const err = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
const key = [{ apiKey: [] }, { bearer: [] }]
const upload = {
  required: true,
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  description: 'the file itself: .zip (shapefile), .geojson or .gpkg',
}
const q = (name: string, description: string, required = false, schema: object = { type: 'string' }) => ({ name, in: 'query', required, description, schema })

export const openApi = {
  openapi: '3.0.3',
  info: { title: 'ecocensus', version: '0.1.0', description: 'Per-unit coverage statistics of ecological layers (areas ellipsoidal, EPSG:4490 storage).' },
  components: {
    securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' }, bearer: { type: 'http', scheme: 'bearer' } },
    schemas: { Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } } },
  },
  paths: {
    '/healthz': { get: { summary: 'liveness and database backend', responses: { 200: { description: 'ok' } } } },
    '/api/layers': {
      get: { summary: 'layer versions loaded', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'ingest a layer version', security: key, requestBody: upload,
        parameters: [q('filename', 'original file name (decides the format)', true), q('name', 'layer name', true), q('kind', 'redline|protected_area|forest|wetland|farmland|grassland|water|other', true), q('vintage', 'year or date', true), q('crs', 'EPSG:N when the file has no usable CRS'), q('encoding', 'dbf text encoding, e.g. GBK'), q('category_field', 'attribute holding the category'), q('replace', 'overwrite the same name+vintage', false, { type: 'boolean' }), q('invalid', 'repair (default) or fail on invalid polygons')],
        responses: { 201: { description: 'import report' }, 400: err, 401: err, 409: err, 413: err, 415: err },
      },
    },
    '/api/unit-sets': {
      get: { summary: 'unit sets (admin units and grids)', responses: { 200: { description: 'list' } } },
      post: {
        summary: 'import administrative units', security: key, requestBody: upload,
        parameters: [q('filename', 'original file name', true), q('set', 'unit set name', true), q('code_field', 'GB/T 2260 code field'), q('name_field', 'name field'), q('parent_field', 'parent code field'), q('crs', 'EPSG:N'), q('encoding', 'dbf encoding'), q('replace', 'overwrite', false, { type: 'boolean' })],
        responses: { 201: { description: 'import report' }, 400: err, 401: err, 409: err, 413: err },
      },
    },
    '/api/unit-sets/grid': {
      post: {
        summary: 'generate a square grid', security: key,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['set', 'size'], properties: { set: { type: 'string' }, size: { type: 'integer', description: 'metres' }, crs: { type: 'string', description: 'projected CRS, default China Albers' }, within: { type: 'string' }, bbox: { type: 'array', items: { type: 'number' } }, replace: { type: 'boolean' } } } } } },
        responses: { 201: { description: 'grid report' }, 400: err, 401: err, 409: err },
      },
    },
    '/api/unit-sets/{name}/units': {
      get: { summary: 'units of a set as GeoJSON (EPSG:4490 lon/lat)', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'FeatureCollection' }, 404: err } },
    },
    '/api/stats/coverage': {
      get: {
        summary: 'coverage of layers per unit (overlaps flattened, ellipsoidal m²)',
        parameters: [q('units', 'unit set name', true), q('layers', 'NAME or NAME@VINTAGE, comma-separated; default the latest vintage of every layer'), q('format', 'json (default) or csv')],
        responses: { 200: { description: 'CSV: unit_code,unit_name,unit_area_m2,layer,vintage,area_m2,share' }, 400: err, 404: err },
      },
    },
    '/api/stats/change': {
      get: {
        summary: 'stable, gained, lost and net area of a layer between two vintages, per unit',
        parameters: [q('units', 'unit set name', true), q('layer', 'layer name', true), q('from', 'earlier vintage', true), q('to', 'later vintage', true), q('format', 'json (default) or csv')],
        responses: { 200: { description: 'CSV: unit_code,unit_name,layer,from_vintage,to_vintage,stable_m2,gained_m2,lost_m2,net_m2' }, 400: err, 404: err },
      },
    },
  },
}
