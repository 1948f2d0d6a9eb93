use variosync_domain::{Email, ErrorKind, NewUser, Role, UserId};
use variosync_store::settings::DatabaseSettings;
use variosync_store::{Access, Database, Error, UserRepository, testing};

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
    assert_eq!(users.count(Access::System).await.unwrap(), 0);

    let ada = users.create(&new_user("Ada@Example.com", Role::User)).await.unwrap();
    assert_eq!(ada.email.as_str(), "ada@example.com");
    assert_eq!(ada.role, Role::User);
    assert!(ada.is_active());
    assert_eq!(ada.created_at, ada.updated_at);

    assert_eq!(users.find_by_id(Access::System, ada.id).await.unwrap().as_ref(), Some(&ada));
    let by_email = users
        .find_by_email(Access::System, &Email::parse("ADA@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(by_email.as_ref(), Some(&ada));
    assert_eq!(users.find_by_id(Access::System, UserId::new()).await.unwrap(), None);

    let duplicate = users.create(&new_user("ada@EXAMPLE.com", Role::Admin)).await.unwrap_err();
    assert!(matches!(duplicate, Error::EmailTaken), "got {duplicate:?}");
    assert_eq!(duplicate.kind(), ErrorKind::Conflict);

    let grace = users.create(&new_user("grace@example.com", Role::Admin)).await.unwrap();
    assert_eq!(grace.role, Role::Admin);
    assert_eq!(users.count(Access::System).await.unwrap(), 2);

    let first_page = users.list(Access::System, None, 1).await.unwrap();
    assert_eq!(first_page, vec![ada.clone()]);
    let second_page = users.list(Access::System, Some(ada.id), 10).await.unwrap();
    assert_eq!(second_page, vec![grace.clone()]);
    assert!(users.list(Access::System, Some(grace.id), 10).await.unwrap().is_empty());

    let disabled = users.set_disabled(Access::System, ada.id, true).await.unwrap().unwrap();
    let disabled_at = disabled.disabled_at.expect("disabled_at is set");
    assert!(!disabled.is_active());
    let again = users.set_disabled(Access::System, ada.id, true).await.unwrap().unwrap();
    assert_eq!(again.disabled_at, Some(disabled_at), "disabling twice keeps the first time");
    let enabled = users.set_disabled(Access::System, ada.id, false).await.unwrap().unwrap();
    assert!(enabled.is_active());
    assert_eq!(users.find_by_id(Access::System, ada.id).await.unwrap(), Some(enabled));
    assert_eq!(users.set_disabled(Access::System, UserId::new(), true).await.unwrap(), None);

    // Tenancy: acting as one user, another account is invisible and untouchable.
    let as_grace = Access::person(grace.id);
    assert_eq!(users.find_by_id(as_grace, ada.id).await.unwrap(), None);
    assert_eq!(users.find_by_id(as_grace, grace.id).await.unwrap().as_ref(), Some(&grace));
    assert_eq!(users.find_by_email(as_grace, &ada.email).await.unwrap(), None);
    assert_eq!(users.list(as_grace, None, 10).await.unwrap(), vec![grace.clone()]);
    assert_eq!(users.count(as_grace).await.unwrap(), 1);
    assert_eq!(users.set_role(as_grace, ada.id, Role::Admin).await.unwrap(), None);
    assert!(!users.set_password_hash(as_grace, ada.id, "$argon2id$stolen").await.unwrap());
    assert!(!users.delete(as_grace, ada.id).await.unwrap());
    assert!(users.find_by_id(Access::System, ada.id).await.unwrap().is_some());

    // Account changes by the owner.
    let as_ada = Access::person(ada.id);
    assert!(users.set_password_hash(as_ada, ada.id, "$argon2id$new").await.unwrap());
    assert_eq!(
        users.password_hash(as_ada, ada.id).await.unwrap().as_deref(),
        Some("$argon2id$new")
    );
    assert_eq!(users.password_hash(as_grace, ada.id).await.unwrap(), None);
    let verified = users.mark_email_verified(as_ada, ada.id).await.unwrap().unwrap();
    let verified_at = verified.email_verified_at.expect("verified");
    let again = users.mark_email_verified(as_ada, ada.id).await.unwrap().unwrap();
    assert_eq!(again.email_verified_at, Some(verified_at), "the first confirmation time stays");
    let taken = users.set_email(as_ada, ada.id, &grace.email).await.unwrap_err();
    assert!(matches!(taken, Error::EmailTaken), "got {taken:?}");
    let moved = users
        .set_email(as_ada, ada.id, &Email::parse("ada@lovelace.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.email.as_str(), "ada@lovelace.org");
    let promoted = users.set_role(Access::System, ada.id, Role::Admin).await.unwrap().unwrap();
    assert_eq!(promoted.role, Role::Admin);

    assert!(users.delete(as_ada, ada.id).await.unwrap());
    assert_eq!(users.find_by_id(Access::System, ada.id).await.unwrap(), None);
    assert!(!users.delete(Access::System, ada.id).await.unwrap());
    assert_eq!(users.count(Access::System).await.unwrap(), 1);
}

#[tokio::test]
async fn the_users_repository_conforms_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseSettings::default(), dir.path()).await.unwrap();
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

#[tokio::test]
async fn row_level_security_limits_an_unfiltered_query_to_the_acting_user() {
    let Some(settings) = testing::fresh_postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&settings, dir.path()).await.unwrap();
    db.migrate().await.unwrap();
    let users = UserRepository::new(db.clone());
    let ada = users.create(&new_user("ada@example.com", Role::User)).await.unwrap();
    users.create(&new_user("grace@example.com", Role::User)).await.unwrap();
    let Database::Postgres(pool) = db else { unreachable!("connected to PostgreSQL") };

    // The application's own role, with no WHERE clause at all.
    let count_as = async |access: Option<Access>| -> i64 {
        let mut tx = pool.begin().await.unwrap();
        if let Some(access) = access {
            variosync_store::db::apply_access(&mut tx, access).await.unwrap();
        }
        let count =
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await.unwrap();
        tx.rollback().await.unwrap();
        count
    };
    assert_eq!(count_as(Some(Access::person(ada.id))).await, 1, "only the acting user's row");
    assert_eq!(count_as(None).await, 0, "no context, no rows");
    assert_eq!(count_as(Some(Access::System)).await, 2);

    // Writing another user's row is refused by the policy too.
    let mut tx = pool.begin().await.unwrap();
    variosync_store::db::apply_access(&mut tx, Access::person(ada.id)).await.unwrap();
    let changed = sqlx::query("UPDATE users SET role = 'admin'").execute(&mut *tx).await.unwrap();
    assert_eq!(changed.rows_affected(), 1, "only ada's own row is reachable");
    tx.rollback().await.unwrap();

    // And the role cannot switch the policies off.
    let mut conn = pool.acquire().await.unwrap();
    let refused =
        sqlx::query("SET row_security = off; SELECT COUNT(*) FROM users").execute(&mut *conn).await;
    let bypass: bool = sqlx::query_scalar(
        "SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert!(!bypass, "the application role may not bypass row-level security");
    assert!(refused.is_err(), "with row_security off, a query that RLS would filter fails");
}
