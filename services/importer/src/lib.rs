//! Bulk import of profiles from CSV and XLSX files.
