-- 018: the reference checks of a run's stored lines and groups are planned as the ledger stands
-- when each statement runs, not as it stood at the session's first check (issue 16).
--
-- PL/pgSQL keeps the plan of a statement it has run for the rest of the session. The checks of
-- 011/014 were planned at the session's first check, when few lines may be stored (a new
-- database; a run of a few chosen agreements); a plan for a handful of lines then served every
-- later check on that connection, however large the ledger had grown. Each group's line was found
-- by walking its run's lines in statement order (settlement_lines_run_order_idx, which costs what
-- the primary key does on a near-empty table), or on PostgreSQL 15 by a scan of the whole ledger
-- for each group: 161,202 rows read to check 798 groups. In a 2,500-agreement run whose first
-- chunk was small, the check of each later chunk's 2,000 groups took 30–74 ms; by the primary key,
-- 5 ms for 5,000. The statements that read settlement_lines are now EXECUTEd, planned each time
-- with the table as it is then; what they check and lock is unchanged.

CREATE OR REPLACE FUNCTION settlement_lines_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  PERFORM 1 FROM settlement_runs r WHERE r.id IN (SELECT run_id FROM new_lines) FOR KEY SHARE;
  PERFORM settlement_reject_insert_finalized(ARRAY(SELECT DISTINCT run_id FROM new_lines));
  PERFORM 1 FROM agreements a WHERE a.id IN (SELECT agreement_id FROM new_lines) FOR KEY SHARE;
  EXECUTE 'SELECT 1 FROM settlement_lines l
    WHERE (l.run_id, l.agreement_id) IN (SELECT follows_run_id, agreement_id FROM new_lines WHERE follows_run_id IS NOT NULL) FOR KEY SHARE';
  SELECT format('settlement run %s', n.run_id) INTO missing FROM new_lines n
    WHERE NOT EXISTS (SELECT 1 FROM settlement_runs r WHERE r.id = n.run_id) LIMIT 1;
  IF missing IS NULL THEN
    SELECT format('agreement %s', n.agreement_id) INTO missing FROM new_lines n
      WHERE NOT EXISTS (SELECT 1 FROM agreements a WHERE a.id = n.agreement_id) LIMIT 1;
  END IF;
  IF missing IS NULL THEN
    EXECUTE 'SELECT format(''the line of agreement %s in run %s'', n.agreement_id, n.follows_run_id) FROM new_lines n
      WHERE n.follows_run_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.run_id = n.follows_run_id AND l.agreement_id = n.agreement_id) LIMIT 1' INTO missing;
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
  EXECUTE 'SELECT 1 FROM settlement_lines l WHERE (l.run_id, l.agreement_id) IN (SELECT run_id, agreement_id FROM new_groups) FOR KEY SHARE';
  PERFORM settlement_reject_insert_finalized(ARRAY(SELECT DISTINCT run_id FROM new_groups));
  EXECUTE 'SELECT format(''the line of agreement %s in run %s'', n.agreement_id, n.run_id) FROM new_groups n
    WHERE NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.run_id = n.run_id AND l.agreement_id = n.agreement_id) LIMIT 1' INTO missing;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'a settlement group refers to %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
