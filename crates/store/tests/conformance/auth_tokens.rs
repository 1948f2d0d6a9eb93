use chrono::Duration;
use variosync_domain::{Email, TokenPurpose};
use variosync_store::{Access, AuthTokenRepository, Database, NewAuthToken};

use crate::backends::user;

fn token(
    user: Option<variosync_domain::UserId>,
    purpose: TokenPurpose,
    secret: u8,
    lifetime: Duration,
) -> NewAuthToken {
    NewAuthToken {
        user_id: user,
        purpose,
        token_hash: [secret; 32],
        email: Email::parse("ada@example.com").unwrap(),
        lifetime,
        password_hash: None,
    }
}

async fn auth_tokens_conform(db: Database) {
    let tokens = AuthTokenRepository::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let fifteen_minutes = Duration::minutes(15);

    let issued =
        tokens.issue(token(Some(ada), TokenPurpose::MagicLink, 1, fifteen_minutes)).await.unwrap();
    assert_eq!(issued.user_id, Some(ada));

    assert_eq!(
        tokens.consume(TokenPurpose::ResetPassword, &[1; 32]).await.unwrap(),
        None,
        "wrong purpose"
    );
    let used =
        tokens.consume(TokenPurpose::MagicLink, &[1; 32]).await.unwrap().expect("works once");
    assert_eq!(used.id, issued.id);
    assert_eq!(used.email.as_str(), "ada@example.com");
    assert_eq!(
        tokens.consume(TokenPurpose::MagicLink, &[1; 32]).await.unwrap(),
        None,
        "and never again"
    );

    tokens
        .issue(token(Some(ada), TokenPurpose::ResetPassword, 2, Duration::seconds(-1)))
        .await
        .unwrap();
    assert_eq!(
        tokens.consume(TokenPurpose::ResetPassword, &[2; 32]).await.unwrap(),
        None,
        "expired"
    );

    // A sign-up carries its password's hash, handed over once and then erased.
    let hash = variosync_store::PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let sign_up = NewAuthToken {
        password_hash: Some(hash.clone()),
        ..token(None, TokenPurpose::SignUp, 5, Duration::days(2))
    };
    assert_eq!(tokens.issue(sign_up).await.unwrap().password_hash, Some(hash.clone()));
    assert!(!format!("{hash:?}").contains("argon2"), "never in a log");
    let used = tokens.consume(TokenPurpose::SignUp, &[5; 32]).await.unwrap().expect("works once");
    assert_eq!(used.password_hash, Some(hash));
    assert_eq!(tokens.consume(TokenPurpose::SignUp, &[5; 32]).await.unwrap(), None);
    const KEPT: &str = "SELECT password_hash FROM auth_tokens WHERE token_hash = $1";
    let kept: Option<String> = match &db {
        Database::Sqlite(pool) => {
            sqlx::query_scalar(KEPT).bind(&[5u8; 32][..]).fetch_one(pool).await.unwrap()
        }
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            variosync_store::db::apply_access(&mut tx, Access::System).await.unwrap();
            let kept =
                sqlx::query_scalar(KEPT).bind(&[5u8; 32][..]).fetch_one(&mut *tx).await.unwrap();
            tx.rollback().await.unwrap();
            kept
        }
    };
    assert_eq!(kept, None, "the used token keeps no hash");

    // A link for an address without an account.
    let anonymous =
        tokens.issue(token(None, TokenPurpose::MagicLink, 3, fifteen_minutes)).await.unwrap();
    assert_eq!(anonymous.user_id, None);
    assert!(tokens.consume(TokenPurpose::MagicLink, &[3; 32]).await.unwrap().is_some());

    // Two concurrent uses of one token: exactly one wins.
    tokens.issue(token(Some(ada), TokenPurpose::VerifyEmail, 4, fifteen_minutes)).await.unwrap();
    let (a, b) = tokio::join!(
        tokens.consume(TokenPurpose::VerifyEmail, &[4; 32]),
        tokens.consume(TokenPurpose::VerifyEmail, &[4; 32])
    );
    assert_eq!(usize::from(a.unwrap().is_some()) + usize::from(b.unwrap().is_some()), 1);
}

crate::on_each_database!(
    auth_tokens_conform,
    auth_tokens_conform_on_sqlite,
    auth_tokens_conform_on_postgres
);
