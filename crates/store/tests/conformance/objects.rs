use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use variosync_domain::WorkspaceId;
use variosync_domain::{DatasetId, ErrorKind, UploadId, UserId};
use variosync_store::testing::S3TestServer;
use variosync_store::{Error, ObjectKey, ObjectStorage};

/// Larger than one multipart part (5 MiB), so streamed writes really go in several parts.
const CHUNK: usize = 3 * 1024 * 1024;

async fn object_storage_conforms(store: ObjectStorage) {
    store.ping().await.expect("the store answers");
    let user = UserId::new();
    let small = ObjectKey::upload(WorkspaceId::personal(user), UploadId::new());

    let missing = store.get(&small).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "got {missing:?}");
    assert_eq!(store.head(&small).await.unwrap_err().kind(), ErrorKind::NotFound);

    store.put(&small, Bytes::from_static(b"ts,value\n2024-01-01,1\n")).await.unwrap();
    assert_eq!(store.get(&small).await.unwrap(), Bytes::from_static(b"ts,value\n2024-01-01,1\n"));
    assert_eq!(store.head(&small).await.unwrap().size, 22);
    assert_eq!(store.get_range(&small, 3..8).await.unwrap(), Bytes::from_static(b"value"));

    // A streamed write of several parts reads back byte for byte.
    let big = ObjectKey::dataset_part(WorkspaceId::personal(user), DatasetId::new(), 1, 0);
    let chunks: Vec<Bytes> = (0u8..5).map(|i| Bytes::from(vec![i; CHUNK])).collect();
    let expected: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    let written = store
        .put_stream(&big, stream::iter(chunks.clone().into_iter().map(Ok::<_, Error>)))
        .await
        .unwrap();
    assert_eq!(written, expected.len() as u64);
    let read: Vec<Bytes> = store.get_stream(&big).await.unwrap().try_collect().await.unwrap();
    assert_eq!(read.concat(), expected);

    // A stream that fails midway leaves no object behind.
    let failed = ObjectKey::upload(WorkspaceId::personal(user), UploadId::new());
    let broken = stream::iter(chunks.into_iter().map(Ok::<_, Error>))
        .take(2)
        .chain(stream::once(async { Err(Error::Corrupt("the client went away".into())) }));
    assert!(store.put_stream(&failed, Box::pin(broken)).await.is_err());
    assert_eq!(store.head(&failed).await.unwrap_err().kind(), ErrorKind::NotFound);

    let mut listed: Vec<String> = store
        .list(&ObjectKey::workspace_prefix(WorkspaceId::personal(user)))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    listed.sort();
    let mut keys = vec![small.to_string(), big.to_string()];
    keys.sort();
    assert_eq!(listed, keys);
    assert!(store.list(&ObjectKey::workspace_prefix(WorkspaceId::new())).await.unwrap().is_empty());

    store.delete(&small).await.unwrap();
    store.delete(&small).await.expect("deleting a missing object is not an error");
    assert_eq!(
        store
            .delete_prefix(&ObjectKey::workspace_prefix(WorkspaceId::personal(user)))
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .list(&ObjectKey::workspace_prefix(WorkspaceId::personal(user)))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn object_storage_conforms_on_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStorage::local(dir.path()).unwrap();
    assert_eq!(store.backend(), "local");
    object_storage_conforms(store).await;
}

#[tokio::test]
async fn object_storage_conforms_on_an_s3_server_over_http() {
    let server = S3TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStorage::open(&server.settings, dir.path()).unwrap();
    assert_eq!(store.backend(), "s3");
    object_storage_conforms(store).await;
    // Nothing was written locally: the data went over HTTP.
    assert!(!dir.path().join("objects").exists());
}

#[tokio::test]
async fn an_s3_store_with_wrong_credentials_is_not_ready() {
    let server = S3TestServer::start().await;
    let mut settings = server.settings.clone();
    settings.secret_access_key = Some("not-the-secret".into());
    let store = ObjectStorage::open(&settings, std::path::Path::new(".")).unwrap();
    assert!(store.ping().await.is_err());
}
