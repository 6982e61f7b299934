//! Who receives policies: enterprise and citizen profiles, their validation, derived labels
//! (智能画像) and the flat fact view the matcher evaluates. Pure: no I/O.

pub mod coded;
pub mod codes;
pub mod error;
pub mod uscc;
