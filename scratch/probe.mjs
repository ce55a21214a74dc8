import { fromFile } from 'geotiff'
for (const f of process.argv.slice(2)) {
  const t = await fromFile(f)
  const n = await t.getImageCount()
  const im = await t.getImage(0)
  const fd = im.getFileDirectory()
  console.log(f, n, im.getWidth(), im.getHeight(), im.getSamplesPerPixel(), im.isTiled, im.getTileWidth(), im.getTileHeight(), im.getSampleFormat(), im.getBitsPerSample(), fd.getValue('Compression'), im.planarConfiguration)
  console.log(JSON.stringify(im.getGeoKeys()), im.getGDALNoData())
  console.log(fd.getValue('ModelPixelScale'), fd.getValue('ModelTiepoint'), fd.getValue('ModelTransformation'))
  try { console.log('origin', im.getOrigin(), im.getResolution()) } catch (e) { console.log('err', e.message) }
  console.log(await fd.loadValue('GDAL_NODATA').catch(e=>e.message))
  const r = await im.readRasters({ window: [0, 0, 3, 2], samples: [0] })
  console.log(r[0], r.width, r.height)
  t.close?.()
}
