//! Pure domain types of Variosync: identifiers, users, e-mail addresses, roles, hours, time
//! parsing, the canonical Arrow schema, the profile of a dataset version with the frequency
//! rules behind it, and the [`ErrorKind`] every layer reports.
//!
//! This crate must stay free of I/O: no tokio, no axum, no sqlx, no object storage. Everything
//! in it is a value that can be checked by a unit test without a runtime.

pub mod auth;
pub mod email;
pub mod error;
pub mod hours;
pub mod ids;
pub mod names;
pub mod profile;
pub mod schema;
pub mod text;
pub mod time;
pub mod users;
pub mod workspaces;

pub use auth::{ApiScope, AuditAction, TokenPurpose, UnknownName};
pub use email::{Email, EmailError};
pub use error::{ErrorKind, error_chain};
pub use hours::Hours;
pub use ids::{
    ApiKeyId, AuditEntryId, AuthTokenId, DatasetId, ExportId, ForecastId, JobId, LedgerEntryId,
    SessionId, UploadId, UserId, WorkspaceId,
};
pub use users::{NewUser, Role, User};
pub use workspaces::{Workspace, WorkspaceRole};
