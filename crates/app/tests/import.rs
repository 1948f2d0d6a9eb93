//! Importing a file as a dataset, and what a failure midway leaves behind: nothing.

use variosync_app::Principal;
use variosync_app::pipeline::{ImportError, import_bytes};
use variosync_domain::WorkspaceId;
use variosync_domain::time::Zone;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::table::Mode;
use variosync_store::{Access, Backends, ObjectKey};

fn fixture() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/fixtures/stocks_daily_head.csv");
    std::fs::read(path).unwrap()
}

fn options(mode: Mode) -> ReadOptions {
    ReadOptions {
        mode,
        zone: Zone::Utc,
        default_series: "upload".into(),
        mapping: Default::default(),
    }
}

async fn setup() -> (tempfile::TempDir, Backends, variosync_domain::UserId) {
    variosync_store::testing::embedded_with_user().await
}

#[tokio::test]
async fn a_csv_becomes_a_dataset_with_its_first_version_and_parquet_part() {
    let (_dir, backends, user) = setup().await;
    let imported = import_bytes(
        &backends,
        &Principal::owner(user),
        "Stocks",
        &fixture(),
        &options(Mode::Strict),
        DuplicatePolicy::KeepLast,
    )
    .await
    .unwrap();
    assert_eq!(imported.dataset.name, "Stocks");
    assert_eq!(imported.version.row_count, 39);
    assert_eq!(imported.version.series, ["META"]);
    assert_eq!(imported.version.time_from.unwrap().to_rfc3339(), "2013-01-02T00:00:00+00:00");
    let part = ObjectKey::dataset_part(WorkspaceId::personal(user), imported.dataset.id, 1, 0);
    assert!(backends.objects.head(&part).await.is_ok());
    let prefix =
        ObjectKey::dataset_version_prefix(WorkspaceId::personal(user), imported.dataset.id, 1);
    let stored = backends.objects.list(&prefix).await.unwrap();
    assert_eq!(stored.len(), 4, "the part and its three overviews");
    assert_eq!(stored.iter().map(|o| o.size).sum::<u64>(), imported.version.bytes);
    let listed = backends
        .datasets()
        .list(Access::person(user), WorkspaceId::personal(user), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_failure_after_the_objects_are_written_leaves_neither_rows_nor_objects() {
    let (_dir, backends, user) = setup().await;
    // The name is refused when the rows are recorded, after the Parquet part was stored.
    let failed = import_bytes(
        &backends,
        &Principal::owner(user),
        "   ",
        &fixture(),
        &options(Mode::Strict),
        DuplicatePolicy::KeepLast,
    )
    .await;
    assert!(
        matches!(failed, Err(ImportError::Store(variosync_store::Error::InvalidName(_)))),
        "{failed:?}"
    );
    assert!(
        backends
            .datasets()
            .list(Access::person(user), WorkspaceId::personal(user), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        backends
            .objects
            .list(&ObjectKey::workspace_prefix(WorkspaceId::personal(user)))
            .await
            .unwrap()
            .is_empty(),
        "the part was taken back"
    );
}

#[tokio::test]
async fn lenient_imports_set_bad_rows_aside_and_strict_ones_stop_at_the_first() {
    let (_dir, backends, user) = setup().await;
    let file = b"date,value\n2024-01-01,1\n2024-01-0x,2\n2024-01-03,3\n";
    let imported = import_bytes(
        &backends,
        &Principal::owner(user),
        "partly",
        file,
        &options(Mode::Lenient),
        DuplicatePolicy::KeepLast,
    )
    .await
    .unwrap();
    assert_eq!(imported.rejects.len(), 1);
    assert_eq!(imported.rejects[0].line, 3);
    assert_eq!(imported.version.row_count, 2);
    let strict = import_bytes(
        &backends,
        &Principal::owner(user),
        "strict",
        file,
        &options(Mode::Strict),
        DuplicatePolicy::KeepLast,
    )
    .await
    .unwrap_err();
    assert!(strict.to_string().starts_with("line 3, column `date`"), "{strict}");
    assert_eq!(
        backends
            .datasets()
            .list(Access::person(user), WorkspaceId::personal(user), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn repeated_series_and_times_follow_the_duplicate_policy() {
    let (_dir, backends, user) = setup().await;
    let file = b"symbol,date,close\nA,2024-01-01,1\nA,2024-01-01,2\nB,2024-01-01,3\n";
    let kept = import_bytes(
        &backends,
        &Principal::owner(user),
        "last",
        file,
        &options(Mode::Strict),
        DuplicatePolicy::KeepLast,
    )
    .await
    .unwrap();
    assert_eq!((kept.version.row_count, kept.duplicates), (2, 1));
    assert_eq!(kept.version.profile.duplicates, 1);
    let refused = import_bytes(
        &backends,
        &Principal::owner(user),
        "fail",
        file,
        &options(Mode::Strict),
        DuplicatePolicy::Fail,
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().starts_with("1 rows repeat a series and time"), "{refused}");
    assert_eq!(
        backends
            .datasets()
            .list(Access::person(user), WorkspaceId::personal(user), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
