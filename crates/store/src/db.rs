//! The metadata database: SQLite by default, PostgreSQL in production.
//!
//! Both backends share one logical schema (with a migration folder each) and, wherever the
//! dialects agree, one SQL text: repositories write a query once and [`dispatch!`] compiles
//! it against each concrete pool. Concrete pools rather than `AnyPool` keep every type
//! checked and every driver feature (row-level security, `SKIP LOCKED`) reachable.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use variosync_domain::{UserId, WorkspaceId, WorkspaceRole};

use crate::error::{Error, Result};
use crate::settings::DatabaseSettings;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a readiness probe waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection pool to one of the supported databases.
#[derive(Debug, Clone)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool a [`Database`] holds, binding the pool to
/// `$pool`. Each arm is type-checked for its own driver, so one SQL text serves both backends
/// wherever their dialects agree.
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite($pool) => $body,
            $crate::db::Database::Postgres($pool) => $body,
        }
    };
}

/// On whose behalf a query runs. Every repository function takes one; on PostgreSQL the
/// person becomes the transaction-local setting that row-level security checks (their own
/// account rows, and the rows of workspaces they are a member of), so even a query that
/// forgot its filter sees nothing it should not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A person acting in one workspace with their role in it.
    Member(Member),
    /// The server itself (sign-in look-ups, admin work, workers): every row. Callers that use
    /// it must have authorised the operation already.
    System,
}

/// A person acting in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The person.
    pub user: UserId,
    /// The workspace they act in.
    pub workspace: WorkspaceId,
    /// Their role there.
    pub role: WorkspaceRole,
}

/// Whose a new row is (its workspace) and who made it (a person).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The workspace the row belongs to.
    pub workspace: WorkspaceId,
    /// The person who made it.
    pub user: UserId,
}

impl Owner {
    /// `user`'s own, in their personal workspace.
    pub fn personal(user: UserId) -> Self {
        Self { workspace: WorkspaceId::personal(user), user }
    }
}

impl Access {
    /// `user` acting in their personal workspace, where they are the admin.
    pub fn person(user: UserId) -> Self {
        Self::Member(Member {
            user,
            workspace: WorkspaceId::personal(user),
            role: WorkspaceRole::Admin,
        })
    }

    /// `user` acting in `workspace` with `role`. The role is what the caller read from the
    /// membership; on PostgreSQL the database checks the membership again on every row.
    pub fn member(user: UserId, workspace: WorkspaceId, role: WorkspaceRole) -> Self {
        Self::Member(Member { user, workspace, role })
    }

    /// The person a query is limited to for account rows (sessions, keys, tokens, the
    /// audit log), or `None` for system access. Queries filter with
    /// `($n IS NULL OR user_id = $n)`.
    pub fn scope(self) -> Option<uuid::Uuid> {
        match self {
            Self::Member(member) => Some(member.user.as_uuid()),
            Self::System => None,
        }
    }

    /// The workspace a query is limited to for workspace rows (datasets, uploads, jobs,
    /// forecasts, hours), or `None` for system access. Queries filter with
    /// `($n IS NULL OR workspace_id = $n)`: the repository-level half of tenancy, which is
    /// the whole of it on SQLite.
    pub fn workspace_scope(self) -> Option<uuid::Uuid> {
        match self {
            Self::Member(member) => Some(member.workspace.as_uuid()),
            Self::System => None,
        }
    }

    /// The acting person, or `None` for the server.
    pub fn user(self) -> Option<UserId> {
        match self {
            Self::Member(member) => Some(member.user),
            Self::System => None,
        }
    }

    /// Refuses work on `owner`'s account rows unless this access covers them: a person's
    /// access covers only their own, and another's rows are simply not there for them.
    pub fn require_owner(self, owner: UserId) -> crate::Result<()> {
        match self {
            Self::Member(member) if member.user != owner => Err(crate::Error::NotFound("row")),
            _ => Ok(()),
        }
    }

    /// Refuses reading `workspace`'s rows unless this access acts in it.
    pub fn require_reader(self, workspace: WorkspaceId) -> crate::Result<()> {
        match self {
            Self::Member(member) if member.workspace != workspace => {
                Err(crate::Error::NotFound("row"))
            }
            _ => Ok(()),
        }
    }

    /// Refuses changing `workspace`'s rows to a person whose role there may only read. The
    /// rows of a workspace the access does not act in are left to the query's workspace
    /// filter, which does not find them (the same answer as for a row that does not exist).
    pub fn require_writer(self, workspace: WorkspaceId) -> crate::Result<()> {
        match self {
            Self::Member(member) if member.workspace == workspace && !member.role.can_write() => {
                Err(crate::Error::ReadOnly)
            }
            _ => Ok(()),
        }
    }

    /// Whose a new row is and who made it: `workspace`, and the acting person, who must be
    /// allowed to change it. A row is always made by someone: the server's own access makes
    /// none (workers act as the person whose job they run).
    pub fn owner(self, workspace: WorkspaceId) -> crate::Result<Owner> {
        self.require_reader(workspace)?;
        self.require_writer(workspace)?;
        match self {
            Self::Member(member) => Ok(Owner { workspace, user: member.user }),
            Self::System => Err(crate::Error::PersonRequired),
        }
    }

