//! Who is acting: a person (or a program with their key) in a workspace, with their roles
//! and where the request came from, or a worker acting for the person whose job it runs.

use variosync_domain::{Role, UserId, WorkspaceId, WorkspaceRole};
use variosync_store::Access;

use crate::error::Error;

/// The acting principal every use case takes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The person.
    pub user: UserId,
    /// Their role on this instance.
    pub role: Role,
    /// The workspace they act in: whose data they see and change, whose hours they spend.
    pub workspace: WorkspaceId,
    /// Their role in that workspace.
    pub workspace_role: WorkspaceRole,
    /// Whether the credential allows admin work (an API key without the admin scope does
    /// not, even for an admin).
    pub admin_scope: bool,
    /// The client's address, for the audit log.
    pub ip: Option<String>,
    /// The client's user agent, for the audit log.
    pub user_agent: Option<String>,
}

impl Principal {
    /// `user` acting in their personal workspace from a client at `ip` with `user_agent`.
    pub fn person(
        user: UserId,
        role: Role,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> Self {
        Self {
            user,
            role,
            workspace: WorkspaceId::personal(user),
            workspace_role: WorkspaceRole::Admin,
            admin_scope: true,
            ip,
            user_agent,
        }
    }

    /// Work done for `user` in their personal workspace with no client (the command line).
    pub fn owner(user: UserId) -> Self {
        Self::person(user, Role::User, None, None).without_admin_scope()
    }

    /// Work done for the person who submitted a job, in the job's workspace, by a worker.
    /// The role is the one that submitting needed; PostgreSQL checks the membership again
    /// on every row the job touches, so a member removed meanwhile changes nothing.
    pub fn job_owner(user: UserId, workspace: WorkspaceId) -> Self {
        Self::owner(user).in_workspace(workspace, WorkspaceRole::Editor)
    }

    /// The same person acting in `workspace` with `role` (read from their membership).
    pub fn in_workspace(self, workspace: WorkspaceId, role: WorkspaceRole) -> Self {
        Self { workspace, workspace_role: role, ..self }
    }

    fn without_admin_scope(self) -> Self {
        Self { admin_scope: false, ..self }
    }

    /// The access its repository calls run with: the rows of the workspace it acts in (and
    /// the person's own account rows).
    pub fn access(&self) -> Access {
        Access::member(self.user, self.workspace, self.workspace_role)
    }

    /// Refuses unless the principal's role in its workspace may change data and spend
    /// hours (a viewer may only read).
    pub fn require_editor(&self) -> Result<(), Error> {
        if self.workspace_role.can_write() {
            Ok(())
        } else {
            Err(Error::Forbidden {
                code: "read_only",
                message: format!(
                    "your role in this workspace ({}) may read but not change",
                    self.workspace_role
                ),
            })
        }
    }

    /// Refuses unless the principal is an admin with a credential that allows admin work.
    pub fn require_admin(&self) -> Result<(), Error> {
        if self.role == Role::Admin && self.admin_scope {
            Ok(())
        } else {
            Err(Error::Forbidden {
                code: "admin_only",
                message: "this needs an admin account".to_owned(),
            })
        }
    }
}
