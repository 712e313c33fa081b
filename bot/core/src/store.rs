//! Storage: an embedded SQLite file by default, PostgreSQL for deployments with several bot
//! processes, behind one API and one code path (sqlx's `Any` driver).
//!
//! Every plugin gets a namespaced key-value store ([`KvStore`]) and may own tables with its own
//! [`Migration`]s. Writes are committed before the call returns; SQLite runs in WAL mode, so
//! what the bot confirmed in chat survives `kill -9`.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};

/// Which SQL dialect the store speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (embedded).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A storage failure. Messages never contain passwords from the database URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL's scheme is not `sqlite:` or `postgres:`.
    #[error("unsupported storage url `{0}` (expected `sqlite://PATH` or `postgres://…`)")]
    UnsupportedUrl(String),
    /// The database could not be opened.
    #[error("cannot open storage `{url}`: {source}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// A statement failed.
    #[error("storage {what} failed: {source}")]
    Query {
        /// What was being done.
        what: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// A stored value could not be (de)serialised.
    #[error("value at `{key}` is not valid: {source}")]
    Value {
        /// The key.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A migration failed; nothing of it was applied.
    #[error("migration {version} (`{name}`) of `{owner}` failed: {source}")]
    Migration {
        /// Who owns the migration.
        owner: String,
        /// Its version.
        version: i64,
        /// Its name.
        name: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// The directory for the SQLite file could not be created.
    #[error("cannot create storage directory `{path}`: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn query_err(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::Query { what, source }
}

/// Removes the password from a database URL, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// A schema change owned by the core or a plugin, applied once, in version order.
#[derive(Clone, Debug)]
pub struct Migration {
    /// Increasing version number, unique per owner.
    pub version: i64,
    /// A short name.
    pub name: &'static str,
    /// The SQL for SQLite (several statements allowed).
    pub sqlite: &'static str,
    /// The SQL for PostgreSQL; the SQLite text when `None`.
    pub postgres: Option<&'static str>,
}

impl Migration {
    /// A migration whose SQL is the same for both dialects.
    pub const fn new(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            name,
            sqlite: sql,
            postgres: None,
        }
    }

    /// Gives PostgreSQL its own SQL.
    pub const fn postgres(mut self, sql: &'static str) -> Self {
        self.postgres = Some(sql);
        self
    }

    fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres.unwrap_or(self.sqlite),
        }
    }
}

const CORE_MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "key-value store",
    "CREATE TABLE IF NOT EXISTS ferrbot_kv (
        ns TEXT NOT NULL,
        k TEXT NOT NULL,
        v TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (ns, k)
    )",
)];

