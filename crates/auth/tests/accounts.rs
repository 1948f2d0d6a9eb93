//! The accounts service on both metadata backends.

use tempfile::TempDir;
use variosync_auth::{Accounts, AccountsSettings, ClientInfo, Error, MailSettings, Mailer};
use variosync_domain::WorkspaceId;
use variosync_domain::{ApiScope, AuditAction, ErrorKind, Hours};
use variosync_store::settings::StoreSettings;
use variosync_store::{Access, AuditFilter, Backends, ObjectKey, testing};

const PASSWORD: &str = "correct horse battery";

fn client() -> ClientInfo {
    ClientInfo { ip: Some("192.0.2.10".into()), user_agent: Some("test-agent".into()) }
}

async fn open(settings: StoreSettings) -> (TempDir, Accounts, Backends) {
    let dir = tempfile::tempdir().unwrap();
    let backends = Backends::open(&settings, dir.path()).await.unwrap();
    backends.db.migrate().await.unwrap();
    let mailer = Mailer::from_settings(None, &MailSettings::default(), dir.path()).unwrap();
    let accounts = Accounts::new(
        backends.clone(),
        AccountsSettings::default(),
        mailer,
        "http://variosync.test",
    );
    (dir, accounts, backends)
}

async fn actions(backends: &Backends, user: variosync_domain::UserId) -> Vec<AuditAction> {
    let filter = AuditFilter { limit: 100, ..AuditFilter::default() };
    let mut entries = backends.audit().list(Access::person(user), &filter).await.unwrap();
    entries.reverse();
    entries.into_iter().map(|e| e.action).collect()
}

