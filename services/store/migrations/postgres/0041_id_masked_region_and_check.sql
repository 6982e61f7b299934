-- The masked ID number keeps only the region (six digits) and the check character: with the age
-- and gender other fields reveal, the visible sequence digits narrowed the number to a few dozen
-- candidates. Stored profiles are masked again the same way.
UPDATE profiles
SET body = jsonb_set(body, '{id_masked}', to_jsonb(
    substr(body ->> 'id_masked', 1, 6) || '***********' || substr(body ->> 'id_masked', 18, 1)))
WHERE body ? 'id_masked';
