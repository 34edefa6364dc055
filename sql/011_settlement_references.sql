-- 011: the settlement ledger's references checked a statement at a time (issue 16).
--
-- A run stores its lines and their groups with COPY, a chunk of agreements at a time. The four
-- foreign keys on those rows (a line's run, its agreement and the line it follows; a group's line)
-- were checked by PostgreSQL one row at a time, a lookup and a row lock per key per row: three
-- quarters of the time a run spends storing (124 of 160 ms for 2,500 agreements, 7,500 rows).
-- They are replaced by the same guarantees, checked once per statement:
-- * the run, agreement and followed line of new lines, and the line of new groups, must exist.
--   Each statement locks the rows it refers to (FOR KEY SHARE, the lock a foreign key takes, so
--   that none of them can be deleted before it commits) and is refused whole if one is missing;
-- * a run, agreement or line that a line or group refers to cannot be deleted, nor its key changed;
-- * the references of a stored line or group cannot be changed (the service never changes them).
-- Every refusal is SQLSTATE 23503 (foreign_key_violation), as the foreign keys' were. The checks
-- read with the statement's snapshot: the same as a foreign key's for the service's writers, which
-- write in READ COMMITTED (its REPEATABLE READ transactions only read); a REPEATABLE READ deleter
-- in hand-written SQL could miss a line committed after its snapshot, where a key would not.

ALTER TABLE settlement_groups DROP CONSTRAINT settlement_groups_run_id_agreement_id_fkey;
ALTER TABLE settlement_lines
  DROP CONSTRAINT settlement_lines_follows_fk,
  DROP CONSTRAINT settlement_lines_run_id_fkey,
  DROP CONSTRAINT settlement_lines_agreement_id_fkey;

-- New lines: their runs, agreements and followed lines locked, then any that is missing named.
CREATE FUNCTION settlement_lines_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  PERFORM 1 FROM settlement_runs r WHERE r.id IN (SELECT run_id FROM new_lines) FOR KEY SHARE;
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

CREATE TRIGGER settlement_lines_refer AFTER INSERT ON settlement_lines
  REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION settlement_lines_refer();

-- New groups: their lines locked, then any that is missing named.
CREATE FUNCTION settlement_groups_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  PERFORM 1 FROM settlement_lines l WHERE (l.run_id, l.agreement_id) IN (SELECT run_id, agreement_id FROM new_groups) FOR KEY SHARE;
  SELECT format('the line of agreement %s in run %s', n.agreement_id, n.run_id) INTO missing FROM new_groups n
    WHERE NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.run_id = n.run_id AND l.agreement_id = n.agreement_id) LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'a settlement group refers to %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER settlement_groups_refer AFTER INSERT ON settlement_groups
  REFERENCING NEW TABLE AS new_groups FOR EACH STATEMENT EXECUTE FUNCTION settlement_groups_refer();

-- A stored line or group keeps its references (fires only when an UPDATE sets one of them).
CREATE FUNCTION settlement_references_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'settlement_lines' THEN
    IF (NEW.run_id, NEW.agreement_id, NEW.follows_run_id) IS DISTINCT FROM (OLD.run_id, OLD.agreement_id, OLD.follows_run_id) THEN
      RAISE EXCEPTION 'the run, agreement and followed line of a settlement line cannot be changed' USING ERRCODE = 'foreign_key_violation';
    END IF;
  ELSIF (NEW.run_id, NEW.agreement_id) IS DISTINCT FROM (OLD.run_id, OLD.agreement_id) THEN
    RAISE EXCEPTION 'the line of a settlement group cannot be changed' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER settlement_lines_references_fixed BEFORE UPDATE OF run_id, agreement_id, follows_run_id ON settlement_lines
  FOR EACH ROW EXECUTE FUNCTION settlement_references_fixed();
CREATE TRIGGER settlement_groups_references_fixed BEFORE UPDATE OF run_id, agreement_id ON settlement_groups
  FOR EACH ROW EXECUTE FUNCTION settlement_references_fixed();

-- A run or agreement that lines refer to stays, with its id (few rows: a row at a time).
CREATE FUNCTION settlement_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
    RETURN NEW;
  END IF;
  IF (TG_TABLE_NAME = 'settlement_runs' AND EXISTS (SELECT 1 FROM settlement_lines WHERE run_id = OLD.id))
    OR (TG_TABLE_NAME = 'agreements' AND EXISTS (SELECT 1 FROM settlement_lines WHERE agreement_id = OLD.id)) THEN
    RAISE EXCEPTION 'settlement lines refer to % %: it cannot be removed or renumbered', TG_TABLE_NAME, OLD.id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

-- Named to fire after settlement_runs_immutable, whose refusal of a finalized run comes first.
CREATE TRIGGER settlement_runs_referenced BEFORE DELETE OR UPDATE OF id ON settlement_runs
  FOR EACH ROW EXECUTE FUNCTION settlement_referenced();
CREATE TRIGGER agreements_settlement_referenced BEFORE DELETE OR UPDATE OF id ON agreements
  FOR EACH ROW EXECUTE FUNCTION settlement_referenced();

-- TRUNCATE agreements … CASCADE no longer reaches the lines: it is refused while any line exists.
CREATE FUNCTION settlement_agreements_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM settlement_lines) THEN
    RAISE EXCEPTION 'settlement lines refer to agreements: they cannot be truncated' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER agreements_settlement_no_truncate BEFORE TRUNCATE ON agreements
  FOR EACH STATEMENT EXECUTE FUNCTION settlement_agreements_truncate();

-- Lines that groups or later lines refer to stay: checked once a DELETE has run, on what it left.
CREATE FUNCTION settlement_lines_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM gone_lines o JOIN settlement_groups g ON g.run_id = o.run_id AND g.agreement_id = o.agreement_id)
    OR EXISTS (SELECT 1 FROM gone_lines o JOIN settlement_lines l ON l.follows_run_id = o.run_id AND l.agreement_id = o.agreement_id) THEN
    RAISE EXCEPTION 'settlement groups or lines refer to a settlement line deleted: it cannot be removed' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER settlement_lines_referenced AFTER DELETE ON settlement_lines
  REFERENCING OLD TABLE AS gone_lines FOR EACH STATEMENT EXECUTE FUNCTION settlement_lines_referenced();
