use chrono::{TimeZone, Utc};
use variosync_domain::WorkspaceId;
use variosync_domain::profile::Profile;
use variosync_domain::{DatasetId, ErrorKind};
use variosync_store::{Access, Database, DatasetRepository, Error, NewVersion};

use crate::backends::user;

fn version(operation: &str, rows: u64) -> NewVersion {
    NewVersion {
        operation: operation.to_owned(),
        parts: 1,
        row_count: rows,
        bytes: rows * 40,
        time_from: Some(Utc.with_ymd_and_hms(2013, 1, 2, 0, 0, 0).unwrap()),
        time_to: Some(Utc.with_ymd_and_hms(2023, 12, 29, 0, 0, 0).unwrap()),
        series: vec!["AAPL".into(), "MSFT".into()],
        profile: Profile { rows, ..Profile::default() },
    }
}

async fn datasets_conform(db: Database) {
    let datasets = DatasetRepository::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;
    let as_ada = Access::person(ada);
    let id = DatasetId::new();

    let tags = vec!["stocks".to_owned(), "daily".to_owned(), "stocks".to_owned()];
    let (dataset, v1) = datasets
        .create(
            Access::person(ada),
            WorkspaceId::personal(ada),
            id,
            "  Stocks 100% daily ",
            &tags,
            &version("import", 16_000),
        )
        .await
        .unwrap();
    assert_eq!(dataset.name, "Stocks 100% daily");
    assert_eq!(dataset.tags, ["stocks", "daily"], "tags are trimmed and kept once");
    assert_eq!(dataset.current_version, 1);
    assert_eq!((v1.version, v1.parent_version, v1.row_count), (1, None, 16_000));
    assert_eq!(v1.series, ["AAPL", "MSFT"]);
    assert_eq!(v1.profile, Profile { rows: 16_000, ..Profile::default() });

    let duplicate = datasets
        .create(
            Access::person(ada),
            WorkspaceId::personal(ada),
            id,
            "again",
            &[],
            &version("import", 1),
        )
        .await;
    assert!(duplicate.is_err(), "an id is used once");
    assert_eq!(
        datasets.versions(as_ada, WorkspaceId::personal(ada), id).await.unwrap().len(),
        1,
        "the failed create left no row"
    );

    // Versions chain, and a change from a stale version is refused.
    let v2 = datasets
        .add_version(as_ada, WorkspaceId::personal(ada), id, 1, &version("drop_na", 15_990))
        .await
        .unwrap();
    assert_eq!((v2.version, v2.parent_version), (2, Some(1)));
    let stale = datasets
        .add_version(as_ada, WorkspaceId::personal(ada), id, 1, &version("fill", 15_990))
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::StaleVersion));
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert_eq!(
        datasets
            .get(as_ada, WorkspaceId::personal(ada), id)
            .await
            .unwrap()
            .unwrap()
            .current_version,
        2
    );
    let versions = datasets.versions(as_ada, WorkspaceId::personal(ada), id).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);

    // Search is by name, case-insensitive, with LIKE's wildcards taken literally.
    datasets
        .create(
            Access::person(ada),
            WorkspaceId::personal(ada),
            DatasetId::new(),
            "Weather",
            &[],
            &version("import", 10),
        )
        .await
        .unwrap();
    let found =
        datasets.list(as_ada, WorkspaceId::personal(ada), Some("STOCKS"), 10).await.unwrap();
    assert_eq!(found.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["Stocks 100% daily"]);
    assert_eq!(
        datasets.list(as_ada, WorkspaceId::personal(ada), Some("100%"), 10).await.unwrap().len(),
        1
    );
    assert!(
        datasets.list(as_ada, WorkspaceId::personal(ada), Some("%"), 10).await.unwrap().len() == 1,
        "% is a literal"
    );
    assert_eq!(datasets.list(as_ada, WorkspaceId::personal(ada), None, 10).await.unwrap().len(), 2);

    // Renaming and retagging, with bad input refused.
    let renamed = datasets
        .update(as_ada, WorkspaceId::personal(ada), id, "US stocks", &["equities".into()])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.tags.as_slice()),
        ("US stocks", &["equities".to_owned()][..])
    );
    assert!(matches!(
        datasets.update(as_ada, WorkspaceId::personal(ada), id, "  ", &[]).await,
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        datasets.update(as_ada, WorkspaceId::personal(ada), id, "x\u{0}", &[]).await,
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        datasets.update(as_ada, WorkspaceId::personal(ada), id, "a\u{202E}b", &[]).await,
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        datasets.update(as_ada, WorkspaceId::personal(ada), id, "x", &["".into()]).await,
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        datasets.update(as_ada, WorkspaceId::personal(ada), id, "x", &["a\u{2066}".into()]).await,
        Err(Error::InvalidName(_))
    ));
    let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
    assert!(matches!(
        datasets.update(as_ada, WorkspaceId::personal(ada), id, "x", &many).await,
        Err(Error::InvalidTags)
    ));

    // Another user sees and touches nothing.
    let as_grace = Access::person(grace);
    assert_eq!(datasets.get(as_grace, WorkspaceId::personal(grace), id).await.unwrap(), None);
    assert_eq!(datasets.get(as_grace, WorkspaceId::personal(ada), id).await.unwrap(), None);
    assert!(
        datasets.list(as_grace, WorkspaceId::personal(ada), None, 10).await.unwrap().is_empty()
    );
    assert!(datasets.versions(as_grace, WorkspaceId::personal(ada), id).await.unwrap().is_empty());
    assert_eq!(
        datasets.update(as_grace, WorkspaceId::personal(ada), id, "mine now", &[]).await.unwrap(),
        None
    );
    assert!(matches!(
        datasets.add_version(as_grace, WorkspaceId::personal(ada), id, 2, &version("x", 1)).await,
        Err(Error::NotFound(_))
    ));
    assert!(!datasets.delete(as_grace, WorkspaceId::personal(ada), id).await.unwrap());

    assert!(datasets.delete(as_ada, WorkspaceId::personal(ada), id).await.unwrap());
    assert_eq!(datasets.get(as_ada, WorkspaceId::personal(ada), id).await.unwrap(), None);
    assert!(
        datasets.versions(as_ada, WorkspaceId::personal(ada), id).await.unwrap().is_empty(),
        "versions go with it"
    );
}

crate::on_each_database!(
    datasets_conform,
    datasets_conform_on_sqlite,
    datasets_conform_on_postgres
);
