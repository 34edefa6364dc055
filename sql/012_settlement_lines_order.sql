-- 012: a run's lines in the order every list and statement prints them (issue 16).
--
-- GET /v1/settlement-runs/{id}/lines pages, the statement and finalizing read a run's
-- lines by zone, district and agreement. Without an index in that order each page sorted all of
-- the run's lines to return a hundred of them: at 25,000 agreements a page took 12 ms and walking
-- the run 3.0–3.4 s. With it a page is an index range scan after the cursor: 2.5–3.1 ms a page,
-- 0.9–1.2 s for the walk. Storing a 25,000-agreement run with the index cost nothing measurable
-- (median of six alternating runs: 4,850 ms with it, 5,323 ms without; the spread of each was wider).

CREATE INDEX settlement_lines_run_order_idx ON settlement_lines (run_id, zone_code, district_code, agreement_id);
