-- 015: the digest covers the calculation request each group was computed from.
--
-- A group stores the request that gives its figures (settlement_groups.input, printed to callers
-- as the line's calculationRequest), but the digest's canonical text (settlement-run/v1) left it
-- out: a finalized group's input changed by hand still verified. Runs finalized from now on take
-- their digest over settlement-run/v2, which holds it; the format a run's digest was taken over is
-- stored with it, so that a run finalized before keeps verifying as v1 and a v2 run is never checked
-- against the text that leaves the input out.

ALTER TABLE settlement_runs
  -- The canonical text the digest was taken over; NULL for runs finalized before this migration (v1).
  ADD COLUMN digest_format text CHECK (digest_format IS NULL OR digest_format = 'settlement-run/v2'),
  ADD CONSTRAINT settlement_runs_digest_format_finalized CHECK (digest_format IS NULL OR digest IS NOT NULL);
