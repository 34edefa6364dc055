/* Seed data for `npm run bench:settle` and the settlement crash drill. */

export const TAX = ['10101', '1010101', '10102', '10103', '10104', '10105', '10106', '10107', '10109', '10110']
export const FEES = ['10111', '10112', '10113', '10114', '10118', '10119', '10302', '10304', '10305', '10307']

/**
 * A migrated PostgreSQL database filled for settlement at scale: 50 districts, one zone and one
 * agreement (2020 on, base year 2019) per agreement asked for, each with a taxes group of 10
 * categories (fixed or escalating base, three bands, none or deduct) and a fees group of 10, and
 * 2021 revenue for all 20 categories in all 12 months: 240 rows per agreement.
 */
export async function seedSettlementData (run: (sql: string) => Promise<unknown>, agreements: number, progress?: (line: string) => void): Promise<void> {
  // Each statement named once done, with its time: the revenue rows take a minute at 25,000 agreements.
  let started = Date.now()
  let step = 0
  const q = async (sql: string) => {
    await run(sql)
    progress?.(`${++step}/8 ${/INSERT INTO (\w+)/.exec(sql)?.[1] ?? sql.split(' ')[0]} ${((Date.now() - started) / 1000).toFixed(1)} s`)
    started = Date.now()
  }
  {
    await q(`INSERT INTO districts (code, name) SELECT (110101 + i)::text, 'bench ' || i FROM generate_series(0, 49) i`)
    await q(`INSERT INTO zones (code, name, host_district_code) SELECT 'Z' || lpad(i::text, 6, '0'), 'bench zone ' || i, (110101 + i % 50)::text FROM generate_series(0, ${agreements - 1}) i`)
    await q(`INSERT INTO agreements (zone_code, district_code, document_no, base_year, effective_from)
      SELECT 'Z' || lpad(i::text, 6, '0'), (110101 + i % 50)::text, 'bench-' || i, 2019, 2020 FROM generate_series(0, ${agreements - 1}) i`)
    await q(`INSERT INTO agreement_groups (agreement_id, position, name, basis, base_amount, base_mode, growth_rate, shortfall)
      SELECT id, 0, 'taxes', 'increment', (5000000 + (id % 97) * 100000)::numeric(17,2), CASE WHEN id % 2 = 0 THEN 'fixed' ELSE 'escalating' END,
             CASE WHEN id % 2 = 0 THEN NULL ELSE 0.03 END, CASE WHEN id % 3 = 0 THEN 'deduct' ELSE 'none' END FROM agreements
      UNION ALL SELECT id, 1, 'fees', 'total', NULL, NULL, NULL, 'none' FROM agreements`)
    await q(`INSERT INTO agreement_group_categories (agreement_id, group_position, category_code)
      SELECT a.id, 0, c FROM agreements a, unnest(ARRAY['${TAX.join("','")}']) c
      UNION ALL SELECT a.id, 1, c FROM agreements a, unnest(ARRAY['${FEES.join("','")}']) c`)
    await q(`INSERT INTO agreement_bands (agreement_id, group_position, position, up_to_growth, rate)
      SELECT id, 0, 0, 0.10, 0.60 FROM agreements UNION ALL SELECT id, 0, 1, 0.30, 0.70 FROM agreements
      UNION ALL SELECT id, 0, 2, NULL, 0.80 FROM agreements UNION ALL SELECT id, 1, 0, NULL, 0.60 FROM agreements`)
    await q(`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
      SELECT a.zone_code, a.district_code, c, 2021, m, ((a.id * 7919 + m * 104729 + ascii(right(c, 1))) % 90000000 + 1000000)::numeric / 100, 1
      FROM agreements a, unnest(ARRAY['${[...TAX, ...FEES].join("','")}']) c, generate_series(1, 12) m`)
    await q('ANALYZE')
  }
}
