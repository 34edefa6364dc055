-- 004: the legacy debt register (历史遗留债务, issue 5). A debt is registered with what was
-- outstanding on its registration date; everything after is an event in debt_events: the transfer
-- to the host district (划转, once), repayments of principal and interest, and reversals that
-- correct a repayment. Events are append-only: the triggers reject UPDATE, DELETE and TRUNCATE.

CREATE TABLE debts (
  id                           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  zone_code                    text NOT NULL REFERENCES zones (code),
  reference                    text NOT NULL CHECK (length(reference) BETWEEN 1 AND 100),
  creditor                     text NOT NULL CHECK (length(creditor) BETWEEN 1 AND 200),
  kind                         text NOT NULL CHECK (kind IN ('bank_loan', 'bond', 'project_payable', 'ppp', 'other')),
  principal                    numeric(17, 2) NOT NULL CHECK (principal > 0),
  outstanding_at_registration  numeric(17, 2) NOT NULL CHECK (outstanding_at_registration >= 0 AND outstanding_at_registration <= principal),
  interest_rate                numeric(7, 6) CHECK (interest_rate >= 0 AND interest_rate <= 1),
  incurred_on                  date,
  maturity_date                date,
  registered_on                date NOT NULL,
  notes                        text CHECK (length(notes) <= 2000),
  created_at                   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (zone_code, reference)
);
CREATE INDEX debts_maturity_idx ON debts (maturity_date);

CREATE TABLE debt_events (
  id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  debt_id           integer NOT NULL REFERENCES debts (id),
  kind              text NOT NULL CHECK (kind IN ('transfer', 'repayment', 'reversal')),
  occurred_on       date NOT NULL,
  district_code     text REFERENCES districts (code),
  document_no       text CHECK (length(document_no) <= 100),
  -- Repayments are positive; a reversal carries the negated amounts of the repayment it corrects.
  principal         numeric(17, 2) NOT NULL DEFAULT 0,
  interest          numeric(17, 2) NOT NULL DEFAULT 0,
  reverses_event_id integer REFERENCES debt_events (id),
  note              text CHECK (length(note) <= 500),
  key_id            text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'transfer') = (district_code IS NOT NULL)),
  CHECK ((kind = 'reversal') = (reverses_event_id IS NOT NULL))
);
CREATE INDEX debt_events_debt_idx ON debt_events (debt_id, occurred_on);
-- 划转 once per debt; a repayment is corrected at most once.
CREATE UNIQUE INDEX debt_events_one_transfer_idx ON debt_events (debt_id) WHERE kind = 'transfer';
CREATE UNIQUE INDEX debt_events_one_reversal_idx ON debt_events (reverses_event_id) WHERE reverses_event_id IS NOT NULL;

CREATE FUNCTION debt_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'debt events are append-only: correct a repayment with a reversal, never an edit' USING ERRCODE = 'P0001';
END $$;

CREATE TRIGGER debt_events_no_update BEFORE UPDATE OR DELETE ON debt_events
  FOR EACH ROW EXECUTE FUNCTION debt_events_append_only();
CREATE TRIGGER debt_events_no_truncate BEFORE TRUNCATE ON debt_events
  FOR EACH STATEMENT EXECUTE FUNCTION debt_events_append_only();
