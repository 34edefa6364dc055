-- 018: the reference checks of a run's stored lines and groups are planned as the ledger stands
-- when each statement runs, not as it stood at an earlier check (issue 16).
--
-- PL/pgSQL keeps the plan of a statement it has run, on that connection, until the tables it reads
-- are next analyzed (by autovacuum on PostgreSQL, some time after a run commits; never on PGlite,
-- which has no autovacuum). The checks of 011/014 were planned at a connection's first check, and a
-- check made while few lines were stored (a new database; an earlier run of chosen agreements) left a
-- plan for a handful of lines to every later check until then, inside one large run included: each
-- group's line was found by a scan of the ledger, or by a walk of its run's lines in statement order
-- (settlement_lines_run_order_idx, which costs what the primary key does on a near-empty table),
-- once per group. 160,798 rows were read to check 798 groups (test/db/settlement-references.test.ts,
-- PostgreSQL 15); on a connection whose first run had 100 agreements, a 25,000-agreement run took
-- 17.2 s instead of 4.5 s. The statements that read settlement_lines are now EXECUTEd, planned
-- each time with the table as it is then; what they check and lock is unchanged.

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
