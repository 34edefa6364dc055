-- 006: review and sign-off of settlement runs (审核确认、定稿; api-contract.md, Settlement runs).
-- The district's finance bureau (区财政局) and the zone's management committee (功能区管委会) each
-- confirm or dispute every line of a draft run; an admin (市财政局) may record a party's decision
-- on its behalf. Every decision is kept: the latest of each party is the one in force.
-- Finalizing stores the SHA-256 digest of the run's canonical content, and the reason of an
-- override of disputed lines, in the very UPDATE that marks the run finalized (the 003 trigger
-- lets a draft run change; from then on nothing can).

ALTER TABLE settlement_runs
  -- SHA-256 (hex) of the run's canonical content at finalizing; NULL for drafts and for runs
  -- finalized before this migration.
  ADD COLUMN digest text CHECK (digest ~ '^[0-9a-f]{64}$'),
  -- Why the run was finalized although a line was disputed (强制定稿理由); NULL when none was.
  ADD COLUMN override_reason text CHECK (override_reason IS NULL OR length(override_reason) BETWEEN 1 AND 2000),
  ADD CONSTRAINT settlement_runs_digest_finalized CHECK (digest IS NULL OR status = 'finalized'),
  ADD CONSTRAINT settlement_runs_override_finalized CHECK (override_reason IS NULL OR status = 'finalized');

-- From now on a run is finalized together with its digest.
CREATE FUNCTION settlement_finalized_with_digest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'finalized' AND NEW.digest IS NULL THEN
    RAISE EXCEPTION 'settlement run % is finalized without its digest', NEW.id USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER settlement_runs_digest_on_insert BEFORE INSERT ON settlement_runs
  FOR EACH ROW WHEN (NEW.status = 'finalized') EXECUTE FUNCTION settlement_finalized_with_digest();
CREATE TRIGGER settlement_runs_digest_on_finalize BEFORE UPDATE ON settlement_runs
  FOR EACH ROW WHEN (OLD.status = 'draft' AND NEW.status = 'finalized') EXECUTE FUNCTION settlement_finalized_with_digest();

CREATE TABLE settlement_reviews (
  id                 integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id             integer NOT NULL,
  agreement_id       integer NOT NULL,
  -- Whose decision it is: the district's finance bureau or the zone's management committee.
  party              text NOT NULL CHECK (party IN ('district', 'zone')),
  decision           text NOT NULL CHECK (decision IN ('confirm', 'dispute')),
  note               text CHECK (note IS NULL OR length(note) BETWEEN 1 AND 2000),
  -- The key that recorded it, its role and its label at the time (NULL for the bootstrap admin).
  recorded_by        text NOT NULL,
  recorded_by_role   text NOT NULL CHECK (recorded_by_role IN ('admin', 'district', 'zone')),
  recorded_by_label  text,
  recorded_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (run_id, agreement_id) REFERENCES settlement_lines (run_id, agreement_id),
  -- A dispute says why; an admin recording a party's decision says on what grounds.
  CHECK (decision = 'confirm' OR note IS NOT NULL),
  CHECK (recorded_by_role = 'admin' OR recorded_by_role = party),
  CHECK (recorded_by_role <> 'admin' OR note IS NOT NULL)
);
CREATE INDEX settlement_reviews_line_idx ON settlement_reviews (run_id, agreement_id, party, id);

-- Reviews are kept as recorded, and a finalized run takes no more of them, whoever writes.
CREATE FUNCTION settlement_review_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  run_status text;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'settlement reviews are kept as recorded: they cannot be changed or deleted' USING ERRCODE = 'P0001';
  END IF;
  SELECT status INTO run_status FROM settlement_runs WHERE id = NEW.run_id;
  IF run_status = 'finalized' THEN
    RAISE EXCEPTION 'settlement run % is finalized: it takes no more reviews', NEW.run_id USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER settlement_reviews_append_only BEFORE INSERT OR UPDATE OR DELETE ON settlement_reviews
  FOR EACH ROW EXECUTE FUNCTION settlement_review_append_only();
CREATE TRIGGER settlement_reviews_no_truncate BEFORE TRUNCATE ON settlement_reviews
  FOR EACH STATEMENT EXECUTE FUNCTION settlement_reject_truncate();
