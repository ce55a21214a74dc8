#!/usr/bin/env python3
# The plain-tools reference of scripts/bench/gep-bench.ts: the same GEP map algebra with GDAL
# and numpy as an analyst would script it (units rasterized at pixel centres, bincount per
# unit), on GRASS r.watershed's D8 accumulation. Writes numpy.csv (unit_code, gep_yuan).
# Usage: gep_numpy.py DIR UNITS.gpkg ACC.tif   (Debian python3-gdal, python3-numpy)
import sys
import numpy as np
from osgeo import gdal, ogr

gdal.UseExceptions()
d, units_file, acc_file = sys.argv[1:4]
read = lambda name: gdal.Open(f'{d}/{name}.tif').ReadAsArray()
lc_ds = gdal.Open(f'{d}/lc.tif')
lc = lc_ds.ReadAsArray()
gt = lc_ds.GetGeoTransform()
D = gt[1]
A = D * D
# classes 1 farmland, 2 forest, 3 grassland, 4 water, 5 urban (as the bench's config)
runoff = np.array([0, 0.3, 0.05, 0.15, 0, 0.6])
C = np.array([0, 0.25, 0.01, 0.05, 0, 0])
P = np.array([0, 0.5, 1, 1, 1, 1])
so2 = np.array([0, 0, 88.65, 20, 0, 0])
plant_or_water = np.array([False, False, True, True, True, False])

p, et, npp, r, k = (read(n).astype(np.float64) for n in ('precip', 'et', 'npp', 'r', 'k'))
dem = read('dem').astype(np.float64)
acc = np.abs(gdal.Open(acc_file).ReadAsArray().astype(np.float64))

# Horn slope, edges replicated
z = np.pad(dem, 1, mode='edge')
a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
dd, f = z[1:-1, :-2], z[1:-1, 2:]
g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
gx = ((c + 2 * f + i) - (a + 2 * dd + g)) / (8 * D)
gy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * D)
tan = np.hypot(gx, gy)
x = np.where(tan > 0, (np.abs(gx) + np.abs(gy)) / np.where(tan > 0, tan, 1), 1.0)
sin = tan / np.sqrt(1 + tan * tan)
beta = np.where(sin > 0, sin / 0.0896 / (3 * np.power(sin, 0.8) + 0.56), 0)
m = beta / (1 + beta)
Ain = np.maximum(acc - 1, 0) * A
L = (np.power(Ain + D * D, m + 1) - np.power(Ain, m + 1)) / (np.power(D, m + 2) * np.power(x, m) * np.power(22.13, m))
S = np.where(tan < 0.09, 10.8 * sin + 0.03, 16.8 * sin - 0.5)

co2, o2 = 6 * 44.0095 / 162.1406, 6 * 31.9988 / 162.1406
value = (
    (p * (1 - runoff[lc]) - et) * 1e-3 * A * 7.06
    + r * k * L * S * (1 - C[lc] * P[lc]) * A * 1e-4 * 20
    + (npp / 0.45) * A * 1e-6 * (co2 * 100 + o2 * 1000)
    + np.where(plant_or_water[lc], et * A * 2.45 / 3.6, 0) * 0.6
    + so2[lc] * (A / 1e4) * 1e-3 * 1260
)

# units at pixel centres
ds = ogr.Open(units_file)
layer = ds.GetLayer(0)
codes = {}
for feat in layer:
    codes[feat.GetFID()] = feat.GetField('code')
layer.ResetReading()
mem = gdal.GetDriverByName('MEM').Create('', lc.shape[1], lc.shape[0], 1, gdal.GDT_Int32)
mem.SetGeoTransform(gt)
mem.SetProjection(lc_ds.GetProjection())
# ogr's FID is not an attribute: select it as one to burn it
mem.GetRasterBand(1).Fill(0)
sql = ds.ExecuteSQL('SELECT fid AS burn, * FROM cells')
gdal.RasterizeLayer(mem, [1], sql, options=['ATTRIBUTE=burn'])
ds.ReleaseResultSet(sql)
ids = mem.GetRasterBand(1).ReadAsArray()
sums = np.bincount(ids.ravel(), weights=value.ravel(), minlength=max(codes) + 1)
with open(f'{d}/numpy.csv', 'w') as out:
    out.write('unit_code,gep_yuan\n')
    for fid, code in codes.items():
        out.write(f'{code},{sums[fid]!r}\n')
