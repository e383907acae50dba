//! Opening and migrating both databases.

use crate::common;

use crate::common::TestDb;
use numbat::store::{Database, StoreError};

#[tokio::test]
async fn migrations_apply_once_and_create_the_settings_table() {
    for test in TestDb::every_backend().await {
        let latest = common::latest_migration();
        assert!(latest >= 2, "the provisioning schema is migration 2");
        assert_eq!(
            test.db.migrate().await.unwrap(),
            latest,
            "{}",
            test.db.kind()
        );
        assert_eq!(
            test.db.migrate().await.unwrap(),
            latest,
            "a second run changes nothing"
        );
        let insert = "INSERT INTO deployment_settings (key, value, updated_at) \
                      VALUES ('sip_header_name', 'X-Numbat-Customer', CURRENT_TIMESTAMP)";
        let select = "SELECT value FROM deployment_settings WHERE key = 'sip_header_name'";
        let value: String = match &test.db {
            Database::Sqlite(pool) => {
                sqlx::query(insert).execute(pool).await.unwrap();
                sqlx::query_scalar(select).fetch_one(pool).await.unwrap()
            }
            Database::Postgres(pool) => {
                sqlx::query(insert).execute(pool).await.unwrap();
                sqlx::query_scalar(select).fetch_one(pool).await.unwrap()
            }
        };
        assert_eq!(value, "X-Numbat-Customer");
        test.remove().await;
    }
}

#[tokio::test]
async fn a_missing_sqlite_file_is_created_with_its_folders_in_wal_mode() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("deep/er/numbat.db");
    let db = Database::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert!(file.is_file());
    let Database::Sqlite(pool) = &db else {
        panic!("expected SQLite")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    db.close().await;
}

#[tokio::test]
async fn an_unsupported_database_url_is_refused_by_scheme() {
    let err = Database::connect("mysql://root@127.0.0.1/test")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedScheme(ref s) if s == "mysql"));
    let text = err.to_string();
    assert!(
        text.contains("sqlite://") && text.contains("postgres://"),
        "{text}"
    );
}