    /// Refuses the server's own work (leasing jobs, sweeping expired uploads) to a person's
    /// access.
    pub fn require_system(self) -> crate::Result<()> {
        match self {
            Self::System => Ok(()),
            Self::Member(_) => Err(crate::Error::SystemOnly),
        }
    }
}

/// Runs `$body` inside a transaction with the access context applied, binding a connection
/// to `$conn` (use it as `&mut *$conn`). Commits when the body finishes; an early return
/// (`?`) rolls back. `write` transactions take SQLite's write lock up front, so that two
/// writers never deadlock upgrading a read lock.
#[macro_export]
#[doc(hidden)]
macro_rules! transaction {
    ($db:expr, $access:expr, $mode:ident, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite(pool) => {
                let mut tx = pool.begin_with($crate::transaction!(@sqlite_begin $mode)).await?;
                let result = {
                    let $conn = &mut *tx;
                    $body
                };
                tx.commit().await?;
                result
            }
            $crate::db::Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                $crate::db::apply_access(&mut tx, $access).await?;
                let result = {
                    let $conn = &mut *tx;
                    $body
                };
                tx.commit().await?;
                result
            }
        }
    };
    (@sqlite_begin read) => { "BEGIN" };
    (@sqlite_begin write) => { "BEGIN IMMEDIATE" };
}

/// Sets the PostgreSQL transaction-local settings that row-level security reads.
pub async fn apply_access(conn: &mut sqlx::PgConnection, access: Access) -> Result<()> {
    let (user, system) = match access {
        Access::Member(member) => (member.user.to_string(), ""),
        Access::System => (String::new(), "on"),
    };
    sqlx::query("SELECT set_config('app.user_id', $1, true), set_config('app.system', $2, true)")
        .bind(user)
        .bind(system)
        .execute(conn)
        .await?;
    Ok(())
}

impl Database {
    /// Connects to the database the settings name, or to the SQLite file in `data_dir`.
    ///
    /// Connecting is lazy for PostgreSQL (a server that is down at start-up is reported by
    /// readiness and retried), eager for SQLite (a file that cannot be created is a
    /// configuration error worth failing on at once).
    pub async fn connect(settings: &DatabaseSettings, data_dir: &Path) -> Result<Self> {
        let acquire_timeout = Duration::from_secs(settings.acquire_timeout_secs);
        let url = settings.url.as_ref().map(|url| url.expose_secret().to_owned());
        match url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let options = PgConnectOptions::from_str(&url).map_err(|error| Error::Config {
                    key: "VARIOSYNC_DATABASE_URL",
                    message: redact_cause(&error),
                })?;
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy_with(options.application_name("variosync"));
                Ok(Self::Postgres(pool))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let options = SqliteConnectOptions::from_str(&url).map_err(|error| {
                    Error::Config { key: "VARIOSYNC_DATABASE_URL", message: redact_cause(&error) }
                })?;
                Self::open_sqlite(options, settings.max_connections, acquire_timeout).await
            }
            Some(_) => Err(Error::Config {
                key: "VARIOSYNC_DATABASE_URL",
                message: "expected a URL starting with postgres://, postgresql:// or sqlite:"
                    .into(),
            }),
            None => {
                tokio::fs::create_dir_all(data_dir)
                    .await
                    .map_err(|source| Error::Io { path: data_dir.display().to_string(), source })?;
                let options = SqliteConnectOptions::new().filename(data_dir.join("variosync.db"));
                Self::open_sqlite(options, settings.max_connections, acquire_timeout).await
            }
        }
    }

    async fn open_sqlite(
        options: SqliteConnectOptions,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self> {
        // WAL lets readers proceed while a writer commits; the busy timeout turns writer
        // contention between pooled connections into a short wait instead of an error.
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self::Sqlite(pool))
    }

    /// Applies the migrations up to and including version `target` only: how a test sets up
    /// a database as an older release left it, to check that a migration keeps its data.
    #[doc(hidden)]
    pub async fn migrate_to(&self, target: i64) -> Result<()> {
        match self {
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run_to(target, pool).await?,
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run_to(target, pool).await?,
        }
        Ok(())
    }

    /// The backend's name as shown in logs and readiness reports.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Applies every migration not yet applied. Safe to run from several processes at once:
    /// sqlx takes a database lock for the duration.
    #[tracing::instrument(skip_all, fields(backend = self.backend()), err(level = "warn"))]
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        let probe = async {
            dispatch!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
        };
        tokio::time::timeout(PING_TIMEOUT, probe)
            .await
            .map_err(|_| Error::Timeout { what: "the database", after: PING_TIMEOUT })??;
        Ok(())
    }

    /// Closes every connection, waiting for queries in progress.
    pub async fn close(&self) {
        dispatch!(self, |pool| pool.close().await)
    }
}

/// Describes a URL parse failure without echoing the URL, which may hold a password.
fn redact_cause(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Configuration(_) => "the URL cannot be parsed as a database URL".into(),
        _ => "the URL is not usable".into(),
    }
}
