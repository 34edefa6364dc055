-- 007: no API key token is stored anywhere but as its hash (api-contract.md, Roles and scope).
-- Until now the Idempotency-Key record of POST /v1/api-keys kept the whole first answer, token
-- included, and replayed it. Replays now answer the key without its token ("tokenWithheld": true);
-- the records written before are rewritten to that form here.

UPDATE idempotency_keys
SET response_body = ((response_body::jsonb - 'token') || '{"tokenWithheld": true}'::jsonb)::text
WHERE response_body LIKE '{%"token":"rss\_%' AND (response_body::jsonb) ? 'token';
