-- 003: annual settlement runs (年度结算), their lines and groups (issue 4).
-- A finalized run and its lines and groups can no longer change by any path: the triggers below
-- reject UPDATE and DELETE of finalized rows and TRUNCATE of these tables, whoever sends them.

CREATE TABLE settlement_runs (
  id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  fiscal_year   integer NOT NULL CHECK (fiscal_year BETWEEN 1990 AND 2100),
  status        text NOT NULL CHECK (status IN ('draft', 'finalized')),
  minimum_rate  numeric(7, 6) NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text NOT NULL,
  finalized_at  timestamptz,
  finalized_by  text,
  CHECK ((status = 'finalized') = (finalized_at IS NOT NULL))
);
CREATE INDEX settlement_runs_year_idx ON settlement_runs (fiscal_year);

-- One line per agreement in force: annual (年度结算) or supplementary (补充结算, when the
-- agreement's year was already finalized; previous_zone_share and adjustment say by how much).
CREATE TABLE settlement_lines (
  run_id               integer NOT NULL REFERENCES settlement_runs (id),
  agreement_id         integer NOT NULL REFERENCES agreements (id),
  fiscal_year          integer NOT NULL,
  kind                 text NOT NULL CHECK (kind IN ('annual', 'supplementary')),
  finalized            boolean NOT NULL DEFAULT false,
  zone_code            text NOT NULL,
  district_code        text NOT NULL,
  revenue_total        numeric(17, 2) NOT NULL,
  zone_share           numeric(17, 2) NOT NULL,
  district_share       numeric(17, 2) NOT NULL,
  advances_paid        numeric(17, 2) NOT NULL,
  balance_due          numeric(17, 2) NOT NULL,
  previous_zone_share  numeric(17, 2),
  adjustment           numeric(17, 2),
  PRIMARY KEY (run_id, agreement_id),
  CHECK ((kind = 'supplementary') = (previous_zone_share IS NOT NULL))
);
-- One finalized annual settlement per agreement and year.
CREATE UNIQUE INDEX settlement_lines_one_annual_idx ON settlement_lines (agreement_id, fiscal_year) WHERE finalized AND kind = 'annual';
CREATE INDEX settlement_lines_agreement_year_idx ON settlement_lines (agreement_id, fiscal_year) WHERE finalized;

CREATE TABLE settlement_groups (
  run_id                 integer NOT NULL,
  agreement_id           integer NOT NULL,
  position               integer NOT NULL,
  name                   text NOT NULL,
  basis                  text NOT NULL CHECK (basis IN ('increment', 'total')),
  base                   numeric(17, 2),
  actual                 numeric(17, 2) NOT NULL,
  increment              numeric(17, 2),
  carried_shortfall_in   numeric(17, 2),
  shareable              numeric(17, 2),
  zone_share             numeric(17, 2) NOT NULL,
  district_share         numeric(17, 2) NOT NULL,
  carried_shortfall_out  numeric(17, 2),
  bands                  text NOT NULL,
  -- The engine's whole result for the group (exact figures, base derivation, bands), from which
  -- the explanation is written in the reader's language.
  result                 text NOT NULL,
  PRIMARY KEY (run_id, agreement_id, position),
  FOREIGN KEY (run_id, agreement_id) REFERENCES settlement_lines (run_id, agreement_id)
);

CREATE FUNCTION settlement_reject_finalized() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  run_status text;
  run_ref integer;
BEGIN
  IF TG_TABLE_NAME = 'settlement_runs' THEN
    run_status := OLD.status;
    run_ref := OLD.id;
  ELSE
    run_ref := OLD.run_id;
    SELECT status INTO run_status FROM settlement_runs WHERE id = run_ref;
  END IF;
  IF run_status = 'finalized' THEN
    RAISE EXCEPTION 'settlement run % is finalized: its rows cannot be changed or deleted', run_ref
      USING ERRCODE = 'P0001', HINT = 'A change after finalizing is a supplementary settlement (补充结算): a new run for the year.';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION settlement_reject_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'settlement tables cannot be truncated' USING ERRCODE = 'P0001';
END $$;

CREATE TRIGGER settlement_runs_immutable BEFORE UPDATE OR DELETE ON settlement_runs
  FOR EACH ROW WHEN (OLD.status = 'finalized') EXECUTE FUNCTION settlement_reject_finalized();
CREATE TRIGGER settlement_lines_immutable BEFORE UPDATE OR DELETE ON settlement_lines
  FOR EACH ROW EXECUTE FUNCTION settlement_reject_finalized();
CREATE TRIGGER settlement_groups_immutable BEFORE UPDATE OR DELETE ON settlement_groups
  FOR EACH ROW EXECUTE FUNCTION settlement_reject_finalized();
CREATE TRIGGER settlement_runs_no_truncate BEFORE TRUNCATE ON settlement_runs
  FOR EACH STATEMENT EXECUTE FUNCTION settlement_reject_truncate();
CREATE TRIGGER settlement_lines_no_truncate BEFORE TRUNCATE ON settlement_lines
  FOR EACH STATEMENT EXECUTE FUNCTION settlement_reject_truncate();
CREATE TRIGGER settlement_groups_no_truncate BEFORE TRUNCATE ON settlement_groups
  FOR EACH STATEMENT EXECUTE FUNCTION settlement_reject_truncate();
