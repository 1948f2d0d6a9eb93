//! Workspaces: every account has a personal one; members read a workspace's rows and change
//! them only as editors; PostgreSQL checks the membership itself, so an access that claims a
//! membership it does not have sees and changes nothing; and accounts from before workspaces
//! keep every row.

use chrono::{TimeZone, Utc};
use variosync_domain::profile::Profile;
use variosync_domain::{DatasetId, Hours, UserId, WorkspaceId, WorkspaceRole};
use variosync_store::jobs::NewJob;
use variosync_store::{
    Access, Database, DatasetRepository, Error, HourLedger, JobRepository, NewVersion, Owner,
    WorkspaceRepository,
};

use crate::backends::user;

fn version(rows: u64) -> NewVersion {
    NewVersion {
        operation: "import".to_owned(),
        parts: 1,
        row_count: rows,
        bytes: rows * 40,
        time_from: Some(Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap()),
        time_to: Some(Utc.with_ymd_and_hms(2024, 3, 29, 0, 0, 0).unwrap()),
        series: vec!["AAPL".into()],
        profile: Profile { rows, ..Profile::default() },
    }
}

/// Makes `user` a member of `workspace` with `role` (or changes their role), as the server
/// does with its own access.
async fn set_member(db: &Database, workspace: WorkspaceId, user: UserId, role: WorkspaceRole) {
    let done: variosync_store::Result<()> = async {
        variosync_store::transaction!(db, Access::System, write, |conn| {
            sqlx::query(
                "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
            )
            .bind(workspace.as_uuid())
            .bind(user.as_uuid())
            .bind(role.as_str())
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?;
        });
        Ok(())
    }
    .await;
    done.unwrap();
}

async fn workspaces_conform(db: Database) {
    let workspaces = WorkspaceRepository::new(db.clone());
    let datasets = DatasetRepository::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;
    let desk = WorkspaceId::personal(ada);

    // Every account gets its personal workspace, as its admin.
    let mine = workspaces.memberships(Access::person(ada), ada).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].0.id, mine[0].0.personal_of, mine[0].1),
        (desk, Some(ada), WorkspaceRole::Admin)
    );
    assert!(
        workspaces.memberships(Access::person(grace), ada).await.is_err(),
        "not grace's to list"
    );

    let id = DatasetId::new();
    datasets.create(Access::person(ada), desk, id, "Prices", &[], &version(10)).await.unwrap();

    // A viewer reads the workspace's rows and changes none of them.
    set_member(&db, desk, grace, WorkspaceRole::Viewer).await;
    assert_eq!(
        workspaces.role(Access::person(grace), grace, desk).await.unwrap(),
        Some(WorkspaceRole::Viewer)
    );
    let viewer = Access::member(grace, desk, WorkspaceRole::Viewer);
    assert_eq!(datasets.list(viewer, desk, None, 10).await.unwrap().len(), 1);
    assert_eq!(datasets.get(viewer, desk, id).await.unwrap().unwrap().user_id, ada);
    assert!(matches!(datasets.update(viewer, desk, id, "Mine", &[]).await, Err(Error::ReadOnly)));
    assert!(matches!(datasets.delete(viewer, desk, id).await, Err(Error::ReadOnly)));
    let refused = datasets.create(viewer, desk, DatasetId::new(), "More", &[], &version(1)).await;
    assert!(matches!(refused, Err(Error::ReadOnly)), "{refused:?}");
    assert_eq!(Error::ReadOnly.kind(), variosync_domain::ErrorKind::Forbidden);

    // Acting in her own workspace, grace does not see the desk's rows.
    assert!(datasets.list(Access::person(grace), desk, None, 10).await.unwrap().is_empty());
    assert_eq!(datasets.get(Access::person(grace), desk, id).await.unwrap(), None);

    // An editor changes them; what she makes is the workspace's and says she made it.
    set_member(&db, desk, grace, WorkspaceRole::Editor).await;
    let editor = Access::member(grace, desk, WorkspaceRole::Editor);
    assert_eq!(
        datasets.update(editor, desk, id, "Desk prices", &[]).await.unwrap().unwrap().user_id,
        ada
    );
    let (made, _) =
        datasets.create(editor, desk, DatasetId::new(), "Hers", &[], &version(2)).await.unwrap();
    assert_eq!((made.workspace_id, made.user_id), (desk, grace));
    assert_eq!(datasets.list(Access::person(ada), desk, None, 10).await.unwrap().len(), 2);

    // Her jobs spend the workspace's hours, and the ledger says who ran them.
    let ledger = HourLedger::new(db.clone());
    ledger
        .apply(Access::System, Owner::personal(ada), Hours::from_micro(1_000_000), "grant", None)
        .await
        .unwrap();
    let new = NewJob {
        kind: "import".into(),
        payload: serde_json::json!({}),
        max_attempts: 1,
        reserve: Hours::from_micro(250_000),
        idempotency_key: None,
    };
    let (job, _) = JobRepository::new(db.clone()).submit(editor, desk, &new).await.unwrap();
    assert_eq!((job.workspace_id, job.user_id), (desk, grace));
    assert_eq!(
        ledger.balance(Access::person(ada), desk).await.unwrap(),
        Hours::from_micro(750_000)
    );
    let entries = ledger.entries(editor, desk, None, 10).await.unwrap();
    assert_eq!((entries[0].workspace_id, entries[0].user_id), (Some(desk), Some(grace)));
    assert_eq!(
        ledger.balance(Access::person(grace), WorkspaceId::personal(grace)).await.unwrap(),
        Hours::ZERO
    );

    // A workspace goes with its account; what others made in it goes too.
    variosync_store::UserRepository::new(db.clone())
        .delete(Access::person(ada), ada)
        .await
        .unwrap();
    assert!(datasets.list(Access::System, desk, None, 10).await.unwrap().is_empty());
    assert_eq!(workspaces.memberships(Access::person(grace), grace).await.unwrap().len(), 1);
}

