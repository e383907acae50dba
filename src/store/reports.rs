//! What the deployment's parts last said about themselves (the consent pull, each edge), one
//! row per component and node. Holds no rule. Depends on nothing else of ours.

use super::tx::on_pool;
use super::{Database, StoreError};

/// One component's last report from one node.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ComponentReport {
    pub component: String,
    pub node: String,
    pub ok: bool,
    pub detail: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// Replaces `report`'s row.
pub async fn record(db: &Database, report: &ComponentReport) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO component_reports (component, node, ok, detail, at) \
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (component, node) DO UPDATE SET \
                       ok = excluded.ok, detail = excluded.detail, at = excluded.at";
    on_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(&report.component)
            .bind(&report.node)
            .bind(report.ok)
            .bind(&report.detail)
            .bind(&report.at)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Every report, newest first.
pub async fn all(db: &Database) -> Result<Vec<ComponentReport>, StoreError> {
    const SQL: &str = "SELECT component, node, ok, detail, at FROM component_reports \
                       ORDER BY at DESC LIMIT 100";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}
