use chrono::{Duration, Utc};
use variosync_domain::WorkspaceId;
use variosync_domain::{ErrorKind, UploadId};
use variosync_store::{Access, Database, Error, ObjectKey, UploadRepository};

use crate::backends::user;

async fn uploads_conform(db: Database) {
    let uploads = UploadRepository::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;
    let id = UploadId::new();
    let later = Utc::now() + Duration::hours(1);
    let upload = uploads
        .create(Access::person(ada), WorkspaceId::personal(ada), id, " prices\u{7}.csv ", 10, later)
        .await
        .unwrap();
    assert_eq!((upload.file_name.as_str(), upload.size, upload.received), ("prices.csv", 10, 0));
    let key = |start| ObjectKey::upload_chunk(WorkspaceId::personal(ada), id, start, 7);

    // Chunks count only at the offset where the received bytes end, within the size.
    let after = uploads
        .add_chunk(Access::person(ada), WorkspaceId::personal(ada), id, 0, 4, &key(0))
        .await
        .unwrap();
    assert_eq!(after.received, 4);
    let again = uploads
        .add_chunk(Access::person(ada), WorkspaceId::personal(ada), id, 0, 4, &key(0))
        .await
        .unwrap_err();
    assert!(matches!(again, Error::UploadOffset { received: 4, size: 10 }), "{again}");
    assert_eq!(again.kind(), ErrorKind::Conflict);
    let too_long = uploads
        .add_chunk(Access::person(ada), WorkspaceId::personal(ada), id, 4, 7, &key(4))
        .await
        .unwrap_err();
    assert!(matches!(too_long, Error::UploadOffset { received: 4, .. }));
    assert!(
        uploads
            .claim(Access::person(ada), WorkspaceId::personal(ada), id, later)
            .await
            .unwrap()
            .is_none(),
        "not fully received"
    );
    uploads
        .add_chunk(Access::person(ada), WorkspaceId::personal(ada), id, 4, 6, &key(4))
        .await
        .unwrap();
    let chunks = uploads.chunks(Access::person(ada), WorkspaceId::personal(ada), id).await.unwrap();
    assert_eq!(chunks.iter().map(|c| (c.start, c.length)).collect::<Vec<_>>(), [(0, 4), (4, 6)]);
    assert!(chunks[1].key.as_str().ends_with(&format!("uploads/{id}/4-00000007")));

    // One completion at a time; a released claim may be taken again.
    assert!(
        uploads
            .claim(Access::person(ada), WorkspaceId::personal(ada), id, later)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        uploads
            .claim(Access::person(ada), WorkspaceId::personal(ada), id, later)
            .await
            .unwrap()
            .is_none(),
        "claimed already"
    );
    uploads.release(Access::person(ada), WorkspaceId::personal(ada), id).await.unwrap();
    assert!(
        uploads
            .claim(Access::person(ada), WorkspaceId::personal(ada), id, later)
            .await
            .unwrap()
            .is_some()
    );

    // Another user sees and touches nothing.
    assert_eq!(
        uploads.get(Access::person(grace), WorkspaceId::personal(ada), id).await.unwrap(),
        None
    );
    assert!(matches!(
        uploads
            .add_chunk(Access::person(grace), WorkspaceId::personal(grace), id, 10, 1, &key(10))
            .await,
        Err(Error::NotFound("upload"))
    ));
    assert!(!uploads.delete(Access::person(grace), WorkspaceId::personal(ada), id).await.unwrap());
    assert!(
        uploads
            .claim(Access::person(grace), WorkspaceId::personal(grace), id, later)
            .await
            .unwrap()
            .is_none()
    );

    // Expired uploads are invisible and listed for deletion.
    let old = UploadId::new();
    uploads
        .create(
            Access::person(ada),
            WorkspaceId::personal(ada),
            old,
            "old.csv",
            5,
            Utc::now() - Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(
        uploads.get(Access::person(ada), WorkspaceId::personal(ada), old).await.unwrap(),
        None
    );
    assert_eq!(
        uploads.expired(Access::person(ada), WorkspaceId::personal(ada)).await.unwrap(),
        [old]
    );
    assert_eq!(
        uploads.open_count(Access::person(ada), WorkspaceId::personal(ada)).await.unwrap(),
        1
    );

    assert!(uploads.delete(Access::person(ada), WorkspaceId::personal(ada), id).await.unwrap());
    assert!(
        uploads
            .chunks(Access::person(ada), WorkspaceId::personal(ada), id)
            .await
            .unwrap()
            .is_empty(),
        "chunk rows go with it"
    );
    assert_eq!(
        uploads.get(Access::person(ada), WorkspaceId::personal(ada), id).await.unwrap(),
        None
    );
}

crate::on_each_database!(uploads_conform, uploads_conform_on_sqlite, uploads_conform_on_postgres);
