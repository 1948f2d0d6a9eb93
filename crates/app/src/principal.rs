//! Who is acting: a person (or a program with their key), with their role and where the
//! request came from, or a worker acting for the owner of a job.

use variosync_domain::{Role, UserId};
use variosync_store::Access;

use crate::error::Error;

/// The acting principal every use case takes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The person.
    pub user: UserId,
    /// Their role on this instance.
    pub role: Role,
    /// Whether the credential allows admin work (an API key without the admin scope does
    /// not, even for an admin).
    pub admin_scope: bool,
    /// The client's address, for the audit log.
    pub ip: Option<String>,
    /// The client's user agent, for the audit log.
    pub user_agent: Option<String>,
}

impl Principal {
    /// `user` acting from a client at `ip` with `user_agent`.
    pub fn person(
        user: UserId,
        role: Role,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> Self {
        Self { user, role, admin_scope: true, ip, user_agent }
    }

    /// Work done for `user` with no client (a worker running their job, the command line).
    pub fn owner(user: UserId) -> Self {
        Self { user, role: Role::User, admin_scope: false, ip: None, user_agent: None }
    }

    /// The access its repository calls run with: only the person's own rows.
    pub fn access(&self) -> Access {
        Access::User(self.user)
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
