import { writeGeoTiff, GEOKEYS } from '../scripts/raster/write-geotiff.ts'
import { CLASS_AT } from '../test/helpers/raster-fixtures.ts'
writeGeoTiff('/tmp/base.tif', { width: 300, height: 200, type: 'uint8', transform: [116, 0.001, 0, 40, 0, -0.001], geoKeys: GEOKEYS.epsg(4490, true), nodata: 0 }, (_b, r, c) => CLASS_AT(r, c))