/// Adding a service is its row in the table and a migration: every service's columns, named
/// from its `column_prefix`, exist in both databases, so a migration that forgot one fails here
/// by name rather than in whichever query reaches it first.
#[tokio::test]
async fn every_service_in_the_table_has_its_columns_in_both_databases() {
    use numbat::domain::Service;
    for test in TestDb::every_backend().await {
        test.db.migrate().await.unwrap();
        for service in Service::ALL {
            let traits = service.traits();
            let prefix = traits.column_prefix;
            let mut wanted = vec![
                ("numbers", format!("{prefix}_enabled")),
                ("accounts", format!("{prefix}_enabled")),
                ("accounts", format!("{prefix}_sync")),
                ("accounts", format!("{prefix}_numbers")),
            ];
            if traits.teams_tenant {
                wanted.push(("numbers", format!("{prefix}_detail")));
            }
            for (table, column) in wanted {
                let sql = format!("SELECT {column} FROM {table} LIMIT 0");
                let found = match &test.db {
                    Database::Sqlite(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
                    Database::Postgres(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
                };
                assert!(
                    found.is_ok(),
                    "{}: {service} needs {table}.{column} (a migration adds it): {found:?}",
                    test.db.kind()
                );
            }
        }
        test.remove().await;
    }
}

/// On both databases: a schema with a migration this binary does not have is named as such
/// and `migrate` refuses it, changing nothing.
#[tokio::test]
async fn a_schema_migrated_by_a_newer_release_is_refused_on_both_databases() {
    use numbat::store::SchemaState;
    for test in TestDb::every_backend().await {
        let latest = common::latest_migration();
        test.db.migrate().await.unwrap();
        assert_eq!(
            test.db.schema_state().await.unwrap(),
            SchemaState::Current { version: latest }
        );
        let future = latest + 1;
        let insert = "INSERT INTO _sqlx_migrations \
            (version, description, success, checksum, execution_time) \
            VALUES ($1, 'from a newer release', TRUE, $2, 0)";
        match &test.db {
            Database::Sqlite(pool) => {
                let q = sqlx::query(insert).bind(future).bind(vec![0u8]);
                q.execute(pool).await.unwrap();
            }
            Database::Postgres(pool) => {
                let q = sqlx::query(insert).bind(future).bind(vec![0u8]);
                q.execute(pool).await.unwrap();
            }
        }
        let ahead = SchemaState::Ahead {
            known: latest,
            unknown: vec![future],
        };
        assert_eq!(
            test.db.schema_state().await.unwrap(),
            ahead,
            "{}",
            test.db.kind()
        );
        match test.db.migrate().await {
            Err(StoreError::SchemaUnknown(state)) => assert_eq!(state, ahead),
            other => panic!("{}: {other:?}", test.db.kind()),
        }
        assert_eq!(test.db.schema_version().await.unwrap(), future);

        // A migration whose text differs from the binary's, and one that did not finish.
        let edits = [
            (
                format!("DELETE FROM _sqlx_migrations WHERE version = {future}"),
                None,
            ),
            (
                format!("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = {latest}"),
                Some(SchemaState::Changed {
                    versions: vec![latest],
                }),
            ),
            (
                format!("UPDATE _sqlx_migrations SET success = FALSE WHERE version = {latest}"),
                Some(SchemaState::Failed { version: latest }),
            ),
        ];
        for (sql, expected) in edits {
            match &test.db {
                Database::Sqlite(pool) => {
                    let q = sqlx::query(&sql);
                    let q = if sql.contains("$1") {
                        q.bind(vec![1u8])
                    } else {
                        q
                    };
                    q.execute(pool).await.unwrap();
                }
                Database::Postgres(pool) => {
                    let q = sqlx::query(&sql);
                    let q = if sql.contains("$1") {
                        q.bind(vec![1u8])
                    } else {
                        q
                    };
                    q.execute(pool).await.unwrap();
                }
            }
            let Some(expected) = expected else { continue };
            assert_eq!(test.db.schema_state().await.unwrap(), expected);
            assert!(
                matches!(test.db.migrate().await, Err(StoreError::SchemaUnknown(s)) if s == expected),
                "{}: {sql}",
                test.db.kind()
            );
        }
        test.remove().await;
    }
}

/// What a node of the release before may not meet while it still serves: a table or column it
/// reads gone or renamed, a column's type changed, or a new column it does not write that
/// refuses a row without it.
fn breaks_an_older_node(statement: &str) -> Option<&'static str> {
    let text = statement.to_ascii_uppercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    let has = |phrase: &[&str]| words.windows(phrase.len()).any(|w| w == phrase);
    if has(&["DROP", "TABLE"]) || has(&["DROP", "COLUMN"]) {
        return Some("drops what an older node reads");
    }
    if has(&["RENAME"]) {
        return Some("renames what an older node reads");
    }
    if has(&["ALTER", "COLUMN"]) {
        return Some("changes a column an older node writes");
    }
    let alters = has(&["ALTER", "TABLE"]);
    if alters && has(&["ADD"]) && has(&["NOT", "NULL"]) && !has(&["DEFAULT"]) {
        return Some("adds a required column an older node does not write");
    }
    if alters && (has(&["UNIQUE"]) || has(&["CHECK"]) || has(&["FOREIGN", "KEY"])) {
        return Some("adds a constraint an older node's writes may break");
    }
    if has(&["CREATE", "UNIQUE", "INDEX"]) {
        return Some("adds a uniqueness an older node's writes may break");
    }
    if has(&["DROP", "INDEX"]) {
        return Some("drops an index an older node's ON CONFLICT may need");
    }
    None
}

/// Upgrades go one node at a time, so a migration only expands the schema: an older node keeps
/// working while a newer one applies it. A change that would break the older node (a contract)
/// waits for the release after, and says so on a line `-- contract: <why it is safe now>`.
#[test]
fn every_migration_expands_the_schema_unless_it_says_it_contracts_it() {
    let mut checked = 0;
    for kind in ["sqlite", "postgres"] {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(kind);
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if text
                .lines()
                .any(|l| l.trim_start().starts_with("-- contract:"))
            {
                continue;
            }
            let code: String = text
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            for statement in code.split(';') {
                if let Some(why) = breaks_an_older_node(statement) {
                    panic!(
                        "{}: {why}, and says no `-- contract:`: {}",
                        path.display(),
                        statement.trim()
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked > 20,
        "the migrations were read ({checked} statements)"
    );
    // The rule itself, on statements it must refuse and ones it must let through.
    for refused in [
        "ALTER TABLE numbers DROP COLUMN zoom_enabled",
        "drop table api_tokens",
        "ALTER TABLE accounts RENAME COLUMN name TO account_name",
        "ALTER TABLE numbers ALTER COLUMN custom_sip_header TYPE BYTEA",
        "ALTER TABLE numbers ADD COLUMN tags TEXT NOT NULL",
        "ALTER TABLE numbers ADD tags TEXT NOT NULL",
        "ALTER TABLE numbers ADD CONSTRAINT one_header UNIQUE (custom_sip_header)",
        "CREATE UNIQUE INDEX numbers_by_header ON numbers (custom_sip_header)",
        "DROP INDEX accounts_by_label",
    ] {
        assert!(breaks_an_older_node(refused).is_some(), "{refused}");
    }
    for allowed in [
        "ALTER TABLE numbers ADD COLUMN tags TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE numbers ADD COLUMN note TEXT",
        "CREATE INDEX numbers_by_tag ON numbers (tags)",
        "UPDATE outbox_jobs SET state = 'superseded' WHERE state = 'pending'",
    ] {
        assert_eq!(breaks_an_older_node(allowed), None, "{allowed}");
    }
}
