use chrono::Duration;
use variosync_domain::SessionId;
use variosync_store::{Access, Database, NewSession, SessionRepository, UserRepository};

use crate::backends::user;

fn new_session(user: variosync_domain::UserId, secret: u8, lifetime: Duration) -> NewSession {
    NewSession {
        user_id: user,
        token_hash: [secret; 32],
        ip: Some("198.51.100.4".into()),
        user_agent: Some("Firefox".into()),
        lifetime,
    }
}

async fn sessions_conform(db: Database) {
    let sessions = SessionRepository::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;
    let idle = Duration::minutes(30);

    let laptop = sessions.create(new_session(ada, 1, Duration::days(7))).await.unwrap();
    let phone = sessions.create(new_session(ada, 2, Duration::days(7))).await.unwrap();
    let graces = sessions.create(new_session(grace, 3, Duration::days(7))).await.unwrap();
    assert_eq!(laptop.user_id, ada);

    let found = sessions.touch_live(&[1; 32], idle).await.unwrap().expect("a live session");
    assert_eq!(found.id, laptop.id);
    assert!(found.last_seen_at >= laptop.last_seen_at);
    assert_eq!(sessions.touch_live(&[9; 32], idle).await.unwrap(), None, "unknown secret");

    let listed: Vec<SessionId> =
        sessions.list(Access::person(ada), ada).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&laptop.id) && listed.contains(&phone.id));
    assert!(
        sessions.list(Access::person(grace), ada).await.unwrap().is_empty(),
        "not grace's to see"
    );

    // Revocation takes effect at once, and only the owner can do it.
    assert!(!sessions.revoke(Access::person(grace), ada, phone.id).await.unwrap());
    assert!(!sessions.revoke(Access::person(grace), grace, phone.id).await.unwrap());
    assert!(sessions.revoke(Access::person(ada), ada, phone.id).await.unwrap());
    assert_eq!(sessions.touch_live(&[2; 32], idle).await.unwrap(), None);
    assert!(!sessions.revoke(Access::person(ada), ada, phone.id).await.unwrap(), "already revoked");

    // Expired, absolutely or by idling, is as good as gone.
    sessions.create(new_session(ada, 4, Duration::seconds(-1))).await.unwrap();
    assert_eq!(sessions.touch_live(&[4; 32], idle).await.unwrap(), None);
    assert_eq!(
        sessions.touch_live(&[1; 32], Duration::zero()).await.unwrap(),
        None,
        "idle too long"
    );

    sessions.create(new_session(ada, 5, Duration::days(7))).await.unwrap();
    assert_eq!(sessions.revoke_all(Access::person(ada), ada, Some(laptop.id)).await.unwrap(), 1);
    assert!(sessions.touch_live(&[1; 32], idle).await.unwrap().is_some(), "the kept session lives");
    assert_eq!(sessions.touch_live(&[5; 32], idle).await.unwrap(), None);
    assert!(sessions.touch_live(&[3; 32], idle).await.unwrap().is_some(), "grace's is untouched");

    // Deleting the account ends its sessions.
    UserRepository::new(db.clone()).delete(Access::person(grace), grace).await.unwrap();
    assert_eq!(sessions.touch_live(&[3; 32], idle).await.unwrap(), None);
    let _ = graces;
}

crate::on_each_database!(
    sessions_conform,
    sessions_conform_on_sqlite,
    sessions_conform_on_postgres
);