crate::on_each_database!(
    workspaces_conform,
    workspaces_conform_on_sqlite,
    workspaces_conform_on_postgres
);

/// On PostgreSQL the database reads the membership itself: an access that claims a
/// workspace or a role its person does not hold sees and changes nothing there.
#[tokio::test]
async fn row_level_security_checks_the_membership_on_postgres() {
    let Some(db) = crate::backends::postgres().await else { return };
    let datasets = DatasetRepository::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;
    let mallory = user(&db, "mallory@example.com").await;
    let desk = WorkspaceId::personal(ada);
    let id = DatasetId::new();
    datasets.create(Access::person(ada), desk, id, "Prices", &[], &version(10)).await.unwrap();
    set_member(&db, desk, grace, WorkspaceRole::Viewer).await;

    // Not a member, claiming to be the admin: nothing there, nothing changes.
    let forged = Access::member(mallory, desk, WorkspaceRole::Admin);
    assert!(datasets.list(forged, desk, None, 10).await.unwrap().is_empty());
    assert_eq!(datasets.get(forged, desk, id).await.unwrap(), None);
    assert_eq!(datasets.update(forged, desk, id, "Mine", &[]).await.unwrap(), None);
    assert!(!datasets.delete(forged, desk, id).await.unwrap());
    let planted =
        datasets.create(forged, desk, DatasetId::new(), "Planted", &[], &version(1)).await;
    assert!(planted.is_err(), "a row in another's workspace: {planted:?}");
    assert_eq!(HourLedger::new(db.clone()).balance(forged, desk).await.unwrap(), Hours::ZERO);

    // A viewer claiming to be an editor reads, but her change touches no row.
    let promoted = Access::member(grace, desk, WorkspaceRole::Editor);
    assert_eq!(datasets.list(promoted, desk, None, 10).await.unwrap().len(), 1);
    assert_eq!(datasets.update(promoted, desk, id, "Mine", &[]).await.unwrap(), None);
    assert!(!datasets.delete(promoted, desk, id).await.unwrap());
    assert_eq!(datasets.get(Access::person(ada), desk, id).await.unwrap().unwrap().name, "Prices");
}

