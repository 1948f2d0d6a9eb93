//! Test support shared by every crate's tests: finding the real services a test needs, fresh
//! databases, isolated Redis key spaces and an in-process S3 server.
//!
//! A test that needs PostgreSQL or Redis reads its variable (`VARIOSYNC_TEST_POSTGRES_URL`,
//! `VARIOSYNC_TEST_REDIS_URL`); when it is unset the test is skipped with a one-line reason,
//! unless `VARIOSYNC_REQUIRE_SERVICES=1`, in which case it fails. CI sets that.

use std::net::SocketAddr;
use std::str::FromStr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use secrecy::SecretString;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tempfile::TempDir;

use crate::settings::{DatabaseSettings, RedisSettings, S3Settings};

/// The URL in `var`, or `None` after printing why the caller skips. Panics instead of
/// skipping when `VARIOSYNC_REQUIRE_SERVICES=1`.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if services_required() => {
            panic!("{var} is not set, and VARIOSYNC_REQUIRE_SERVICES=1 forbids skipping")
        }
        _ => {
            eprintln!("skipped: {var} is not set");
            None
        }
    }
}

/// Whether skipping a test for a missing service is an error.
pub fn services_required() -> bool {
    std::env::var("VARIOSYNC_REQUIRE_SERVICES").is_ok_and(|value| value == "1")
}

/// Creates a new, empty PostgreSQL database on the server of `VARIOSYNC_TEST_POSTGRES_URL`,
/// owned by a new role that is neither superuser nor exempt from row-level security (as the
/// application's role is in production), and returns settings that connect as that role;
/// `None` when the variable is unset (see [`service_url`]). Databases and roles are named
/// `variosync_test_*`; CI drops them afterwards.
pub async fn fresh_postgres() -> Option<DatabaseSettings> {
    let admin_url = service_url("VARIOSYNC_TEST_POSTGRES_URL")?;
    let admin = PgConnectOptions::from_str(&admin_url)
        .expect("VARIOSYNC_TEST_POSTGRES_URL is not a PostgreSQL URL");
    let name = format!("variosync_test_{}", uuid::Uuid::new_v4().simple());
    let password = uuid::Uuid::new_v4().simple().to_string();
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .expect("cannot connect to VARIOSYNC_TEST_POSTGRES_URL");
    // Names and password are generated here from hex digits only.
    for statement in [
        format!(
            "CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE \
             PASSWORD '{password}'"
        ),
        format!("CREATE DATABASE {name} OWNER {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .expect("cannot create a test role and database");
    }
    conn.close().await.ok();
    let url =
        format!("postgres://{name}:{password}@{}:{}/{name}", admin.get_host(), admin.get_port());
    Some(DatabaseSettings { url: Some(SecretString::from(url)), ..DatabaseSettings::default() })
}

/// Settings for the Redis of `VARIOSYNC_TEST_REDIS_URL` with a key prefix of its own, so
/// tests running at once never see each other's keys; `None` when the variable is unset.
pub fn fresh_redis() -> Option<RedisSettings> {
    let url = service_url("VARIOSYNC_TEST_REDIS_URL")?;
    Some(RedisSettings {
        url: Some(SecretString::from(url)),
        key_prefix: format!("variosync-test-{}", uuid::Uuid::new_v4().simple()),
    })
}

/// An S3 server (s3s with a file-system backend) listening on a random local port and
/// speaking the S3 protocol over real HTTP with signature checks. Stops when dropped.
#[derive(Debug)]
pub struct S3TestServer {
    /// Settings that reach the server's one bucket.
    pub settings: S3Settings,
    /// The address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    _root: TempDir,
}

impl Drop for S3TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3TestServer {
    /// Starts a server with one empty bucket, `variosync-test`.
    pub async fn start() -> Self {
        const BUCKET: &str = "variosync-test";
        const ACCESS_KEY: &str = "variosync-test-access";
        const SECRET_KEY: &str = "variosync-test-secret-key";
        let root = TempDir::new().expect("cannot create the S3 server's folder");
        // s3s-fs keeps each bucket as a folder of its root.
        std::fs::create_dir(root.path().join(BUCKET)).expect("cannot create the test bucket");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("cannot open the S3 server's folder");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("cannot bind");
        let addr = listener.local_addr().expect("no local address");
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let conn =
                    http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(conn);
            }
        });
        let settings = S3Settings {
            bucket: Some(BUCKET.to_owned()),
            endpoint: Some(format!("http://{addr}")),
            region: "us-east-1".to_owned(),
            path_style: true,
            access_key_id: Some(ACCESS_KEY.to_owned()),
            secret_access_key: Some(SecretString::from(SECRET_KEY)),
        };
        Self { settings, addr, task, _root: root }
    }
}

/// The token of the first link to `/{page}` in a raw e-mail message, whatever its transfer
/// encoding (quoted-printable soft breaks and escapes are undone).
pub fn link_token(message: &str, page: &str) -> Option<String> {
    let text = message.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let needle = format!("/{page}?token=");
    let start = text.find(&needle)? + needle.len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

/// The messages of `data_dir/outbox` (mail written without an SMTP server), newest first.
fn outbox_messages(data_dir: &std::path::Path) -> impl Iterator<Item = String> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir.join("outbox"))
        .expect("an outbox folder")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    // Names start with the time written, so name order is age order.
    files.sort();
    files.into_iter().rev().filter_map(|file| std::fs::read_to_string(file).ok())
}

/// The messages of `data_dir/outbox` to `to`, newest first (quoted-printable soft breaks
/// undone).
pub fn outbox_messages_to(data_dir: &std::path::Path, to: &str) -> Vec<String> {
    let header = format!("To: {to}");
    outbox_messages(data_dir)
        .filter(|message| message.lines().any(|line| line.eq_ignore_ascii_case(&header)))
        .map(|message| message.replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
        .collect()
}

/// The token in the newest message of `data_dir/outbox` to `to` whose link goes to
/// `/{page}`. Panics if there is none.
pub fn outbox_link_to(data_dir: &std::path::Path, page: &str, to: &str) -> String {
    outbox_messages_to(data_dir, to)
        .iter()
        .find_map(|message| link_token(message, page))
        .unwrap_or_else(|| panic!("no message to {to} in the outbox links to /{page}"))
}

/// The token in the newest message of `data_dir/outbox` whose link goes to `/{page}`.
/// Panics if there is none.
pub fn last_outbox_link(data_dir: &std::path::Path, page: &str) -> String {
    outbox_messages(data_dir)
        .find_map(|message| link_token(&message, page))
        .unwrap_or_else(|| panic!("no message in the outbox links to /{page}"))
}

/// Embedded backends (SQLite and a local folder) in a new temporary folder, migrated, with
/// one user (`ada@example.com`): the folder (keep it alive), the backends and the user.
pub async fn embedded_with_user() -> (TempDir, crate::Backends, variosync_domain::UserId) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let settings = crate::settings::StoreSettings::default();
    let backends = crate::Backends::open(&settings, dir.path()).await.expect("embedded backends");
    backends.db.migrate().await.expect("migrations apply");
    let new = variosync_domain::NewUser {
        email: variosync_domain::Email::parse("ada@example.com").expect("an address"),
        password_hash: None,
        role: variosync_domain::Role::User,
    };
    let user = backends.users().create(&new).await.expect("a user").id;
    (dir, backends, user)
}
