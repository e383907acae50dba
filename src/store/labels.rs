//! Tags and notes as stored: one `labels` row per labelled number or account, one `label_tags`
//! row per tag (what a list filtered by a tag reads), written together.
//!
//! Holds no rule: which labels are allowed is the domain's and the core's. Depends on `domain`.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use crate::domain::{Labels, Note, Tags};
use std::collections::HashMap;

/// What carries labels. The text is the `resource_type` column, the same as the audit trail's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Number,
    Account,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Number => "number",
            Kind::Account => "account",
        }
    }
}

/// One resource's labels with their own version (0: never labelled) and last change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRecord {
    pub key: String,
    pub labels: Labels,
    pub version: i64,
    pub updated_at: Option<String>,
}

impl LabelRecord {
    /// A resource with no labels yet.
    pub fn none(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            labels: Labels::default(),
            version: 0,
            updated_at: None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct LabelRow {
    resource_key: String,
    tags: String,
    note: Option<String>,
    version: i64,
    updated_at: String,
}

impl LabelRow {
    fn into_record(self) -> Result<LabelRecord, StoreError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("labels of {}: {what}: {e}", self.resource_key))
        };
        let tags: Tags = serde_json::from_str(&self.tags).map_err(|e| corrupt("tags", &e))?;
        let note = match self.note.as_deref() {
            Some(raw) => Note::parse(raw).map_err(|e| corrupt("note", &e))?,
            None => None,
        };
        Ok(LabelRecord {
            key: self.resource_key,
            labels: Labels { tags, note },
            version: self.version,
            updated_at: Some(self.updated_at),
        })
    }
}

/// Keys per statement: well under both databases' parameter limits.
const KEYS_PER_STATEMENT: usize = 1000;

const COLUMNS: &str = "resource_key, tags, note, version, updated_at";

/// The stored labels of `keys` (keys without labels are absent).
pub async fn of_many(
    db: &Database,
    kind: Kind,
    keys: &[&str],
) -> Result<HashMap<String, LabelRecord>, StoreError> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let rows: Vec<LabelRow> = on_pool!(db, pool => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {COLUMNS} FROM labels WHERE resource_type = "
            ));
            query.push_bind(kind.as_str()).push(" AND resource_key IN (");
            let mut list = query.separated(", ");
            for key in chunk {
                list.push_bind(key.to_string());
            }
            query.push(")");
            query.build_query_as().fetch_all(pool).await?
        });
        for row in rows {
            let record = row.into_record()?;
            found.insert(record.key.clone(), record);
        }
    }
    Ok(found)
}

/// The labels of `keys`, locked for the rest of `tx` (every key gets a row to lock first, so
/// two writers of a resource never labelled before wait on each other instead of one losing
/// its change). Keys without labels come back as [`LabelRecord::none`].
pub async fn fetch_for_update(
    tx: &mut Tx,
    kind: Kind,
    keys: &[&str],
    at: &str,
) -> Result<HashMap<String, LabelRecord>, StoreError> {
    let mut keys: Vec<&str> = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    let lock = tx.lock_clause();
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let rows: Vec<LabelRow> = on_tx!(tx, conn => {
            let mut insert = sqlx::QueryBuilder::new(format!("INSERT INTO labels ({COLUMNS}, resource_type) "));
            insert.push_values(chunk, |mut row, key| {
                row.push_bind(key.to_string())
                    .push_bind("[]")
                    .push_bind(None::<String>)
                    .push_bind(0_i64)
                    .push_bind(at.to_owned())
                    .push_bind(kind.as_str());
            });
            insert.push(" ON CONFLICT (resource_type, resource_key) DO NOTHING");
            insert.build().execute(&mut *conn).await?;
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {COLUMNS} FROM labels WHERE resource_type = "
            ));
            query.push_bind(kind.as_str()).push(" AND resource_key IN (");
            let mut list = query.separated(", ");
            for key in chunk {
                list.push_bind(key.to_string());
            }
            query.push(format!(") ORDER BY resource_key{lock}"));
            query.build_query_as().fetch_all(&mut *conn).await?
        });
        for row in rows {
            let record = row.into_record()?;
            // A row this transaction just made stands for no labels at all.
            let record = if record.version == 0 {
                LabelRecord::none(&record.key)
            } else {
                record
            };
            found.insert(record.key.clone(), record);
        }
    }
    for key in keys {
        found
            .entry(key.to_owned())
            .or_insert_with(|| LabelRecord::none(key));
    }
    Ok(found)
}

