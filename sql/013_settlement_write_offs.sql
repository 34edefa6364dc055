-- 013: a shortfall written off (核销) stays written off (calculation-rules.md §6, §9).
--
-- Whether a shortfall carried out of an agreement's last year is carried into the next version or
-- written off was decided each time a line was read, from the versions in the registry then. So a
-- next version created after that year was finalized took in a shortfall the finalized statement
-- had already written off: counted twice, and the signed statement read differently afterwards.
-- Finalizing now records each write-off with the group; nothing carries a shortfall so recorded,
-- and every reading of the line prints it as it was finalized.

ALTER TABLE settlement_groups
  -- The shortfall this group's finalized line wrote off (its carried_shortfall_out), fixed when the
  -- line was finalized; NULL when it wrote nothing off, and on lines finalized before this migration
  -- (read as before: from the versions in the registry).
  ADD COLUMN written_off numeric(20,2),
  ADD CONSTRAINT settlement_groups_written_off_positive CHECK (written_off IS NULL OR written_off > 0);
