//! Workspaces and the roles people hold in them.
//!
//! A workspace owns data (datasets, uploads, jobs, forecasts) and an hour balance. Every
//! account has a personal workspace, with the same id as the account, in which it is the
//! admin; team workspaces add members with the roles below.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{UserId, WorkspaceId};

/// What a member may do in a workspace. Ordered: each role may do what the ones before it may.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceRole {
    /// Reads the workspace's data.
    Viewer,
    /// Reads and changes data, and runs jobs charged to the workspace.
    Editor,
    /// Everything an editor may, and manages members and the balance.
    Admin,
}

impl WorkspaceRole {
    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    /// Whether the role may change the workspace's data and spend its hours.
    pub fn can_write(self) -> bool {
        self >= Self::Editor
    }
}

impl fmt::Display for WorkspaceRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a known workspace role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workspace role {0:?}: expected \"viewer\", \"editor\" or \"admin\"")]
pub struct UnknownWorkspaceRole(pub String);

impl FromStr for WorkspaceRole {
    type Err = UnknownWorkspaceRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "editor" => Ok(Self::Editor),
            "admin" => Ok(Self::Admin),
            other => Err(UnknownWorkspaceRole(other.to_owned())),
        }
    }
}

/// A workspace as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Workspace {
    /// The workspace's id.
    pub id: WorkspaceId,
    /// Its name, as shown in the header.
    pub name: String,
    /// The account whose personal workspace this is; `None` for a team workspace.
    pub personal_of: Option<UserId>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_what_they_allow() {
        assert!(!WorkspaceRole::Viewer.can_write());
        assert!(WorkspaceRole::Editor.can_write());
        assert!(WorkspaceRole::Admin.can_write());
        for role in [WorkspaceRole::Viewer, WorkspaceRole::Editor, WorkspaceRole::Admin] {
            assert_eq!(role.as_str().parse::<WorkspaceRole>(), Ok(role));
        }
        assert!("owner".parse::<WorkspaceRole>().is_err());
    }

    #[test]
    fn a_personal_workspace_shares_the_account_id() {
        let user = UserId::new();
        assert_eq!(WorkspaceId::personal(user).as_uuid(), user.as_uuid());
    }
}
