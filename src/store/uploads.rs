//! Files uploaded for import, kept in the database until applied, so any node can apply a check
//! another node made. A file is stored in parts (`PART_BYTES` at most) written and read one at
//! a time, so no process holds a whole file in memory.

use super::tx::on_pool;
use super::{Database, StoreError};

/// The most bytes one part holds.
pub const PART_BYTES: usize = 1 << 20;

/// Records a new upload, not yet complete, kept from `at`.
pub async fn create(db: &Database, id: &str, at: &str) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO bulk_uploads (id, kept_since) VALUES ($1, $2)";
    on_pool!(db, pool => {
        sqlx::query(SQL).bind(id).bind(at).execute(pool).await?;
    });
    Ok(())
}

/// Adds part `seq` (from 0, in order) of an upload.
pub async fn add_part(db: &Database, id: &str, seq: i64, data: &[u8]) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO bulk_upload_parts (upload, seq, data) VALUES ($1, $2, $3)";
    const BYTES: &str = "UPDATE bulk_uploads SET bytes = bytes + $2 WHERE id = $1";
    on_pool!(db, pool => {
        sqlx::query(SQL).bind(id).bind(seq).bind(data).execute(pool).await?;
        sqlx::query(BYTES).bind(id).bind(data.len() as i64).execute(pool).await?;
    });
    Ok(())
}

/// Marks an upload whole: every part is in.
pub async fn complete(db: &Database, id: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE bulk_uploads SET complete = TRUE WHERE id = $1";
    on_pool!(db, pool => {
        sqlx::query(SQL).bind(id).execute(pool).await?;
    });
    Ok(())
}

/// Whether a whole upload is kept.
pub async fn is_kept(db: &Database, id: &str) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM bulk_uploads WHERE id = $1 AND complete = TRUE";
    let found: i64 = on_pool!(db, pool => sqlx::query_scalar(SQL).bind(id).fetch_one(pool).await?);
    Ok(found == 1)
}

/// Keeps an upload for another full day from `at` (an apply, or its resumption, reads it).
pub async fn keep_from(db: &Database, id: &str, at: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE bulk_uploads SET kept_since = $2 WHERE id = $1";
    on_pool!(db, pool => {
        sqlx::query(SQL).bind(id).bind(at).execute(pool).await?;
    });
    Ok(())
}

/// Part `seq` of an upload, or `None` past its last part.
pub async fn part(db: &Database, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
    const SQL: &str = "SELECT data FROM bulk_upload_parts WHERE upload = $1 AND seq = $2";
    Ok(on_pool!(db, pool => sqlx::query_scalar(SQL).bind(id).bind(seq).fetch_optional(pool).await?))
}

/// Removes an upload and its parts.
pub async fn remove(db: &Database, id: &str) -> Result<(), StoreError> {
    const PARTS: &str = "DELETE FROM bulk_upload_parts WHERE upload = $1";
    const UPLOAD: &str = "DELETE FROM bulk_uploads WHERE id = $1";
    on_pool!(db, pool => {
        sqlx::query(PARTS).bind(id).execute(pool).await?;
        sqlx::query(UPLOAD).bind(id).execute(pool).await?;
    });
    Ok(())
}

/// Removes uploads kept since before `before` (checks nobody applied, broken uploads); how many.
pub async fn remove_kept_before(db: &Database, before: &str) -> Result<u64, StoreError> {
    const OLD: &str = "SELECT id FROM bulk_uploads WHERE kept_since < $1";
    let old: Vec<String> =
        on_pool!(db, pool => sqlx::query_scalar(OLD).bind(before).fetch_all(pool).await?);
    for id in &old {
        remove(db, id).await?;
    }
    Ok(old.len() as u64)
}
