-- alerts: rules over layer trends and raster changes, evaluated per unit (server/alerts)
ALTER TABLE run DROP CONSTRAINT run_kind_check;
ALTER TABLE run ADD CONSTRAINT run_kind_check CHECK (kind IN ('coverage','change','zonal','zonal_change','gep','compensation','settlement','alerts'));
