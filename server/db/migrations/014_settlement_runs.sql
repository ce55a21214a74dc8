-- ecocensus schema v14: watershed settlement runs (server/watershed) are runs like the others.
ALTER TABLE run DROP CONSTRAINT run_kind_check;
ALTER TABLE run ADD CONSTRAINT run_kind_check CHECK (kind IN ('coverage','change','zonal','zonal_change','gep','compensation','settlement'));
