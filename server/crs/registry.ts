// Built-in coordinate reference systems of Chinese survey data, generated from the
// EPSG numbering patterns (see shared/DOMAIN.md), plus the common world ones. Each
// definition is checked against PostGIS's spatial_ref_sys in test/crs-db.test.ts.
// Codes not listed here are looked up in the database's spatial_ref_sys (crs/resolve.ts).

export interface GkInfo {
  datum: 'CGCS2000' | 'Xian 1980' | 'Beijing 1954'
  width: 3 | 6
  /** central meridian, degrees east */
  cm: number
  /** zone number (3°: cm/3, 6°: (cm+3)/6) */
  zone: number
  /** true where the false easting carries the zone number (x_0 = zone·10⁶ + 500000) */
  prefixed: boolean
}

export interface CrsDef {
  /** 'EPSG:4527' */
  id: string
  epsg: number
  title: string
  proj4: string
  geographic: boolean
  /** lon/lat box (degrees) outside which coordinates are rejected as mislabelled */
  area: [number, number, number, number]
  gk?: GkInfo
  /** names an ESRI-style .prj uses for it (lower-cased, for lookup) */
  aliases: string[]
}

const GRS80 = '+ellps=GRS80'
const IAU76 = '+a=6378140 +b=6356755.288157528'
const KRASS = '+ellps=krass +towgs84=15.8,-154.4,-82.3,0,0,0,0'
const WORLD: [number, number, number, number] = [-180, -90, 180, 90]
// China's extent with a margin (islands of the South China Sea reach 3.8°N).
const CHINA: [number, number, number, number] = [70, 0, 140, 56]

const DATUMS = [
  { datum: 'CGCS2000', ellps: GRS80, esri: 'cgcs2000', six: [4491, 4502], three: [4513, 4534] },
  { datum: 'Xian 1980', ellps: IAU76, esri: 'xian_1980', six: [2327, 2338], three: [2349, 2370] },
  { datum: 'Beijing 1954', ellps: KRASS, esri: 'beijing_1954', six: [21413, 21473], three: [2401, 2422] },
] as const

function gkDefs(): CrsDef[] {
  const out: CrsDef[] = []
  for (const d of DATUMS) {
    for (const width of [6, 3] as const) {
      const [prefixedStart, cmStart] = width === 6 ? d.six : d.three
      const zones = width === 6 ? range(13, 23) : range(25, 45)
      zones.forEach((zone, i) => {
        const cm = width === 6 ? zone * 6 - 3 : zone * 3
        for (const prefixed of [true, false]) {
          const epsg = (prefixed ? prefixedStart : cmStart) + i
          const x0 = prefixed ? zone * 1_000_000 + 500_000 : 500_000
          const esriBase = `${d.esri}${width === 3 ? '_3_degree' : ''}_gk`
          out.push({
            id: `EPSG:${epsg}`,
            epsg,
            title: `${d.datum} / ${width === 3 ? '3-degree ' : ''}Gauss-Kruger ${prefixed ? `zone ${zone}` : `CM ${cm}E`}`,
            proj4: `+proj=tmerc +lat_0=0 +lon_0=${cm} +k=1 +x_0=${x0} +y_0=0 ${d.ellps} +units=m +no_defs`,
            geographic: false,
            area: [cm - width / 2 - 3, 0, cm + width / 2 + 3, 56],
            gk: { datum: d.datum, width, cm, zone, prefixed },
            aliases: [prefixed ? `${esriBase}_zone_${zone}` : `${esriBase}_cm_${cm}e`],
          })
        }
      })
    }
  }
  return out
}

function utmDefs(): CrsDef[] {
  const out: CrsDef[] = []
  for (const zone of range(1, 60)) {
    for (const south of [false, true]) {
      const epsg = (south ? 32700 : 32600) + zone
      const cm = zone * 6 - 183
      out.push({
        id: `EPSG:${epsg}`,
        epsg,
        title: `WGS 84 / UTM zone ${zone}${south ? 'S' : 'N'}`,
        proj4: `+proj=utm +zone=${zone}${south ? ' +south' : ''} +datum=WGS84 +units=m +no_defs`,
        geographic: false,
        area: [cm - 9, south ? -90 : -10, cm + 9, south ? 10 : 90],
        aliases: [`wgs_1984_utm_zone_${zone}${south ? 's' : 'n'}`],
      })
    }
  }
  return out
}

