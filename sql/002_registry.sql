-- 002: the registry (districts, zones, agreements, base adjustments), revenue with its revision
-- history, advances, API keys, idempotency keys and the audit log (issue 3).
-- Amounts are numeric(17,2), rates numeric(7,6) (calculation-rules.md §1).

-- 属地政府: a district by its 6-digit GB/T 2260 division code.
CREATE TABLE districts (
  code        text PRIMARY KEY CHECK (code ~ '^[1-9][0-9]{5}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- 功能区: a functional zone and its host district.
CREATE TABLE zones (
  code                text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
  name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  host_district_code  text NOT NULL REFERENCES districts (code),
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX zones_host_district_idx ON zones (host_district_code);

-- 分成办法: one zone, one district, a span of fiscal years. Never edited in place once a
-- finalized settlement uses it: a change is a new agreement from a later year.
CREATE TABLE agreements (
  id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  zone_code       text NOT NULL REFERENCES zones (code),
  district_code   text NOT NULL REFERENCES districts (code),
  document_no     text NOT NULL CHECK (length(document_no) BETWEEN 1 AND 100),
  base_year       integer NOT NULL CHECK (base_year BETWEEN 1990 AND 2100),
  effective_from  integer NOT NULL CHECK (effective_from BETWEEN 1990 AND 2100),
  effective_to    integer CHECK (effective_to BETWEEN 1990 AND 2100),
  created_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (base_year < effective_from),
  CHECK (effective_to IS NULL OR effective_to >= effective_from)
);
CREATE INDEX agreements_pair_idx ON agreements (zone_code, district_code);
CREATE INDEX agreements_district_idx ON agreements (district_code);

-- 分成口径组: a netting group of an agreement.
CREATE TABLE agreement_groups (
  agreement_id  integer NOT NULL REFERENCES agreements (id),
  position      integer NOT NULL CHECK (position BETWEEN 0 AND 49),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  basis         text NOT NULL CHECK (basis IN ('increment', 'total')),
  base_amount   numeric(17, 2),
  base_mode     text CHECK (base_mode IN ('fixed', 'escalating', 'prior_year')),
  growth_rate   numeric(9, 6),
  shortfall     text NOT NULL CHECK (shortfall IN ('none', 'deduct', 'carry_forward')),
  PRIMARY KEY (agreement_id, position),
  UNIQUE (agreement_id, name),
  CHECK ((basis = 'total') = (base_mode IS NULL))
);

-- A revenue category belongs to at most one group of an agreement.
CREATE TABLE agreement_group_categories (
  agreement_id    integer NOT NULL,
  group_position  integer NOT NULL,
  category_code   text NOT NULL REFERENCES revenue_categories (code),
  PRIMARY KEY (agreement_id, category_code),
  FOREIGN KEY (agreement_id, group_position) REFERENCES agreement_groups (agreement_id, position)
);

-- 分档: marginal bands of a group, in order.
CREATE TABLE agreement_bands (
  agreement_id    integer NOT NULL,
  group_position  integer NOT NULL,
  position        integer NOT NULL CHECK (position BETWEEN 0 AND 9),
  up_to_growth    numeric(9, 6),
  rate            numeric(7, 6) NOT NULL CHECK (rate BETWEEN 0 AND 1),
  PRIMARY KEY (agreement_id, group_position, position),
  FOREIGN KEY (agreement_id, group_position) REFERENCES agreement_groups (agreement_id, position)
);

-- 基数调整 (财随事走): signed amounts from a fiscal year on.
CREATE TABLE base_adjustments (
  id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agreement_id    integer NOT NULL,
  group_position  integer NOT NULL,
  from_year       integer NOT NULL CHECK (from_year BETWEEN 1990 AND 2100),
  amount          numeric(17, 2) NOT NULL,
  reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  document_no     text NOT NULL CHECK (length(document_no) BETWEEN 1 AND 100),
  created_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (agreement_id, group_position) REFERENCES agreement_groups (agreement_id, position)
);
CREATE INDEX base_adjustments_agreement_idx ON base_adjustments (agreement_id);

-- 实际收入: the current amount of each month (the latest revision), read by settlements.
CREATE TABLE revenue_records (
  zone_code      text NOT NULL REFERENCES zones (code),
  district_code  text NOT NULL REFERENCES districts (code),
  category_code  text NOT NULL REFERENCES revenue_categories (code),
  year           integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
  month          integer NOT NULL CHECK (month BETWEEN 1 AND 12),
  amount         numeric(17, 2) NOT NULL,
  revision       integer NOT NULL CHECK (revision >= 1),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (zone_code, district_code, category_code, year, month)
);
CREATE INDEX revenue_records_district_year_idx ON revenue_records (district_code, year);
CREATE INDEX revenue_records_year_idx ON revenue_records (year);

-- Every amount ever recorded, append-only: the history behind revenue_records.
CREATE TABLE revenue_revisions (
  zone_code      text NOT NULL,
  district_code  text NOT NULL,
  category_code  text NOT NULL,
  year           integer NOT NULL,
  month          integer NOT NULL,
  revision       integer NOT NULL CHECK (revision >= 1),
  amount         numeric(17, 2) NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  key_id         text NOT NULL,
  request_id     text NOT NULL,
  PRIMARY KEY (zone_code, district_code, category_code, year, month, revision)
);

-- 预拨: advances paid to the zone under an agreement for a fiscal year.
CREATE TABLE advances (
  id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agreement_id  integer NOT NULL REFERENCES agreements (id),
  fiscal_year   integer NOT NULL CHECK (fiscal_year BETWEEN 1990 AND 2100),
  paid_on       date NOT NULL,
  amount        numeric(17, 2) NOT NULL,
  document_no   text NOT NULL CHECK (length(document_no) BETWEEN 1 AND 100),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX advances_agreement_year_idx ON advances (agreement_id, fiscal_year);

-- API keys: the token is shown once and stored only as its SHA-256 hash.
CREATE TABLE api_keys (
  id             text PRIMARY KEY,
  role           text NOT NULL CHECK (role IN ('admin', 'district', 'zone')),
  district_code  text REFERENCES districts (code),
  zone_code      text REFERENCES zones (code),
  label          text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
  token_hash     text NOT NULL UNIQUE,
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text NOT NULL,
  revoked_at     timestamptz,
  CHECK ((role = 'district') = (district_code IS NOT NULL)),
  CHECK ((role = 'zone') = (zone_code IS NOT NULL))
);

-- Idempotency-Key: the first response to a creating POST, replayed to retries.
CREATE TABLE idempotency_keys (
  key_id           text NOT NULL,
  idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  request_hash     text NOT NULL,
  response_status  integer NOT NULL,
  response_body    text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (key_id, idempotency_key)
);

-- Who wrote what, when, under which request.
CREATE TABLE audit_events (
  id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at  timestamptz NOT NULL DEFAULT now(),
  key_id       text NOT NULL,
  role         text NOT NULL,
  action       text NOT NULL,
  entity_type  text NOT NULL,
  entity_id    text NOT NULL,
  request_id   text NOT NULL,
  details      text
);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_type, entity_id);
