-- The masked ID number keeps only the region (six digits) and the check character: with the age
-- and gender other fields reveal, the visible sequence digits narrowed the number to a few dozen
-- candidates. Stored profiles are masked again the same way.
UPDATE profiles
SET body = json_set(body, '$.id_masked',
    substr(json_extract(body, '$.id_masked'), 1, 6) || '***********'
        || substr(json_extract(body, '$.id_masked'), 18, 1))
WHERE json_extract(body, '$.id_masked') IS NOT NULL;
