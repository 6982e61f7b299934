//! Administrator-defined profile fields (`attr.<key>`): new typed attributes without a code
//! change. Each is checked against the built-in and existing fields before it is saved.

use profiles::FieldDef;
use sqlx::types::Json;

use crate::audit::write_audit;
use crate::backend::{BeginWrite, on_pool};
use crate::{Store, StoreError};

impl Store {
    /// Adds a field to the attribute schema; rejects bad keys, duplicates and empty enums.
    pub async fn add_attribute_field(
        &self,
        def: FieldDef,
        actor: &str,
    ) -> Result<FieldDef, StoreError> {
        let mut schema = self.attribute_schema().await?;
        schema.extend(def.clone())?;
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO attribute_fields (key, definition, created_at) VALUES ($1, $2, $3)")
                .bind(&def.key)
                .bind(Json(&def))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            write_audit!(tx, now, actor, "create", "attribute", def.key, serde_json::json!(def))?;
            tx.commit().await?;
        });
        Ok(def)
    }
}
