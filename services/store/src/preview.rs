//! Validation without storage, for previews such as the policy calculator: the same rules and
//! schema as a save, and nothing written.

use profiles::{Profile, ProfileInput};

use crate::{Store, StoreError};

impl Store {
    /// Validates `input` as a new profile would be, returning it unsaved.
    pub async fn check_profile(&self, input: ProfileInput) -> Result<Profile, StoreError> {
        let schema = self.attribute_schema().await?;
        Ok(input.validate(&self.id_key, &schema, None, self.today())?)
    }
}
