-- Imports upsert a policy on its 文号 + title. Without an index each look-up scanned the whole
-- policies table (bodies included), so importing n policies cost O(n²) page reads: 20,000 took
-- minutes, nearly all of it reading pages. Not unique: the API may save two policies alike.
CREATE INDEX policies_import_key_idx ON policies (doc_number, title);