/// Writes each record's labels (its tags' index rows with them). A record left with neither
/// tags nor a note keeps its row, so its version goes on from where it was (an ETag given out
/// before is never valid again). Also clears the empty rows [`fetch_for_update`] made for the
/// `locked` keys that were not written.
pub async fn write(
    tx: &mut Tx,
    kind: Kind,
    locked: &[&str],
    records: &[LabelRecord],
) -> Result<(), StoreError> {
    for chunk in locked.chunks(KEYS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new("DELETE FROM labels WHERE version = 0 AND resource_type = ");
            query.push_bind(kind.as_str()).push(" AND resource_key IN (");
            let mut list = query.separated(", ");
            for key in chunk {
                list.push_bind(key.to_string());
            }
            query.push(")");
            query.build().execute(&mut *conn).await?;
        });
    }
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    delete(tx, kind, &keys).await?;
    let kept: Vec<&LabelRecord> = records.iter().collect();
    for chunk in kept.chunks(KEYS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO labels ({COLUMNS}, resource_type) "));
            query.push_values(chunk, |mut row, record| {
                row.push_bind(record.key.clone())
                    .push_bind(serde_json::to_string(&record.labels.tags).expect("tags serialise"))
                    .push_bind(record.labels.note.as_ref().map(|n| n.as_str().to_owned()))
                    .push_bind(record.version)
                    .push_bind(record.updated_at.clone().unwrap_or_default())
                    .push_bind(kind.as_str());
            });
            query.build().execute(&mut *conn).await?;
        });
    }
    let tags: Vec<(&str, &str)> = kept
        .iter()
        .flat_map(|r| r.labels.tags.iter().map(|t| (t.as_str(), r.key.as_str())))
        .collect();
    for chunk in tags.chunks(KEYS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new("INSERT INTO label_tags (resource_type, tag, resource_key) ");
            query.push_values(chunk, |mut row, (tag, key)| {
                row.push_bind(kind.as_str())
                    .push_bind(tag.to_string())
                    .push_bind(key.to_string());
            });
            query.build().execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// The stored labels of `keys` inside `tx` (keys without labels are absent).
pub async fn of_many_in(
    tx: &mut Tx,
    kind: Kind,
    keys: &[&str],
) -> Result<Vec<LabelRecord>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let rows: Vec<LabelRow> = on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {COLUMNS} FROM labels WHERE resource_type = "
            ));
            query.push_bind(kind.as_str()).push(" AND resource_key IN (");
            let mut list = query.separated(", ");
            for key in chunk {
                list.push_bind(key.to_string());
            }
            query.push(") ORDER BY resource_key");
            query.build_query_as().fetch_all(&mut *conn).await?
        });
        for row in rows {
            found.push(row.into_record()?);
        }
    }
    Ok(found)
}

/// Removes the labels of `keys` (a number gone from the inventory, an account deleted).
pub async fn delete(tx: &mut Tx, kind: Kind, keys: &[&str]) -> Result<(), StoreError> {
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        for table in ["labels", "label_tags"] {
            on_tx!(tx, conn => {
                let mut query = sqlx::QueryBuilder::new(format!("DELETE FROM {table} WHERE resource_type = "));
                query.push_bind(kind.as_str()).push(" AND resource_key IN (");
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.to_string());
                }
                query.push(")");
                query.build().execute(&mut *conn).await?;
            });
        }
    }
    Ok(())
}

/// A page of the resources carrying `tag`, in key order after `after`, with their labels.
pub async fn tagged(
    db: &Database,
    kind: Kind,
    tag: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<LabelRecord>, StoreError> {
    let rows: Vec<LabelRow> = on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new(
            "SELECT l.resource_key, l.tags, l.note, l.version, l.updated_at FROM label_tags t \
             JOIN labels l ON l.resource_type = t.resource_type AND l.resource_key = t.resource_key \
             WHERE t.resource_type = ",
        );
        query.push_bind(kind.as_str()).push(" AND t.tag = ").push_bind(tag.to_owned());
        if let Some(after) = after {
            query.push(" AND t.resource_key > ").push_bind(after.to_owned());
        }
        query.push(" ORDER BY t.resource_key LIMIT ").push_bind(limit);
        query.build_query_as().fetch_all(pool).await?
    });
    rows.into_iter().map(LabelRow::into_record).collect()
}

/// The SQL condition "`column` is a key carrying the tag bound next", for a list's WHERE
/// clause: the caller binds the tag right after pushing it.
pub fn tagged_condition(kind: Kind, column: &str) -> String {
    format!(
        "{column} IN (SELECT resource_key FROM label_tags WHERE resource_type = '{}' AND tag = ",
        kind.as_str()
    )
}
