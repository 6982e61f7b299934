//! Full-text search over policies.
