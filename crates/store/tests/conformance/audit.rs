use chrono::{Duration, Utc};
use serde_json::json;
use variosync_domain::{AuditAction, UserId};
use variosync_store::{Access, AuditFilter, AuditLog, Database, NewAuditEntry, UserRepository};

use crate::backends::user;

fn event(user: UserId, action: AuditAction) -> NewAuditEntry {
    NewAuditEntry {
        user_id: Some(user),
        actor_id: None,
        action,
        detail: json!({ "method": "password" }),
        ip: Some("203.0.113.7".into()),
        user_agent: Some("x".repeat(2000)),
    }
}

fn all(limit: u32) -> AuditFilter {
    AuditFilter { limit, ..AuditFilter::default() }
}

async fn the_audit_log_conforms(db: Database) {
    let audit = AuditLog::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;

    let signed_up =
        audit.record(Access::person(ada), event(ada, AuditAction::SignUp)).await.unwrap();
    assert_eq!(signed_up.detail, json!({ "method": "password" }));
    assert_eq!(signed_up.user_agent.as_ref().map(String::len), Some(512), "user agents are capped");
    audit.record(Access::person(ada), event(ada, AuditAction::SignIn)).await.unwrap();
    audit.record(Access::person(grace), event(grace, AuditAction::SignIn)).await.unwrap();
    let mut by_admin = event(grace, AuditAction::HoursGranted);
    by_admin.actor_id = Some(ada);
    audit.record(Access::System, by_admin).await.unwrap();

    // A user sees only their own entries, whatever they ask for.
    let mine = audit.list(Access::person(ada), &all(10)).await.unwrap();
    assert_eq!(
        mine.iter().map(|e| e.action).collect::<Vec<_>>(),
        [AuditAction::SignIn, AuditAction::SignUp]
    );
    let snooping = AuditFilter { user_id: Some(grace), ..all(10) };
    assert!(audit.list(Access::person(ada), &snooping).await.unwrap().is_empty());

    // An admin sees everyone's, filtered by user, action and time, page by page.
    assert_eq!(audit.list(Access::System, &all(10)).await.unwrap().len(), 4);
    let grace_only = audit.list(Access::System, &snooping).await.unwrap();
    assert_eq!(grace_only.len(), 2);
    let sign_ins = AuditFilter { action: Some(AuditAction::SignIn), ..all(10) };
    assert_eq!(audit.list(Access::System, &sign_ins).await.unwrap().len(), 2);
    let future = AuditFilter { from: Some(Utc::now() + Duration::hours(1)), ..all(10) };
    assert!(audit.list(Access::System, &future).await.unwrap().is_empty());
    let past = AuditFilter { to: Some(Utc::now() + Duration::hours(1)), ..all(10) };
    assert_eq!(audit.list(Access::System, &past).await.unwrap().len(), 4);
    let first_page = audit.list(Access::System, &all(3)).await.unwrap();
    let next = AuditFilter { before: Some(first_page[2].id), ..all(3) };
    let second_page = audit.list(Access::System, &next).await.unwrap();
    assert_eq!(second_page, vec![signed_up.clone()]);

    // Deleting an account keeps its entries, anonymised; the log cannot be rewritten.
    assert!(UserRepository::new(db.clone()).delete(Access::person(ada), ada).await.unwrap());
    let remaining = audit.list(Access::System, &all(10)).await.unwrap();
    assert_eq!(remaining.len(), 4);
    assert!(remaining.iter().all(|e| e.user_id != Some(ada) && e.actor_id != Some(ada)));
    let rewrite =
        crate::backends::execute_as_system(&db, "UPDATE audit_log SET action = 'sign_out'").await;
    assert!(rewrite.is_err(), "the audit log is append-only: {rewrite:?}");
    let rewrite = crate::backends::execute_as_system(&db, "DELETE FROM audit_log").await;
    assert!(rewrite.is_err(), "the audit log is append-only: {rewrite:?}");
}

crate::on_each_database!(
    the_audit_log_conforms,
    the_audit_log_conforms_on_sqlite,
    the_audit_log_conforms_on_postgres
);
