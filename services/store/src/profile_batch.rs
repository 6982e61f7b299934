//! Batched profile upserts for bulk import.
