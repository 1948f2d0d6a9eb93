use variosync_domain::{Email, ErrorKind, NewUser, Role, UserId};
use variosync_store::settings::DatabaseSettings;
use variosync_store::{Database, Error, UserRepository, testing};

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        role,
    }
}

async fn the_users_repository_conforms(db: Database) {
    db.migrate().await.expect("migrations apply");
    db.migrate().await.expect("migrations are idempotent");
    let users = UserRepository::new(db);
    assert_eq!(users.count().await.unwrap(), 0);

    let ada = users
        .create(&new_user("Ada@Example.com", Role::User))
        .await
        .unwrap();
    assert_eq!(ada.email.as_str(), "ada@example.com");
    assert_eq!(ada.role, Role::User);
    assert!(ada.is_active());
    assert_eq!(ada.created_at, ada.updated_at);

    assert_eq!(users.find_by_id(ada.id).await.unwrap().as_ref(), Some(&ada));
    let by_email = users
        .find_by_email(&Email::parse("ADA@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(by_email.as_ref(), Some(&ada));
    assert_eq!(users.find_by_id(UserId::new()).await.unwrap(), None);

    let duplicate = users
        .create(&new_user("ada@EXAMPLE.com", Role::Admin))
        .await
        .unwrap_err();
    assert!(matches!(duplicate, Error::EmailTaken), "got {duplicate:?}");
    assert_eq!(duplicate.kind(), ErrorKind::Conflict);

    let grace = users
        .create(&new_user("grace@example.com", Role::Admin))
        .await
        .unwrap();
    assert_eq!(grace.role, Role::Admin);
    assert_eq!(users.count().await.unwrap(), 2);

    let first_page = users.list(None, 1).await.unwrap();
    assert_eq!(first_page, vec![ada.clone()]);
    let second_page = users.list(Some(ada.id), 10).await.unwrap();
    assert_eq!(second_page, vec![grace.clone()]);
    assert!(users.list(Some(grace.id), 10).await.unwrap().is_empty());

    let disabled = users.set_disabled(ada.id, true).await.unwrap().unwrap();
    let disabled_at = disabled.disabled_at.expect("disabled_at is set");
    assert!(!disabled.is_active());
    let again = users.set_disabled(ada.id, true).await.unwrap().unwrap();
    assert_eq!(
        again.disabled_at,
        Some(disabled_at),
        "disabling twice keeps the first time"
    );
    let enabled = users.set_disabled(ada.id, false).await.unwrap().unwrap();
    assert!(enabled.is_active());
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(enabled));
    assert_eq!(users.set_disabled(UserId::new(), true).await.unwrap(), None);

    assert!(users.delete(ada.id).await.unwrap());
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), None);
    assert!(!users.delete(ada.id).await.unwrap());
    assert_eq!(users.count().await.unwrap(), 1);
}

#[tokio::test]
async fn the_users_repository_conforms_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseSettings::default(), dir.path())
        .await
        .unwrap();
    assert_eq!(db.backend(), "sqlite");
    assert!(dir.path().join("variosync.db").exists());
    the_users_repository_conforms(db).await;
}

#[tokio::test]
async fn the_users_repository_conforms_on_postgres() {
    let Some(settings) = testing::fresh_postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&settings, dir.path()).await.unwrap();
    assert_eq!(db.backend(), "postgres");
    the_users_repository_conforms(db).await;
}
