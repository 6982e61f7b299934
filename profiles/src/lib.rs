//! Who receives policies: enterprise and citizen profiles, their validation, derived labels
//! (智能画像) and the flat fact view the matcher evaluates. Pure: no I/O, no clock — the
//! evaluation day is always passed in.
//!
//! The path of a profile: a [`ProfileInput`] (from JSON, or from a spreadsheet row through
//! [`import::parse_row`]) is checked by [`ProfileInput::validate`] into a stored [`Profile`];
//! [`Profile::facts`] flattens it for the matcher and [`Profile::derived_labels`] explains the
//! derived values. Every fallible step reports a [`ValidationErrors`].

pub mod coded;
pub mod codes;
pub mod dates;
pub mod error;
pub mod facts;
pub mod id_number;
pub mod import;
pub mod labels;
pub mod model;
pub mod schema;
pub mod uscc;
pub mod validate;

#[cfg(test)]
mod test_support;

pub use coded::Coded;
pub use codes::{IndustryCode, RegionCode, industry_within, region_within};
pub use error::{Rule, ValidationError, ValidationErrors};
pub use facts::{Facts, Value};
pub use id_number::{IdHashKey, IdNumber, RawIdNumber};
pub use labels::{AgeBand, DerivedLabel, SizeClass, SmeSector};
pub use model::{
    AudienceClass, Certification, CitizenInput, CitizenProfile, Contact, ContactRole, Disability,
    DisabilityInput, Education, EmploymentStatus, EnterpriseInput, EnterpriseProfile, Gender,
    Ownership, Profile, ProfileInput, ProfileKind,
};
pub use schema::{AttributeSchema, FieldDef, FieldType};
pub use uscc::CreditCode;
