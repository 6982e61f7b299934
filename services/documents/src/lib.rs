//! Policy documents: reading them ([`read`]), their structure ([`structure`]) and the first-pass
//! suggestions an administrator reviews ([`extract::suggest`]): catalogue metadata, benefit
//! amounts and condition leaves in the project's condition language, each citing its span and
//! clause with a confidence. Extraction is a pure function of the text and the project's
//! taxonomies; [`eval`] measures it on labelled passages.

pub mod error;
pub mod eval;
pub mod extract;
pub mod number;
pub mod read;
pub mod span;
pub mod structure;
pub mod vocabulary;

pub use error::DocumentError;
pub use extract::{Suggestions, suggest};
pub use read::{Format, read};
pub use span::Span;
