//! Stored answers to repeatable requests (`Repeatability-Request-ID`).

use super::tx::on_pool;
use super::{Database, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredAnswer {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub first_sent: String,
    pub status: i32,
    pub etag: Option<String>,
    pub body: String,
    pub created_at: String,
}

pub async fn get(db: &Database, request_id: &str) -> Result<Option<StoredAnswer>, StoreError> {
    const SQL: &str =
        "SELECT request_id, method, path, first_sent, status, etag, body, created_at \
                       FROM api_repeatability WHERE request_id = $1";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).bind(request_id).fetch_optional(pool).await?))
}

/// Keeps the first answer; a concurrent duplicate that finished second is not stored.
pub async fn put(db: &Database, answer: &StoredAnswer) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO api_repeatability (request_id, method, path, first_sent, status, etag, body, created_at) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING";
    on_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(&answer.request_id)
            .bind(&answer.method)
            .bind(&answer.path)
            .bind(&answer.first_sent)
            .bind(answer.status)
            .bind(&answer.etag)
            .bind(&answer.body)
            .bind(&answer.created_at)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Forgets answers stored before `before` (an RFC 3339 time).
pub async fn forget_before(db: &Database, before: &str) -> Result<u64, StoreError> {
    Ok(on_pool!(db, pool => {
        sqlx::query("DELETE FROM api_repeatability WHERE created_at < $1").bind(before).execute(pool).await?.rows_affected()
    }))
}
