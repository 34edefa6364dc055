-- 009: revenue imports at the speed of the database (issue 16).
--
-- Every revenue row is checked against the registry before it is staged: its zone, its district
-- (the zone's host, or a district the key may write) and its category are looked up in the
-- references read in the import's own transaction (src/db/revenue.ts loadRevenueReferences).
-- The three foreign keys of revenue_records checked the same thing again, one lookup and one row
-- lock per key per row: three of them for each of the 600,000 rows of a province's month file,
-- three quarters of an import's time. They go; what they also guarded, a zone, district or
-- category taken away (or its code changed) while revenue still names it, is refused here by the
-- registry's side, where it costs nothing on the path of an import.

ALTER TABLE revenue_records
  DROP CONSTRAINT revenue_records_zone_code_fkey,
  DROP CONSTRAINT revenue_records_district_code_fkey,
  DROP CONSTRAINT revenue_records_category_code_fkey;

CREATE FUNCTION revenue_referenced_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.code = OLD.code THEN
    RETURN NEW;
  END IF;
  IF (TG_TABLE_NAME = 'zones' AND EXISTS (SELECT 1 FROM revenue_records WHERE zone_code = OLD.code))
    OR (TG_TABLE_NAME = 'districts' AND EXISTS (SELECT 1 FROM revenue_records WHERE district_code = OLD.code))
    OR (TG_TABLE_NAME = 'revenue_categories' AND EXISTS (SELECT 1 FROM revenue_records WHERE category_code = OLD.code)) THEN
    RAISE EXCEPTION 'revenue is recorded under % %: it cannot be removed or renamed', TG_TABLE_NAME, OLD.code
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

CREATE TRIGGER zones_revenue_referenced BEFORE DELETE OR UPDATE OF code ON zones
  FOR EACH ROW EXECUTE FUNCTION revenue_referenced_code();
CREATE TRIGGER districts_revenue_referenced BEFORE DELETE OR UPDATE OF code ON districts
  FOR EACH ROW EXECUTE FUNCTION revenue_referenced_code();
CREATE TRIGGER revenue_categories_revenue_referenced BEFORE DELETE OR UPDATE OF code ON revenue_categories
  FOR EACH ROW EXECUTE FUNCTION revenue_referenced_code();
