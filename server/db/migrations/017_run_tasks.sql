-- The tasks of a run distributed over worker processes (server/distribute/): one row per
-- part of the run's work, written by the run's coordinator when it queues them and by
-- whichever worker computes one. A part's result is written once: the first worker to
-- finish it sets status 'done' and its body; a retried copy of the task (its worker was
-- killed, the queue gave it to another) finds it done and writes nothing, so every part's
-- sums count exactly once. The body is the part's result, serialised (node:v8); the rows
-- are deleted with the run's other work when it ends.
CREATE TABLE run_task (
  run_id     bigint NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  part       integer NOT NULL,
  status     text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done')),
  progress   double precision NOT NULL DEFAULT 0,
  -- the queue's job id (pg-boss), so the coordinator can see a job that failed for good
  job_id     text,
  -- host|pid of the worker that last took it, the attempts it has had, its last error
  worker     text,
  attempts   integer NOT NULL DEFAULT 0,
  error      text,
  body       bytea,
  ms         double precision,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, part)
);
