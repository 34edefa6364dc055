-- 010: A(y) read from yearly sums kept beside the monthly records (issue 16).
--
-- A settlement run, finalizing, a scenario and a statement all read A(y) (calculation-rules.md §5):
-- the sum of a zone's revenue in a district over a group's categories in a year. They read it
-- from twelve monthly rows per category, summed every time; a province's run sums 6,000,000 rows
-- to use 500,000 sums. revenue_year_totals keeps those sums, one row per zone, district, category
-- and year, with what recordsDigest needs (how many monthly records, the sum of their revision
-- numbers), and every read of A(y) reads them instead.
--
-- The sums are kept by triggers on revenue_records, in the transaction that writes the records,
-- whatever writes them: an import's merge, a test's or an operator's SQL. Each statement adds its
-- change to the sums (new rows added, old rows taken off), which is exact in numeric, and safe
-- when two transactions change one sum: the upsert waits for the other's row and adds to what it
-- committed. A sum whose records are all gone is removed, so that nothing recorded stays
-- different from a zero recorded.

-- No revenue is written while the sums are first taken and the triggers put in place: a write
-- committed between the two would be in neither (reads go on; an import waits for this migration).
LOCK TABLE revenue_records IN SHARE ROW EXCLUSIVE MODE;

-- An amount is a number: NaN, which numeric accepts, would make its year's sum NaN for good.
ALTER TABLE revenue_records ADD CONSTRAINT revenue_records_amount_is_a_number CHECK (amount <> 'NaN');

CREATE TABLE revenue_year_totals (
  zone_code      text NOT NULL,
  district_code  text NOT NULL,
  category_code  text NOT NULL,
  year           integer NOT NULL,
  -- Σ amount of the months on record (numeric(17, 2) amounts: the sum keeps two decimals).
  total          numeric NOT NULL,
  -- How many months are on record, and the sum of their revision numbers (recordsDigest).
  records        integer NOT NULL,
  revisions      bigint NOT NULL,
  PRIMARY KEY (zone_code, district_code, category_code, year)
);

INSERT INTO revenue_year_totals (zone_code, district_code, category_code, year, total, records, revisions)
  SELECT zone_code, district_code, category_code, year, sum(amount), count(*), sum(revision)
  FROM revenue_records GROUP BY zone_code, district_code, category_code, year;

-- One function for the three statement triggers; each names only the transition tables it has
-- (PostgreSQL allows them only on a trigger of one event), and only its branch reads them.
CREATE FUNCTION revenue_year_totals_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO revenue_year_totals AS t (zone_code, district_code, category_code, year, total, records, revisions)
      SELECT zone_code, district_code, category_code, year, sum(amount), count(*), sum(revision)
      FROM new_rows GROUP BY zone_code, district_code, category_code, year
      ON CONFLICT (zone_code, district_code, category_code, year) DO UPDATE
      SET total = t.total + excluded.total, records = t.records + excluded.records, revisions = t.revisions + excluded.revisions;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO revenue_year_totals AS t (zone_code, district_code, category_code, year, total, records, revisions)
      SELECT zone_code, district_code, category_code, year, sum(amount), sum(records), sum(revision)
      FROM (SELECT zone_code, district_code, category_code, year, amount, 1 AS records, revision FROM new_rows
            UNION ALL
            SELECT zone_code, district_code, category_code, year, -amount, -1, -revision FROM old_rows) AS change
      GROUP BY zone_code, district_code, category_code, year
      ON CONFLICT (zone_code, district_code, category_code, year) DO UPDATE
      SET total = t.total + excluded.total, records = t.records + excluded.records, revisions = t.revisions + excluded.revisions;
  ELSE
    INSERT INTO revenue_year_totals AS t (zone_code, district_code, category_code, year, total, records, revisions)
      SELECT zone_code, district_code, category_code, year, -sum(amount), -count(*), -sum(revision)
      FROM old_rows GROUP BY zone_code, district_code, category_code, year
      ON CONFLICT (zone_code, district_code, category_code, year) DO UPDATE
      SET total = t.total + excluded.total, records = t.records + excluded.records, revisions = t.revisions + excluded.revisions;
  END IF;
  DELETE FROM revenue_year_totals t USING (SELECT DISTINCT zone_code, district_code, category_code, year FROM old_rows) AS o
    WHERE (t.zone_code, t.district_code, t.category_code, t.year) = (o.zone_code, o.district_code, o.category_code, o.year) AND t.records = 0;
  RETURN NULL;
END;
$$;

CREATE TRIGGER revenue_year_totals_insert AFTER INSERT ON revenue_records
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_year_totals_keep();
CREATE TRIGGER revenue_year_totals_update AFTER UPDATE ON revenue_records
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_year_totals_keep();
CREATE TRIGGER revenue_year_totals_delete AFTER DELETE ON revenue_records
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_year_totals_keep();

CREATE FUNCTION revenue_year_totals_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE revenue_year_totals;
  RETURN NULL;
END;
$$;

CREATE TRIGGER revenue_year_totals_truncate AFTER TRUNCATE ON revenue_records
  FOR EACH STATEMENT EXECUTE FUNCTION revenue_year_totals_clear();