async fn accounts_work_end_to_end(settings: StoreSettings) {
    let (dir, accounts, backends) = open(settings).await;
    let c = client();

    // Sign-up: nothing until the mailed link is used; then the account (its address
    // confirmed), the free hour, a session and the audit entry.
    accounts.sign_up("Ada@Example.com", PASSWORD, &c).await.unwrap();
    assert!(
        backends
            .users()
            .find_by_email(Access::System, &email("ada@example.com"))
            .await
            .unwrap()
            .is_none(),
        "no account before the address is confirmed"
    );
    let token = testing::outbox_link_to(dir.path(), "signup/confirm", "ada@example.com");
    let ada = accounts.confirm_sign_up(&token, &c).await.unwrap();
    assert!(matches!(accounts.confirm_sign_up(&token, &c).await, Err(Error::InvalidToken)));
    assert_eq!(ada.user.email.as_str(), "ada@example.com");
    assert!(ada.user.email_verified_at.is_some());
    assert_eq!(
        backends
            .ledger()
            .balance(Access::person(ada.user.id), WorkspaceId::personal(ada.user.id))
            .await
            .unwrap(),
        Hours::from_micro(1_000_000)
    );
    let (who, session) = accounts.authenticate_session(ada.token.expose()).await.unwrap().unwrap();
    assert_eq!((who.id, session.id), (ada.user.id, ada.session.id));
    assert_eq!(session.ip.as_deref(), Some("192.0.2.10"));

    let weak = accounts.sign_up("bob@example.com", "short", &c).await.unwrap_err();
    assert_eq!(weak.kind(), ErrorKind::InvalidInput);
    // An existing address answers as a new one does; its owner is told, nothing changes.
    accounts.sign_up("ada@example.com", "some other password", &c).await.unwrap();
    let told = &testing::outbox_messages_to(dir.path(), "ada@example.com")[0];
    assert!(told.contains("which has one already"), "{told}");
    assert!(accounts.sign_in("ada@example.com", "some other password", &c).await.is_err());

    // Sign-in: wrong password and unknown address are the same error.
    let wrong = accounts.sign_in("ada@example.com", "not the password", &c).await.unwrap_err();
    assert!(matches!(wrong, Error::WrongCredentials));
    let unknown = accounts.sign_in("nobody@example.com", PASSWORD, &c).await.unwrap_err();
    assert_eq!(unknown.to_string(), wrong.to_string());
    let again = accounts.sign_in("ADA@example.com", PASSWORD, &c).await.unwrap();
    assert_ne!(again.session.id, ada.session.id, "a new session id on every sign-in");
    assert_ne!(again.token, ada.token);

    // Sessions: listed, revoked at once, sign-out.
    assert_eq!(accounts.sessions(ada.user.id).await.unwrap().len(), 2);
    assert!(accounts.revoke_session(ada.user.id, again.session.id, &c).await.unwrap());
    assert!(accounts.authenticate_session(again.token.expose()).await.unwrap().is_none());
    assert!(accounts.authenticate_session("not-a-token").await.unwrap().is_none());

    // API keys: shown once, found by the whole key only, revoked at once.
    let (key, secret) =
        accounts.create_api_key(ada.user.id, "notebook", ApiScope::Read, &c).await.unwrap();
    let (owner, used) = accounts.authenticate_api_key(&secret.expose()).await.unwrap().unwrap();
    assert_eq!((owner.id, used.id), (ada.user.id, key.id));
    let forged = format!("vsk_{}_{}", key.prefix, "A".repeat(43));
    assert!(
        accounts.authenticate_api_key(&forged).await.unwrap().is_none(),
        "right prefix, wrong secret"
    );
    assert!(matches!(
        accounts.create_api_key(ada.user.id, "  ", ApiScope::Read, &c).await,
        Err(Error::InvalidKeyName)
    ));

    // Another user can touch none of it.
    let grace = signed_up(&accounts, dir.path(), "grace@example.com").await;
    assert!(!accounts.revoke_api_key(grace.user.id, key.id, &c).await.unwrap());
    assert!(!accounts.revoke_session(grace.user.id, ada.session.id, &c).await.unwrap());
    assert!(accounts.api_keys(grace.user.id).await.unwrap().is_empty());
    assert!(accounts.authenticate_api_key(&secret.expose()).await.unwrap().is_some());

    assert!(accounts.revoke_api_key(ada.user.id, key.id, &c).await.unwrap());
    assert!(accounts.authenticate_api_key(&secret.expose()).await.unwrap().is_none());

    // A password change checks the old one and ends the other sessions.
    let other = accounts.sign_in("ada@example.com", PASSWORD, &c).await.unwrap();
    let refused = accounts
        .change_password(
            &ada.user,
            "wrong current",
            "a new long password",
            Some(ada.session.id),
            &c,
        )
        .await;
    assert!(matches!(refused, Err(Error::WrongCredentials)));
    accounts
        .change_password(&ada.user, PASSWORD, "a new long password", Some(ada.session.id), &c)
        .await
        .unwrap();
    assert!(accounts.authenticate_session(other.token.expose()).await.unwrap().is_none());
    assert!(accounts.authenticate_session(ada.token.expose()).await.unwrap().is_some());
    assert!(accounts.sign_in("ada@example.com", PASSWORD, &c).await.is_err());
    accounts.sign_in("ada@example.com", "a new long password", &c).await.unwrap();

    // A disabled account cannot sign in, and its sessions stop working.
    backends.users().set_disabled(Access::System, grace.user.id, true).await.unwrap();
    let disabled = accounts.sign_in("grace@example.com", PASSWORD, &c).await.unwrap_err();
    assert_eq!(disabled.kind(), ErrorKind::Forbidden);
    assert!(accounts.authenticate_session(grace.token.expose()).await.unwrap().is_none());

    // Sign-out.
    accounts.sign_out(ada.user.id, ada.session.id, &c).await.unwrap();
    assert!(accounts.authenticate_session(ada.token.expose()).await.unwrap().is_none());

    assert_eq!(
        actions(&backends, ada.user.id).await,
        [
            AuditAction::SignUp,
            AuditAction::SignUpExisting,
            AuditAction::SignInFailed,
            AuditAction::SignInFailed,
            AuditAction::SignIn,
            AuditAction::SessionRevoked,
            AuditAction::ApiKeyCreated,
            AuditAction::ApiKeyRevoked,
            AuditAction::SignIn,
            AuditAction::PasswordChanged,
            AuditAction::SignInFailed,
            AuditAction::SignIn,
            AuditAction::SignOut,
        ]
    );

    // Deleting the account removes its objects and rows; its audit trail stays, anonymised.
    let upload = ObjectKey::workspace_prefix(WorkspaceId::personal(ada.user.id));
    backends
        .objects
        .put(
            &ObjectKey::upload(
                WorkspaceId::personal(ada.user.id),
                variosync_domain::UploadId::new(),
            ),
            "x".into(),
        )
        .await
        .unwrap();
    accounts.delete_account(ada.user.id, &c).await.unwrap();
    assert!(backends.objects.list(&upload).await.unwrap().is_empty());
    assert!(backends.users().find_by_id(Access::System, ada.user.id).await.unwrap().is_none());
    assert!(accounts.sign_in("ada@example.com", "a new long password", &c).await.is_err());
    let all = backends
        .audit()
        .list(
            Access::System,
            &AuditFilter {
                action: Some(AuditAction::AccountDeleted),
                limit: 10,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].user_id, None, "anonymised");
}

/// Signs up `address` and follows the link mailed to it.
async fn signed_up(
    accounts: &Accounts,
    data_dir: &std::path::Path,
    address: &str,
) -> variosync_auth::SignedIn {
    accounts.sign_up(address, PASSWORD, &client()).await.unwrap();
    let token = testing::outbox_link_to(data_dir, "signup/confirm", address);
    accounts.confirm_sign_up(&token, &client()).await.unwrap()
}

