-- 001: the government revenue classification (政府收支分类科目), seeded from the
-- specification's revenue-categories.csv (copied here: the service never reads ../shared).
-- Migrations are frozen in time: never edit an applied file, add a new one.

CREATE TABLE revenue_categories (
  code         text PRIMARY KEY CHECK (code ~ '^[0-9A-Za-z][0-9A-Za-z.-]{0,31}$'),
  parent_code  text REFERENCES revenue_categories (code),
  name_zh      text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 200),
  name_en      text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
  kind         text NOT NULL CHECK (kind IN ('tax', 'fee', 'non_tax')),
  -- 地方级分享比例: the local level's default share of the category; NULL for a class row.
  local_share  numeric(7, 6) CHECK (local_share BETWEEN 0 AND 1),
  note         text CHECK (length(note) <= 500),
  -- national: the seeded classification; local: a code an admin added.
  origin       text NOT NULL DEFAULT 'national' CHECK (origin IN ('national', 'local')),
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX revenue_categories_parent_idx ON revenue_categories (parent_code);

INSERT INTO revenue_categories (code, parent_code, name_zh, name_en, kind, local_share, note) VALUES
  ('101', NULL, '税收收入', 'Tax revenue', 'tax', NULL, 'class'),
  ('10101', '101', '增值税', 'Value-added tax', 'tax', 0.50, 'local 50% since 2016-05-01 (国发〔2016〕26号)'),
  ('1010101', '10101', '国内增值税', 'Domestic value-added tax', 'tax', 0.50, NULL),
  ('10102', '101', '消费税', 'Consumption tax', 'tax', 0.00, 'central'),
  ('10103', '101', '营业税', 'Business tax', 'tax', 1.00, 'abolished 2016; historical data only'),
  ('10104', '101', '企业所得税', 'Enterprise income tax', 'tax', 0.40, 'local 40% since 2003; some enterprises wholly central'),
  ('10105', '101', '企业所得税退税', 'Enterprise income tax refunds', 'tax', 0.40, 'recorded as negative amounts'),
  ('10106', '101', '个人所得税', 'Individual income tax', 'tax', 0.40, 'local 40% since 2003'),
  ('10107', '101', '资源税', 'Resource tax', 'tax', 1.00, 'offshore oil part central'),
  ('10109', '101', '城市维护建设税', 'Urban maintenance and construction tax', 'tax', 1.00, 'centrally paid parts excluded'),
  ('10110', '101', '房产税', 'Property tax', 'tax', 1.00, NULL),
  ('10111', '101', '印花税', 'Stamp duty', 'tax', 1.00, 'securities transaction stamp duty is central'),
  ('10112', '101', '城镇土地使用税', 'Urban land use tax', 'tax', 1.00, NULL),
  ('10113', '101', '土地增值税', 'Land appreciation tax', 'tax', 1.00, NULL),
  ('10114', '101', '车船税', 'Vehicle and vessel tax', 'tax', 1.00, NULL),
  ('10118', '101', '耕地占用税', 'Farmland occupation tax', 'tax', 1.00, NULL),
  ('10119', '101', '契税', 'Deed tax', 'tax', 1.00, NULL),
  ('10120', '101', '烟叶税', 'Tobacco leaf tax', 'tax', 1.00, 'code to verify against the current edition'),
  ('10121', '101', '环境保护税', 'Environmental protection tax', 'tax', 1.00, 'code to verify against the current edition'),
  ('10199', '101', '其他税收收入', 'Other tax revenue', 'tax', 1.00, 'code to verify against the current edition'),
  ('103', NULL, '非税收入', 'Non-tax revenue', 'non_tax', NULL, 'class'),
  ('10302', '103', '专项收入', 'Earmarked revenue', 'non_tax', 1.00, 'includes 教育费附加; earmarked'),
  ('10304', '103', '行政事业性收费收入', 'Administrative and institutional fees', 'fee', 1.00, NULL),
  ('10305', '103', '罚没收入', 'Fines and confiscations', 'non_tax', 1.00, NULL),
  ('10307', '103', '国有资源（资产）有偿使用收入', 'Paid use of state-owned resources and assets', 'non_tax', 1.00, NULL),
  ('10399', '103', '其他收入', 'Other non-tax revenue', 'non_tax', 1.00, 'code to verify against the current edition');
