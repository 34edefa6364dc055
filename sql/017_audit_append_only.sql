-- 017: the audit log (audit_events) and the revenue revisions (revenue_revisions, the only record
-- of which amounts a batch or an import changed, and from what) are kept as recorded. The service
-- only ever inserts into them; the triggers refuse UPDATE, DELETE and TRUNCATE whoever sends them,
-- as 004 does for debt events and 003 for finalized runs. (Before, a database session could edit
-- or erase who finalized a run; found by the audit probe.)

CREATE FUNCTION kept_as_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: its rows are kept as recorded, never changed or deleted', TG_TABLE_NAME USING ERRCODE = 'P0001';
END $$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION kept_as_recorded();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION kept_as_recorded();
CREATE TRIGGER revenue_revisions_append_only BEFORE UPDATE OR DELETE ON revenue_revisions
  FOR EACH ROW EXECUTE FUNCTION kept_as_recorded();
CREATE TRIGGER revenue_revisions_no_truncate BEFORE TRUNCATE ON revenue_revisions
  FOR EACH STATEMENT EXECUTE FUNCTION kept_as_recorded();
