-- 008: the agreements bureaus sign (calculation-rules.md §2, §4): rate schedules by period
-- (分段期限), responsibility transfers (事权划转, 财随事走) as their own records, and the
-- calculation request each settled group was computed from (api-contract.md, POST /v1/calculations).

-- 分段期限: a group with a rate schedule has its bands here, by the period they start, instead of
-- in agreement_bands; year Y uses the bands of the last period with from_year <= Y.
CREATE TABLE agreement_schedule_bands (
  agreement_id    integer NOT NULL,
  group_position  integer NOT NULL,
  from_year       integer NOT NULL CHECK (from_year BETWEEN 1990 AND 2100),
  position        integer NOT NULL CHECK (position BETWEEN 0 AND 9),
  up_to_growth    numeric(9, 6),
  rate            numeric(7, 6) NOT NULL CHECK (rate BETWEEN 0 AND 1),
  PRIMARY KEY (agreement_id, group_position, from_year, position),
  FOREIGN KEY (agreement_id, group_position) REFERENCES agreement_groups (agreement_id, position)
);

-- 事权划转: a function moved between zone and district, and the funding that follows it every
-- year from_year..to_year (open-ended when to_year is null): fixed, headcount × unit cost, or an
-- amount indexed by a growth rate. It moves the group's base up (to_district) or down (to_zone).
CREATE TABLE responsibility_transfers (
  id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agreement_id    integer NOT NULL,
  group_position  integer NOT NULL,
  function        text NOT NULL CHECK (length(function) BETWEEN 1 AND 200),
  direction       text NOT NULL CHECK (direction IN ('to_district', 'to_zone')),
  from_year       integer NOT NULL CHECK (from_year BETWEEN 1990 AND 2100),
  to_year         integer CHECK (to_year BETWEEN 1990 AND 2100),
  document_no     text NOT NULL CHECK (length(document_no) BETWEEN 1 AND 100),
  method          text NOT NULL CHECK (method IN ('fixed', 'headcount', 'indexed')),
  amount          numeric(17, 2) CHECK (amount > 0),
  headcount       integer CHECK (headcount BETWEEN 1 AND 1000000),
  unit_cost       numeric(17, 2) CHECK (unit_cost > 0),
  growth_rate     numeric(9, 6) CHECK (growth_rate > -1),
  created_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (agreement_id, group_position) REFERENCES agreement_groups (agreement_id, position),
  CHECK (to_year IS NULL OR to_year >= from_year),
  CHECK ((method = 'headcount') = (headcount IS NOT NULL AND unit_cost IS NOT NULL)),
  CHECK ((method = 'headcount') = (amount IS NULL)),
  CHECK ((method = 'indexed') = (growth_rate IS NOT NULL))
);
CREATE INDEX responsibility_transfers_agreement_idx ON responsibility_transfers (agreement_id);

-- The calculation request (POST /v1/calculations) of each settled group: the group as the engine
-- took it. Null on groups settled before this migration. Adding a column rewrites no row, so the
-- finalized rows stay as they were (003's triggers guard UPDATE, DELETE and TRUNCATE).
ALTER TABLE settlement_groups ADD COLUMN input text;
