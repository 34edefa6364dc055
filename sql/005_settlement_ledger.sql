-- 005: the settlement ledger (calculation-rules.md §9 and §1).
-- Finalized lines of an agreement and year form a chain: the annual settlement first, then each
-- supplementary settlement naming the finalized line it follows, with at most one finalized
-- successor per line. Each line keeps a digest of what it read, so that finalizing can tell
-- whether any of it changed. Computed figures hold up to 18 integer digits (numeric(20,2)).

-- Rows of finalized runs are immutable (003); this migration is the one writer allowed past that,
-- to widen the columns and to name, on the lines finalized before it, the line each one follows.
ALTER TABLE settlement_lines DISABLE TRIGGER settlement_lines_immutable;
ALTER TABLE settlement_groups DISABLE TRIGGER settlement_groups_immutable;

ALTER TABLE settlement_lines
  ALTER COLUMN revenue_total TYPE numeric(20, 2),
  ALTER COLUMN zone_share TYPE numeric(20, 2),
  ALTER COLUMN district_share TYPE numeric(20, 2),
  ALTER COLUMN advances_paid TYPE numeric(20, 2),
  ALTER COLUMN balance_due TYPE numeric(20, 2),
  ALTER COLUMN previous_zone_share TYPE numeric(20, 2),
  ALTER COLUMN adjustment TYPE numeric(20, 2),
  -- The finalized line (of the same agreement and year) a supplementary line follows.
  ADD COLUMN follows_run_id integer,
  -- balance_due − the followed line's balance_due (supplementary only).
  ADD COLUMN balance_adjustment numeric(20, 2),
  -- What the line was computed from, as digests by kind of input (JSON); '' before this migration.
  ADD COLUMN inputs text NOT NULL DEFAULT '';

ALTER TABLE settlement_groups
  ALTER COLUMN base TYPE numeric(20, 2),
  ALTER COLUMN actual TYPE numeric(20, 2),
  ALTER COLUMN increment TYPE numeric(20, 2),
  ALTER COLUMN carried_shortfall_in TYPE numeric(20, 2),
  ALTER COLUMN shareable TYPE numeric(20, 2),
  ALTER COLUMN zone_share TYPE numeric(20, 2),
  ALTER COLUMN district_share TYPE numeric(20, 2),
  ALTER COLUMN carried_shortfall_out TYPE numeric(20, 2);

-- Each supplementary line follows the finalized line of its agreement and year that was finalized
-- last before it (a draft: the last one finalized so far).
UPDATE settlement_lines l
SET follows_run_id = (
    SELECT p.run_id
    FROM settlement_lines p JOIN settlement_runs pr ON pr.id = p.run_id
    WHERE p.agreement_id = l.agreement_id AND p.fiscal_year = l.fiscal_year AND p.finalized AND p.run_id <> l.run_id
      AND pr.finalized_at < coalesce((SELECT r.finalized_at FROM settlement_runs r WHERE r.id = l.run_id AND l.finalized), 'infinity')
    ORDER BY pr.finalized_at DESC, pr.id DESC
    LIMIT 1),
  balance_adjustment = l.balance_due - (
    SELECT p.balance_due
    FROM settlement_lines p JOIN settlement_runs pr ON pr.id = p.run_id
    WHERE p.agreement_id = l.agreement_id AND p.fiscal_year = l.fiscal_year AND p.finalized AND p.run_id <> l.run_id
      AND pr.finalized_at < coalesce((SELECT r.finalized_at FROM settlement_runs r WHERE r.id = l.run_id AND l.finalized), 'infinity')
    ORDER BY pr.finalized_at DESC, pr.id DESC
    LIMIT 1)
WHERE l.kind = 'supplementary';

ALTER TABLE settlement_lines ENABLE TRIGGER settlement_lines_immutable;
ALTER TABLE settlement_groups ENABLE TRIGGER settlement_groups_immutable;

ALTER TABLE settlement_lines
  ADD CONSTRAINT settlement_lines_follows_fk FOREIGN KEY (follows_run_id, agreement_id) REFERENCES settlement_lines (run_id, agreement_id),
  ADD CONSTRAINT settlement_lines_follows_supplementary CHECK ((kind = 'supplementary') = (follows_run_id IS NOT NULL)),
  ADD CONSTRAINT settlement_lines_balance_adjustment CHECK ((kind = 'supplementary') = (balance_adjustment IS NOT NULL));

-- A finalized line has at most one finalized successor: no difference is ever paid twice, whatever
-- the order of runs and finalizations (the annual line is the one without a predecessor, 003).
CREATE UNIQUE INDEX settlement_lines_one_successor_idx ON settlement_lines (agreement_id, fiscal_year, follows_run_id)
  WHERE finalized AND follows_run_id IS NOT NULL;