const BASE: CrsDef[] = [
  { id: 'EPSG:4490', epsg: 4490, title: 'China Geodetic Coordinate System 2000', proj4: `+proj=longlat ${GRS80} +no_defs`, geographic: true, area: WORLD, aliases: ['gcs_china_geodetic_coordinate_system_2000', 'china geodetic coordinate system 2000', 'cgcs2000'] },
  { id: 'EPSG:4326', epsg: 4326, title: 'WGS 84', proj4: '+proj=longlat +datum=WGS84 +no_defs', geographic: true, area: WORLD, aliases: ['gcs_wgs_1984', 'wgs 84', 'wgs84', 'urn:ogc:def:crs:ogc:1.3:crs84', 'crs84'] },
  { id: 'EPSG:4610', epsg: 4610, title: 'Xian 1980', proj4: `+proj=longlat ${IAU76} +no_defs`, geographic: true, area: CHINA, aliases: ['gcs_xian_1980', 'xian 1980'] },
  { id: 'EPSG:4214', epsg: 4214, title: 'Beijing 1954', proj4: `+proj=longlat ${KRASS} +no_defs`, geographic: true, area: CHINA, aliases: ['gcs_beijing_1954', 'beijing 1954'] },
  { id: 'EPSG:3857', epsg: 3857, title: 'WGS 84 / Pseudo-Mercator', proj4: '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs', geographic: false, area: [-180, -85.06, 180, 85.06], aliases: ['wgs_1984_web_mercator_auxiliary_sphere', 'wgs 84 / pseudo-mercator', 'wgs_1984_web_mercator'] },
  { id: 'EPSG:2056', epsg: 2056, title: 'CH1903+ / LV95', proj4: '+proj=somerc +lat_0=46.95240555555556 +lon_0=7.439583333333333 +k_0=1 +x_0=2600000 +y_0=1200000 +ellps=bessel +towgs84=674.374,15.056,405.346,0,0,0,0 +units=m +no_defs', geographic: false, area: [5.5, 45.5, 11, 48], aliases: ['ch1903+_lv95', 'ch1903+ / lv95'] },
  { id: 'EPSG:21781', epsg: 21781, title: 'CH1903 / LV03', proj4: '+proj=somerc +lat_0=46.95240555555556 +lon_0=7.439583333333333 +k_0=1 +x_0=600000 +y_0=200000 +ellps=bessel +towgs84=674.374,15.056,405.346,0,0,0,0 +units=m +no_defs', geographic: false, area: [5.5, 45.5, 11, 48], aliases: ['ch1903_lv03', 'ch1903 / lv03'] },
]

/** China equal-area Albers (no EPSG code); the default CRS for generated grids. */
export const CHINA_ALBERS: CrsDef = {
  id: 'ALBERS-CN',
  epsg: 0,
  title: 'China Albers equal-area (lon_0=105, lat_1=25, lat_2=47, GRS80)',
  proj4: '+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs',
  geographic: false,
  area: CHINA,
  aliases: ['albers-cn', 'china_albers'],
}

export const BUILTIN: CrsDef[] = [...BASE, CHINA_ALBERS, ...gkDefs(), ...utmDefs()]

const byId = new Map(BUILTIN.map((d) => [d.id.toLowerCase(), d]))
const byAlias = new Map(BUILTIN.flatMap((d) => d.aliases.map((a) => [a, d] as const)))

/** 'EPSG:4527', 'epsg:4527', '4527', 'ALBERS-CN' → built-in definition, else undefined. */
export function builtinCrs(code: string): CrsDef | undefined {
  const c = code.trim().toLowerCase()
  const id = /^\d+$/.test(c) ? `epsg:${c}` : c.replace(/^urn:ogc:def:crs:epsg:[^:]*:/, 'epsg:')
  return byId.get(id) ?? byAlias.get(c)
}

export function builtinByName(name: string): CrsDef | undefined {
  return byAlias.get(name.trim().toLowerCase())
}

/** Parses 'EPSG:N' (or 'N', or an OGC URN) to the number; undefined when it is not one. */
export function epsgNumber(code: string): number | undefined {
  const m = /^(?:epsg:|urn:ogc:def:crs:epsg:[^:]*:)?(\d{4,6})$/i.exec(code.trim())
  return m ? Number(m[1]) : undefined
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i)
}