/// The bot's database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Store {
    /// Opens (creating if needed) the database at `url`: `sqlite://PATH`, `sqlite::memory:` or
    /// `postgres://user:pass@host:port/db`, and applies the core's migrations.
    ///
    /// # Errors
    /// When the URL is unsupported, the database cannot be reached, or migrations fail.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, url, memory) = if let Some(rest) = url.strip_prefix("sqlite:") {
            if rest.contains(":memory:") || rest.contains("mode=memory") {
                (Dialect::Sqlite, url.to_owned(), true)
            } else {
                let path = rest.trim_start_matches("//");
                let path = path.split('?').next().unwrap_or(path);
                if let Some(parent) = std::path::Path::new(path).parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|source| StoreError::Directory {
                        path: parent.display().to_string(),
                        source,
                    })?;
                }
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                (Dialect::Sqlite, url, false)
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, url.to_owned(), false)
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };

        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        options = match (dialect, memory) {
            // One connection that never closes: each in-memory connection is its own database.
            (Dialect::Sqlite, true) => options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            (Dialect::Sqlite, false) => options.max_connections(4),
            (Dialect::Postgres, _) => options.max_connections(8),
        };
        if dialect == Dialect::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(&url),
                source,
            })?;
        let store = Self { pool, dialect };
        store.ensure_migration_table().await?;
        store.migrate("ferrbot", CORE_MIGRATIONS).await?;
        Ok(store)
    }

    /// A throwaway in-memory SQLite store, for tests.
    ///
    /// # Errors
    /// When SQLite cannot start.
    pub async fn memory() -> Result<Self, StoreError> {
        Self::open("sqlite::memory:").await
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The connection pool, for plugins that own tables. Use `$1, $2…` placeholders: they
    /// work in both dialects.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A key-value store under `namespace`.
    pub fn kv(&self, namespace: &str) -> KvStore {
        KvStore {
            store: self.clone(),
            ns: namespace.to_owned(),
        }
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(query_err("ping"))?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn ensure_migration_table(&self) -> Result<(), StoreError> {
        let created = sqlx::query(
            "CREATE TABLE IF NOT EXISTS ferrbot_migrations (
                owner TEXT NOT NULL,
                version BIGINT NOT NULL,
                name TEXT NOT NULL,
                applied_at BIGINT NOT NULL,
                PRIMARY KEY (owner, version)
            )",
        )
        .execute(&self.pool)
        .await;
        if let Err(err) = created {
            // PostgreSQL's IF NOT EXISTS is not atomic: when two processes create the table at
            // once on a fresh database, the loser fails on the catalog's unique index. The
            // table exists then, and that is all that is needed.
            let exists = sqlx::query("SELECT 1 FROM ferrbot_migrations WHERE 1 = 0")
                .execute(&self.pool)
                .await
                .is_ok();
            if !exists {
                return Err(query_err("creating the migrations table")(err));
            }
        }
        Ok(())
    }

    /// Applies `owner`'s migrations that have not been applied yet, each in a transaction.
    /// Safe when several processes start at once: a migration is recorded in the same
    /// transaction that applies it, so a second process's attempt fails and is skipped.
    ///
    /// # Errors
    /// When a migration fails; it is rolled back and later ones are not applied.
    pub async fn migrate(&self, owner: &str, migrations: &[Migration]) -> Result<(), StoreError> {
        let mut sorted: Vec<&Migration> = migrations.iter().collect();
        sorted.sort_by_key(|m| m.version);
        for m in sorted {
            let applied: Option<i64> = sqlx::query_scalar(
                "SELECT version FROM ferrbot_migrations WHERE owner = $1 AND version = $2",
            )
            .bind(owner)
            .bind(m.version)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading migrations"))?;
            if applied.is_some() {
                continue;
            }
            let fail = |source| StoreError::Migration {
                owner: owner.to_owned(),
                version: m.version,
                name: m.name.to_owned(),
                source,
            };
            let mut tx = self.pool.begin().await.map_err(fail)?;
            let recorded = sqlx::query(
                "INSERT INTO ferrbot_migrations (owner, version, name, applied_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(owner)
            .bind(m.version)
            .bind(m.name)
            .bind(now_secs())
            .execute(&mut *tx)
            .await;
            if recorded.is_err() {
                // Another process applied it meanwhile.
                tx.rollback().await.map_err(fail)?;
                continue;
            }
            sqlx::raw_sql(AssertSqlSafe(m.sql(self.dialect)))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            tracing::info!(
                owner,
                version = m.version,
                name = m.name,
                "applied migration"
            );
        }
        Ok(())
    }
}

/// A namespaced key-value store. Values are JSON; keys are free text (slashes make a
/// convenient hierarchy for [`KvStore::list`]).
#[derive(Clone, Debug)]
pub struct KvStore {
    store: Store,
    ns: String,
}

impl KvStore {
    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// Reads a value.
    ///
    /// # Errors
    /// When the database fails or the stored value does not fit `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let row: Option<AnyRow> = sqlx::query("SELECT v FROM ferrbot_kv WHERE ns = $1 AND k = $2")
            .bind(&self.ns)
            .bind(key)
            .fetch_optional(&self.store.pool)
            .await
            .map_err(query_err(format!("read of `{key}`")))?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row
            .try_get(0)
            .map_err(query_err(format!("read of `{key}`")))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| StoreError::Value {
                key: key.to_owned(),
                source,
            })
    }

    /// Writes a value, replacing any previous one. Committed when this returns.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(|source| StoreError::Value {
            key: key.to_owned(),
            source,
        })?;
        sqlx::query(
            "INSERT INTO ferrbot_kv (ns, k, v, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (ns, k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at",
        )
        .bind(&self.ns)
        .bind(key)
        .bind(text)
        .bind(now_secs())
        .execute(&self.store.pool)
        .await
        .map_err(query_err(format!("write of `{key}`")))?;
        Ok(())
    }

    /// Deletes a value; true when there was one.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM ferrbot_kv WHERE ns = $1 AND k = $2")
            .bind(&self.ns)
            .bind(key)
            .execute(&self.store.pool)
            .await
            .map_err(query_err(format!("delete of `{key}`")))?;
        Ok(done.rows_affected() > 0)
    }

    /// The keys that start with `prefix`, sorted.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT k FROM ferrbot_kv WHERE ns = $1 AND substr(k, 1, length($2)) = $2")
                .bind(&self.ns)
                .bind(prefix)
                .fetch_all(&self.store.pool)
                .await
                .map_err(query_err(format!("list of `{prefix}`")))?;
        let mut keys = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(query_err(format!("list of `{prefix}`")))?;
        keys.sort();
        Ok(keys)
    }

    /// Adds one to an integer value (missing counts as 0) atomically; returns the new value.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn incr(&self, key: &str) -> Result<i64, StoreError> {
        self.add(key, 1).await
    }

    /// Adds `delta` to an integer value (missing counts as 0) atomically; returns the new value.
    ///
    /// # Errors
    /// When the database fails or the stored value is not an integer.
    pub async fn add(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let what = format!("increment of `{key}`");
        let sql = match self.store.dialect {
            Dialect::Sqlite => {
                "INSERT INTO ferrbot_kv (ns, k, v, updated_at) VALUES ($1, $2, CAST($3 AS TEXT), $4) \
                 ON CONFLICT (ns, k) DO UPDATE SET \
                 v = CAST(CAST(ferrbot_kv.v AS INTEGER) + $3 AS TEXT), updated_at = excluded.updated_at \
                 RETURNING v"
            }
            Dialect::Postgres => {
                "INSERT INTO ferrbot_kv (ns, k, v, updated_at) VALUES ($1, $2, CAST($3 AS TEXT), $4) \
                 ON CONFLICT (ns, k) DO UPDATE SET \
                 v = CAST(CAST(ferrbot_kv.v AS BIGINT) + $3 AS TEXT), updated_at = excluded.updated_at \
                 RETURNING v"
            }
        };
        let row = sqlx::query(sql)
            .bind(&self.ns)
            .bind(key)
            .bind(delta)
            .bind(now_secs())
            .fetch_one(&self.store.pool)
            .await
            .map_err(query_err(what.clone()))?;
        let text: String = row.try_get(0).map_err(query_err(what))?;
        text.trim().parse().map_err(|_| StoreError::Value {
            key: key.to_owned(),
            source: serde::de::Error::custom("not an integer"),
        })
    }
}
