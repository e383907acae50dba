//! Files uploaded for import, kept in the database (not on one node's disk) until applied or a
//! day has passed, so a check made on one node can be applied, or its apply resumed, on any.
//! Written and read in parts, so memory stays bounded whatever the file's size.

use super::{now, Actor, Permission, Provisioning, ProvisioningError};
use crate::store::uploads;

pub use crate::store::uploads::PART_BYTES;

/// How long an upload is kept, from its check (or the last apply or resumption reading it).
pub const UPLOADS_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl Provisioning {
    /// Starts keeping a new upload; its name (32 hex digits).
    pub async fn new_upload(&self, actor: &Actor) -> Result<String, ProvisioningError> {
        actor.permit(Permission::Write)?;
        let id: String = rand::random::<[u8; 16]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        uploads::create(&self.db, &id, &now()).await?;
        Ok(id)
    }

    /// Adds the next part (`seq` from 0) of an upload being kept; at most `PART_BYTES`.
    pub async fn add_upload_part(
        &self,
        actor: &Actor,
        id: &str,
        seq: i64,
        data: &[u8],
    ) -> Result<(), ProvisioningError> {
        actor.permit(Permission::Write)?;
        assert!(
            data.len() <= PART_BYTES,
            "an upload part is at most PART_BYTES"
        );
        Ok(uploads::add_part(&self.db, id, seq, data).await?)
    }

    /// Marks an upload whole, so it may be read.
    pub async fn complete_upload(&self, actor: &Actor, id: &str) -> Result<(), ProvisioningError> {
        actor.permit(Permission::Write)?;
        Ok(uploads::complete(&self.db, id).await?)
    }

    /// Whether a whole upload is still kept.
    pub async fn upload_kept(&self, actor: &Actor, id: &str) -> Result<bool, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(uploads::is_kept(&self.db, id).await?)
    }

    /// Part `seq` of a kept upload, `None` past its end.
    pub async fn upload_part(
        &self,
        actor: &Actor,
        id: &str,
        seq: i64,
    ) -> Result<Option<Vec<u8>>, ProvisioningError> {
        actor.permit(Permission::Write)?;
        Ok(uploads::part(&self.db, id, seq).await?)
    }

    /// Keeps an upload a full day from now (an apply, or a resumption, is about to read it).
    pub async fn keep_upload(&self, actor: &Actor, id: &str) -> Result<(), ProvisioningError> {
        actor.permit(Permission::Write)?;
        Ok(uploads::keep_from(&self.db, id, &now()).await?)
    }

    /// Stops keeping an upload (it was applied, or it could not be taken whole).
    pub async fn forget_upload(&self, actor: &Actor, id: &str) -> Result<(), ProvisioningError> {
        actor.permit(Permission::Write)?;
        Ok(uploads::remove(&self.db, id).await?)
    }

    /// Removes uploads kept longer than `UPLOADS_KEPT_FOR`; how many. Every serving process
    /// does this hourly.
    pub async fn forget_old_uploads(&self) -> Result<u64, ProvisioningError> {
        let before = super::timestamp_ago(UPLOADS_KEPT_FOR);
        Ok(uploads::remove_kept_before(&self.db, &before).await?)
    }
}
