// What a vector tile URL and its TileJSON take besides the source: ?run=ID, the run whose
// statistics the unit tiles carry. Shared with the HTTP route table (http/route-schemas.ts).
import { z } from 'zod'
import * as f from '../validate/fields.ts'

export const TILE_QUERY = z.strictObject({ run: f.runId.optional().describe('units:SET only: id of a done run of that set, whose per-unit statistics the tiles carry') })
