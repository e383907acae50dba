//! Portal sessions in the database, so every node serving the portal sees the same sign-ins.
//! Implements tower-sessions' `SessionStore` over either database.

use super::tx::on_pool;
use super::{Database, StoreError};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// The session store over the application's database.
#[derive(Clone, Debug)]
pub struct DatabaseSessionStore {
    db: Database,
}

impl DatabaseSessionStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn backend(error: StoreError) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl DatabaseSessionStore {
    async fn insert(&self, record: &Record) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO portal_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (id) DO NOTHING";
        let data =
            serde_json::to_string(&record.data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = record.id.to_string();
        let at = record.expiry_date.unix_timestamp();
        let inserted = on_pool!(&self.db, pool => {
            sqlx::query(SQL).bind(&id).bind(&data).bind(at).execute(pool).await?.rows_affected()
        });
        Ok(inserted == 1)
    }

    async fn upsert(&self, record: &Record) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO portal_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at";
        let data =
            serde_json::to_string(&record.data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = record.id.to_string();
        let at = record.expiry_date.unix_timestamp();
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(&id).bind(&data).bind(at).execute(pool).await?.rows_affected());
        Ok(())
    }

    async fn fetch(&self, id: &Id) -> Result<Option<Record>, StoreError> {
        const SQL: &str =
            "SELECT data, expires_at FROM portal_sessions WHERE id = $1 AND expires_at > $2";
        let id_text = id.to_string();
        let row: Option<(String, i64)> = on_pool!(&self.db, pool => {
            sqlx::query_as(SQL).bind(&id_text).bind(now()).fetch_optional(pool).await?
        });
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(expires_at)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        }))
    }

    async fn remove(&self, id: &Id) -> Result<(), StoreError> {
        let id_text = id.to_string();
        on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM portal_sessions WHERE id = $1").bind(&id_text).execute(pool).await?.rows_affected()
        });
        Ok(())
    }

    /// Ends every session of `user` (after a password change, removal or role change).
    pub async fn forget_user(&self, user: &str) -> Result<u64, StoreError> {
        // The session data is JSON written by tower-sessions; the user's name is stored under
        // "user" as `{"name": …}`. Matching on the serialised text keeps this one statement on
        // both databases.
        let needle = serde_json::to_string(user).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let pattern = format!(
            "%\"name\":{}%",
            needle.replace('%', "\\%").replace('_', "\\_")
        );
        Ok(on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM portal_sessions WHERE data LIKE $1 ESCAPE '\\'")
                .bind(&pattern).execute(pool).await?.rows_affected()
        }))
    }
}

#[async_trait::async_trait]
impl SessionStore for DatabaseSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.insert(record).await.map_err(backend)? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.upsert(record).await.map_err(backend)
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        self.fetch(session_id).await.map_err(backend)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.remove(session_id).await.map_err(backend)
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for DatabaseSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM portal_sessions WHERE expires_at <= $1")
                .bind(now()).execute(pool).await.map_err(|e| backend(e.into()))?.rows_affected()
        });
        Ok(())
    }
}
