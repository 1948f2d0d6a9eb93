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

/// Creates a new, empty PostgreSQL database on the server of `VARIOSYNC_TEST_POSTGRES_URL`
/// and returns settings pointing at it; `None` when the variable is unset (see
/// [`service_url`]). Databases are named `variosync_test_*`; CI drops them afterwards.
pub async fn fresh_postgres() -> Option<DatabaseSettings> {
    let admin_url = service_url("VARIOSYNC_TEST_POSTGRES_URL")?;
    let admin = PgConnectOptions::from_str(&admin_url)
        .expect("VARIOSYNC_TEST_POSTGRES_URL is not a PostgreSQL URL");
    let name = format!("variosync_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .expect("cannot connect to VARIOSYNC_TEST_POSTGRES_URL");
    // The name is generated here from hex digits only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("cannot create a test database");
    conn.close().await.ok();
    let url = replace_database(&admin_url, &name);
    Some(DatabaseSettings {
        url: Some(SecretString::from(url)),
        ..DatabaseSettings::default()
    })
}

/// `url` with its path (the database name) replaced by `name`, query string kept.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("cannot bind");
        let addr = listener.local_addr().expect("no local address");
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
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
        Self {
            settings,
            addr,
            task,
            _root: root,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn the_database_name_is_replaced_and_everything_else_kept() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "fresh"),
            "postgres://postgres@127.0.0.1:5432/fresh"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/test?sslmode=disable", "fresh"),
            "postgres://u:p@h/fresh?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://h:5432", "fresh"),
            "postgres://h:5432/fresh"
        );
    }
}
