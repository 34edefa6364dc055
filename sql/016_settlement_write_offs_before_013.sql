-- 016: the write-offs (核销) of lines finalized before 013 are recorded too (calculation-rules.md §6, §9).
--
-- 013 recorded each write-off as a line was finalized, and left the lines finalized before it to be
-- read as before: from the versions in the registry. So a next version registered after the upgrade
-- still took in a shortfall such a signed statement had written off: the statement changed (核销短收
-- went blank) and the shortfall was counted a second time, against the zone. Each of those lines now
-- records what it printed when this migration was applied: a shortfall carried out of its
-- agreement's last year that no next version carries in (a carry_forward group of the same name in
-- a version from the next year) is written off. A shortfall a next version carries stays carried.
--
-- In a column of its own: written_off is part of what a run's digest was taken over (settlement-run
-- v1 and v2 print it when it is set), and these runs were signed without it. Their digests still
-- verify; what they print and what carries their shortfalls read either column.

ALTER TABLE settlement_groups
  -- The shortfall a line finalized before 013 wrote off, as it printed it when 016 was applied; NULL otherwise.
  ADD COLUMN written_off_before_013 numeric(20,2),
  ADD CONSTRAINT settlement_groups_written_off_before_013_positive CHECK (written_off_before_013 IS NULL OR written_off_before_013 > 0),
  ADD CONSTRAINT settlement_groups_written_off_once CHECK (written_off IS NULL OR written_off_before_013 IS NULL);

-- Rows of finalized runs are immutable (003); this migration is a writer allowed past that, for its
-- own column, on the lines finalized before 013 alone.
ALTER TABLE settlement_groups DISABLE TRIGGER settlement_groups_immutable;

UPDATE settlement_groups g
SET written_off_before_013 = g.carried_shortfall_out
FROM settlement_lines l
JOIN settlement_runs r ON r.id = l.run_id
JOIN agreements a ON a.id = l.agreement_id
WHERE g.run_id = l.run_id
  AND g.agreement_id = l.agreement_id
  AND l.finalized
  AND r.status = 'finalized'
  AND r.finalized_at < (SELECT applied_at FROM schema_migrations WHERE name = '013_settlement_write_offs.sql')
  AND a.effective_to = r.fiscal_year
  AND g.written_off IS NULL
  AND g.carried_shortfall_out > 0
  AND NOT EXISTS (
    SELECT 1 FROM agreements v
    JOIN agreement_groups vg ON vg.agreement_id = v.id
    WHERE v.zone_code = a.zone_code
      AND v.district_code = a.district_code
      AND v.id <> a.id
      AND v.effective_from = r.fiscal_year + 1
      AND vg.name = g.name
      AND vg.shortfall = 'carry_forward'
  );

ALTER TABLE settlement_groups ENABLE TRIGGER settlement_groups_immutable;