fn email(address: &str) -> variosync_domain::Email {
    variosync_domain::Email::parse(address).unwrap()
}

/// The token of the newest message in the outbox whose link goes to `/{page}`.
fn last_link(data_dir: &std::path::Path, page: &str) -> String {
    testing::last_outbox_link(data_dir, page)
}

async fn email_flows_work(settings: StoreSettings) {
    let (dir, accounts, backends) = open(settings).await;
    let c = client();
    let ada = signed_up(&accounts, dir.path(), "ada@example.com").await;

    // Password reset: the same answer for unknown addresses; the link works once and ends
    // every session.
    accounts.request_password_reset("nobody@example.com").await.unwrap();
    // A malformed address is refused, which says nothing about accounts.
    assert!(accounts.request_password_reset("not an address").await.is_err());
    accounts.request_password_reset("ada@example.com").await.unwrap();
    let token = last_link(dir.path(), "reset-password");
    let weak = accounts.reset_password(&token, "short", &c).await.unwrap_err();
    assert_eq!(weak.kind(), ErrorKind::InvalidInput);
    // A refused password leaves the link usable.
    accounts.reset_password(&token, "a brand new passphrase", &c).await.unwrap();
    assert!(accounts.authenticate_session(ada.token.expose()).await.unwrap().is_none());
    assert!(matches!(
        accounts.reset_password(&token, "yet another passphrase", &c).await,
        Err(Error::InvalidToken)
    ));
    accounts.sign_in("ada@example.com", "a brand new passphrase", &c).await.unwrap();

    // Magic links: once, and they create an account for a new address.
    accounts.request_magic_link("ada@example.com").await.unwrap();
    let token = last_link(dir.path(), "magic-link");
    let signed = accounts.sign_in_with_link(&token, &c).await.unwrap();
    assert_eq!(signed.user.id, ada.user.id);
    assert!(accounts.sign_in_with_link(&token, &c).await.is_err(), "never twice");
    accounts.request_magic_link("newcomer@example.com").await.unwrap();
    let token = last_link(dir.path(), "magic-link");
    let newcomer = accounts.sign_in_with_link(&token, &c).await.unwrap();
    assert_eq!(newcomer.user.email.as_str(), "newcomer@example.com");
    assert!(newcomer.user.email_verified_at.is_some(), "following the link proves the address");
    assert_eq!(
        backends
            .ledger()
            .balance(Access::person(newcomer.user.id), WorkspaceId::personal(newcomer.user.id))
            .await
            .unwrap(),
        Hours::from_micro(1_000_000)
    );

    // Change of address: confirmed from the new address.
    let user = backends.users().find_by_id(Access::System, ada.user.id).await.unwrap().unwrap();
    let wrong = accounts.request_email_change(&user, "ada@lovelace.org", "wrong").await;
    assert!(matches!(wrong, Err(Error::WrongCredentials)));
    let taken = accounts
        .request_email_change(&user, "newcomer@example.com", "a brand new passphrase")
        .await;
    assert_eq!(taken.unwrap_err().kind(), ErrorKind::Conflict);
    accounts
        .request_email_change(&user, "ada@lovelace.org", "a brand new passphrase")
        .await
        .unwrap();
    let token = last_link(dir.path(), "change-email");
    let moved = accounts.confirm_email_change(&token, &c).await.unwrap();
    assert_eq!(moved.email.as_str(), "ada@lovelace.org");
    accounts.sign_in("ada@lovelace.org", "a brand new passphrase", &c).await.unwrap();

    let entries = actions(&backends, ada.user.id).await;
    for expected in [AuditAction::PasswordReset, AuditAction::EmailChanged] {
        assert!(entries.contains(&expected), "{expected} missing from {entries:?}");
    }
}

#[tokio::test]
async fn email_flows_work_on_sqlite() {
    email_flows_work(StoreSettings::default()).await;
}

#[tokio::test]
async fn email_flows_work_on_postgres() {
    let Some(database) = testing::fresh_postgres().await else { return };
    email_flows_work(StoreSettings { database, ..StoreSettings::default() }).await;
}

#[tokio::test]
async fn accounts_work_end_to_end_on_sqlite() {
    accounts_work_end_to_end(StoreSettings::default()).await;
}

#[tokio::test]
async fn accounts_work_end_to_end_on_postgres() {
    let Some(database) = testing::fresh_postgres().await else {
        return;
    };
    accounts_work_end_to_end(StoreSettings { database, ..StoreSettings::default() }).await;
}
