-- ecocensus schema v11: compensation ledger runs (server/ledger) are runs like the statistics.
ALTER TABLE run DROP CONSTRAINT run_kind_check;
ALTER TABLE run ADD CONSTRAINT run_kind_check CHECK (kind IN ('coverage','change','zonal','zonal_change','gep','compensation'));
