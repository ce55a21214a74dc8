-- ecocensus schema v5: which process runs a run (host, pid, process start), so that a run
-- whose process died (kill -9, power cut) is found and marked failed at the next start.
ALTER TABLE run ADD COLUMN owner text;