/// The last migration before workspaces.
const BEFORE_WORKSPACES: i64 = 20261126000009;

/// An account with a dataset, a job, hours and a ledger, written as the release before
/// workspaces wrote them, keeps all of it in its personal workspace.
async fn accounts_from_before_workspaces_keep_their_rows(db: Database) {
    let (ada, dataset, at) = (UserId::new(), DatasetId::new(), Utc::now());
    let written: variosync_store::Result<()> = async {
        variosync_store::transaction!(&db, Access::System, write, |conn| {
            let statements = [
                "INSERT INTO users (id, email, role, created_at, updated_at) \
             VALUES ($1, 'ada@example.com', 'user', $3, $3)",
                "INSERT INTO datasets (id, user_id, name, tags, current_version, created_at, \
             updated_at) VALUES ($2, $1, 'Prices', '[]', 1, $3, $3)",
                "INSERT INTO dataset_versions (dataset_id, version, user_id, operation, parts, \
             row_count, bytes, created_at) VALUES ($2, 1, $1, 'import', 1, 10, 400, $3)",
                "INSERT INTO hour_balances (user_id, balance_micro, updated_at) \
             VALUES ($1, 750000, $3)",
                "INSERT INTO hour_ledger (id, user_id, delta_micro, balance_micro, reason, \
             created_at) VALUES ($2, $1, 750000, 750000, 'grant', $3)",
            ];
            for statement in statements {
                sqlx::query(statement)
                    .bind(ada.as_uuid())
                    .bind(dataset.as_uuid())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
            }
        });
        Ok(())
    }
    .await;
    written.unwrap();
    db.migrate().await.unwrap();

    let desk = WorkspaceId::personal(ada);
    let (access, memberships) = (Access::person(ada), WorkspaceRepository::new(db.clone()));
    let mine = memberships.memberships(access, ada).await.unwrap();
    assert_eq!((mine.len(), mine[0].0.id, mine[0].1), (1, desk, WorkspaceRole::Admin));
    let datasets = DatasetRepository::new(db.clone());
    let found = datasets.list(access, desk, None, 10).await.unwrap();
    assert_eq!((found.len(), found[0].workspace_id, found[0].user_id), (1, desk, ada));
    assert_eq!(datasets.versions(access, desk, dataset).await.unwrap().len(), 1);
    let ledger = HourLedger::new(db.clone());
    assert_eq!(ledger.balance(access, desk).await.unwrap(), Hours::from_micro(750_000));
    let entries = ledger.entries(access, desk, None, 10).await.unwrap();
    assert_eq!((entries.len(), entries[0].workspace_id), (1, Some(desk)));
    // A new account made after the migration gets its workspace as it is made.
    let grace = user(&db, "grace@example.com").await;
    assert_eq!(memberships.memberships(Access::person(grace), grace).await.unwrap().len(), 1);
}

#[tokio::test]
async fn accounts_from_before_workspaces_keep_their_rows_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let settings = variosync_store::settings::DatabaseSettings::default();
    let db = Database::connect(&settings, dir.path()).await.unwrap();
    db.migrate_to(BEFORE_WORKSPACES).await.unwrap();
    accounts_from_before_workspaces_keep_their_rows(db).await;
}

#[tokio::test]
async fn accounts_from_before_workspaces_keep_their_rows_on_postgres() {
    let Some(settings) = variosync_store::testing::fresh_postgres().await else { return };
    let db = Database::connect(&settings, std::path::Path::new(".")).await.unwrap();
    db.migrate_to(BEFORE_WORKSPACES).await.unwrap();
    accounts_from_before_workspaces_keep_their_rows(db).await;
}
