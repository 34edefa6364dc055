-- 014: a finalized run takes no new rows (api-contract.md, Settlement runs: "A finalized run and its
-- lines can no longer change, by any path, the database included").
--
-- Its rows could not be updated or deleted (003), but a line or group could still be inserted into
-- it by hand: a third group under a signed line, whose statement then no longer added up. The
-- statement-level reference checks of 011 now also refuse new rows of a finalized run, once per
-- statement (a row-level trigger would cost a lookup per row of every run's COPY), with the error
-- the immutability triggers give.

CREATE OR REPLACE FUNCTION settlement_reject_insert_finalized(run_ids integer[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  finalized_run integer;
BEGIN
  SELECT r.id INTO finalized_run FROM settlement_runs r WHERE r.id = ANY(run_ids) AND r.status = 'finalized' LIMIT 1;
  IF finalized_run IS NOT NULL THEN
    RAISE EXCEPTION 'settlement run % is finalized: rows cannot be added to it', finalized_run
      USING ERRCODE = 'P0001', HINT = 'A change after finalizing is a supplementary settlement (补充结算): a new run for the year.';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION settlement_lines_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  PERFORM 1 FROM settlement_runs r WHERE r.id IN (SELECT run_id FROM new_lines) FOR KEY SHARE;
  PERFORM settlement_reject_insert_finalized(ARRAY(SELECT DISTINCT run_id FROM new_lines));
  PERFORM 1 FROM agreements a WHERE a.id IN (SELECT agreement_id FROM new_lines) FOR KEY SHARE;
  PERFORM 1 FROM settlement_lines l
    WHERE (l.run_id, l.agreement_id) IN (SELECT follows_run_id, agreement_id FROM new_lines WHERE follows_run_id IS NOT NULL) FOR KEY SHARE;
  SELECT format('settlement run %s', n.run_id) INTO missing FROM new_lines n
    WHERE NOT EXISTS (SELECT 1 FROM settlement_runs r WHERE r.id = n.run_id) LIMIT 1;
  IF missing IS NULL THEN
    SELECT format('agreement %s', n.agreement_id) INTO missing FROM new_lines n
      WHERE NOT EXISTS (SELECT 1 FROM agreements a WHERE a.id = n.agreement_id) LIMIT 1;
  END IF;
  IF missing IS NULL THEN
    SELECT format('the line of agreement %s in run %s', n.agreement_id, n.follows_run_id) INTO missing FROM new_lines n
      WHERE n.follows_run_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.run_id = n.follows_run_id AND l.agreement_id = n.agreement_id) LIMIT 1;
  END IF;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'a settlement line refers to %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION settlement_groups_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  PERFORM 1 FROM settlement_lines l WHERE (l.run_id, l.agreement_id) IN (SELECT run_id, agreement_id FROM new_groups) FOR KEY SHARE;
  PERFORM settlement_reject_insert_finalized(ARRAY(SELECT DISTINCT run_id FROM new_groups));
  SELECT format('the line of agreement %s in run %s', n.agreement_id, n.run_id) INTO missing FROM new_groups n
    WHERE NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.run_id = n.run_id AND l.agreement_id = n.agreement_id) LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'a settlement group refers to %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
