import { openDb } from '../server/db/open.ts'
const db = await openDb({ dataDir: 'memory://' })
console.log(await db.query(`SELECT ST_AsText(ST_Transform(ST_SetSRID(ST_MakePoint(116.1, 39.9), 4490), '+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs')) AS t`))
console.log(await db.query(`SELECT ST_AsText(ST_Transform(ST_SetSRID(ST_MakePoint(116.1, 39.9), 4490), 4547)) AS t`))
await db.close()
