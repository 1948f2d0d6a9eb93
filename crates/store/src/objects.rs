//! Object storage with typed paths: a local directory by default, any S3-compatible store in
//! production.
//!
//! Keys are built only by [`ObjectKey`]'s constructors, from server-generated ids and fixed
//! words, so no user text ever reaches a path. Writes of large objects stream through
//! multipart uploads; an object becomes visible only when its upload completes, so a failed
//! write never leaves a partial object behind.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use secrecy::ExposeSecret;
use variosync_domain::{DatasetId, ExportId, ForecastId, UploadId, WorkspaceId};

use crate::error::{Error, Result};
use crate::settings::S3Settings;

/// How long a readiness probe waits for the object store.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// The key of one object. The only way to make one is through the constructors below.
///
/// Every key lives under its workspace's folder, `users/{workspace}/`: the folder's name is
/// older than workspaces, and a personal workspace's id is its account's, so the objects
/// stored before workspaces existed are where their keys say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(StorePath);

/// Bytes read from a local file per uploaded part.
const FILE_CHUNK_BYTES: usize = 8 * 1024 * 1024;

impl ObjectKey {
    /// Part `part` of version `version` of a dataset.
    pub fn dataset_part(
        workspace: WorkspaceId,
        dataset: DatasetId,
        version: u32,
        part: u32,
    ) -> Self {
        Self(StorePath::from(format!(
            "users/{workspace}/datasets/{dataset}/v{version}/part-{part}.parquet"
        )))
    }

    /// The folder holding every version of one dataset.
    pub fn dataset_prefix(workspace: WorkspaceId, dataset: DatasetId) -> Self {
        Self(StorePath::from(format!("users/{workspace}/datasets/{dataset}")))
    }

    /// The folder holding every part of one dataset version.
    pub fn dataset_version_prefix(
        workspace: WorkspaceId,
        dataset: DatasetId,
        version: u32,
    ) -> Self {
        Self(StorePath::from(format!("users/{workspace}/datasets/{dataset}/v{version}")))
    }

    /// An overview of part `part` of a dataset version, with buckets of `rows` rows.
    pub fn dataset_part_overview(
        workspace: WorkspaceId,
        dataset: DatasetId,
        version: u32,
        part: u32,
        rows: usize,
    ) -> Self {
        Self(StorePath::from(format!(
            "users/{workspace}/datasets/{dataset}/v{version}/part-{part}.overview-{rows}.parquet"
        )))
    }

    /// The rows of a dataset version's source file that could not be read.
    pub fn dataset_rejects(workspace: WorkspaceId, dataset: DatasetId, version: u32) -> Self {
        Self(StorePath::from(format!(
            "users/{workspace}/datasets/{dataset}/v{version}/rejects.csv"
        )))
    }

    /// A staged upload, before it becomes a dataset (its chunks are stored under this key).
    pub fn upload(workspace: WorkspaceId, upload: UploadId) -> Self {
        Self(StorePath::from(format!("users/{workspace}/uploads/{upload}")))
    }

    /// One chunk of a resumable upload, starting at byte `start`; `attempt` (random) tells
    /// apart two requests that race to send the same chunk.
    pub fn upload_chunk(
        workspace: WorkspaceId,
        upload: UploadId,
        start: u64,
        attempt: u32,
    ) -> Self {
        Self(StorePath::from(format!("users/{workspace}/uploads/{upload}/{start}-{attempt:08x}")))
    }

    /// A key read back from the database.
    pub(crate) fn from_stored(key: &str) -> Self {
        Self(StorePath::from(key))
    }

    /// An exported file (its name, chosen by a person, is kept in its record, not here).
    pub fn export_file(workspace: WorkspaceId, export: ExportId) -> Self {
        Self(StorePath::from(format!("users/{workspace}/exports/{export}")))
    }

    /// A forecast result.
    pub fn forecast(workspace: WorkspaceId, forecast: ForecastId) -> Self {
        Self(StorePath::from(format!("users/{workspace}/forecasts/{forecast}.parquet")))
    }

    /// Everything a workspace owns, for listing and for deleting it (a personal workspace
    /// goes with its account).
    pub fn workspace_prefix(workspace: WorkspaceId) -> Self {
        Self(StorePath::from(format!("users/{workspace}")))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Size and modification time of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key, as stored.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

impl From<object_store::ObjectMeta> for ObjectInfo {
    fn from(meta: object_store::ObjectMeta) -> Self {
        Self { key: meta.location.to_string(), size: meta.size, last_modified: meta.last_modified }
    }
}

/// Handle to the configured object store.
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    backend: &'static str,
    /// The folder of a local store.
    root: Option<std::path::PathBuf>,
    /// What presigns download URLs, for S3.
    signer: Option<Arc<object_store::aws::AmazonS3>>,
}

impl fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// Opens the store the settings name: S3 when a bucket is set, otherwise the `objects`
    /// folder inside `data_dir` (created if missing).
    pub fn open(settings: &S3Settings, data_dir: &Path) -> Result<Self> {
        match &settings.bucket {
            Some(bucket) => Self::s3(bucket, settings),
            None => Self::local(&data_dir.join("objects")),
        }
    }

    /// A store rooted at a local directory.
    pub fn local(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .map_err(|source| Error::Io { path: root.display().to_string(), source })?;
        let store = LocalFileSystem::new_with_prefix(root)?;
        let root = std::fs::canonicalize(root)
            .map_err(|source| Error::Io { path: root.display().to_string(), source })?;
        Ok(Self { store: Arc::new(store), backend: "local", root: Some(root), signer: None })
    }

    fn s3(bucket: &str, settings: &S3Settings) -> Result<Self> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&settings.region)
            .with_virtual_hosted_style_request(!settings.path_style);
        if let Some(endpoint) = &settings.endpoint {
            // Plain HTTP is for a store on the same host or network (MinIO in a compose file);
            // it is allowed only when the endpoint says so explicitly.
            builder =
                builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(key_id) = &settings.access_key_id {
            builder = builder.with_access_key_id(key_id);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose_secret());
        }
        let store = builder
            .build()
            .map_err(|error| Error::Config { key: "VARIOSYNC_S3_*", message: error.to_string() })?;
        let store = Arc::new(store);
        Ok(Self { store: store.clone(), backend: "s3", root: None, signer: Some(store) })
    }

    /// `local` or `s3`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// A URL that downloads `key` without credentials for `valid_for`, saved as
    /// `file_name`: presigned by S3; `None` for a local folder (the application signs its
    /// own links then).
    pub async fn signed_download_url(
        &self,
        key: &ObjectKey,
        file_name: &str,
        media_type: &str,
        valid_for: Duration,
    ) -> Result<Option<String>> {
        use object_store::signer::{Method, SignedUrlOptions, Signer};
        let Some(signer) = &self.signer else { return Ok(None) };
        let disposition = format!("attachment; filename=\"{}\"", file_name.replace('"', ""));
        let options = SignedUrlOptions::new().with_query([
            ("response-content-disposition", disposition.as_str()),
            ("response-content-type", media_type),
        ]);
        let url = signer.signed_url_opts(Method::GET, &key.0, valid_for, &options).await?;
        Ok(Some(url.to_string()))
    }

    /// Writes a whole object at once; for small objects.
    #[tracing::instrument(skip_all, fields(key = %key), err(level = "warn"))]
    pub async fn put(&self, key: &ObjectKey, bytes: Bytes) -> Result<()> {
        self.store.put(&key.0, PutPayload::from_bytes(bytes)).await?;
        Ok(())
    }

    /// Streams chunks into an object without holding it in memory. The object appears only
    /// when the stream ends without error; on error the upload is aborted and nothing is left.
    #[tracing::instrument(skip_all, fields(key = %key), err(level = "warn"))]
    pub async fn put_stream<S, E>(&self, key: &ObjectKey, mut chunks: S) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Error>,
    {
        let upload = self.store.put_multipart(&key.0).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut written = 0u64;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(chunk) => {
                    written += chunk.len() as u64;
                    // Bounds the parts in flight, so a fast producer cannot fill memory.
                    writer.wait_for_capacity(4).await?;
                    writer.put(chunk);
                }
                Err(error) => {
                    // The abort's own failure is secondary to the error that caused it.
                    let _ = writer.abort().await;
                    return Err(error.into());
                }
            }
        }
        writer.finish().await?;
        Ok(written)
    }

    /// A local file holding the object, for readers that need one: the object itself in a
    /// local store; otherwise a copy under `cache`, downloaded once (objects never change
    /// once written, and their keys are never reused).
    pub async fn local_file(&self, key: &ObjectKey, cache: &Path) -> Result<std::path::PathBuf> {
        use tokio::io::AsyncWriteExt;
        if let Some(root) = &self.root {
            return Ok(root.join(key.as_str()));
        }
        let path = cache.join(key.as_str());
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(path);
        }
        let failed = |source| Error::Io { path: path.display().to_string(), source };
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(failed)?;
        }
        let partial = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4()));
        let mut file = tokio::fs::File::create(&partial).await.map_err(failed)?;
        let mut chunks = self.get_stream(key).await?;
        let written: Result<()> = async {
            while let Some(chunk) = chunks.next().await {
                file.write_all(&chunk?).await.map_err(failed)?;
            }
            file.flush().await.map_err(failed)?;
            Ok(())
        }
        .await;
        match written {
            Ok(()) => {
                tokio::fs::rename(&partial, &path).await.map_err(failed)?;
                Ok(path)
            }
            Err(error) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(error)
            }
        }
    }

    /// Streams a local file into an object, in bounded memory.
    pub async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<u64> {
        use tokio::io::AsyncReadExt;
        let failed = |source| Error::Io { path: path.display().to_string(), source };
        let file = tokio::fs::File::open(path).await.map_err(failed)?;
        let chunks = futures::stream::try_unfold(file, move |mut file| async move {
            let mut chunk = Vec::with_capacity(FILE_CHUNK_BYTES);
            while chunk.len() < FILE_CHUNK_BYTES {
                let read = (&mut file)
                    .take((FILE_CHUNK_BYTES - chunk.len()) as u64)
                    .read_to_end(&mut chunk)
                    .await
                    .map_err(failed)?;
                if read == 0 {
                    break;
                }
            }
            Ok::<_, Error>((!chunk.is_empty()).then(|| (Bytes::from(chunk), file)))
        });
        self.put_stream(key, Box::pin(chunks)).await
    }

    /// Reads a whole object; for small objects.
    #[tracing::instrument(skip_all, fields(key = %key), err(level = "warn"))]
    pub async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        Ok(self.store.get(&key.0).await?.bytes().await?)
    }

    /// Reads an object as a stream of chunks.
    pub async fn get_stream(&self, key: &ObjectKey) -> Result<BoxStream<'static, Result<Bytes>>> {
        let result = self.store.get(&key.0).await?;
        Ok(result.into_stream().map_err(Error::from).boxed())
    }

    /// Reads bytes `range` of an object (for Parquet footers and row groups).
    pub async fn get_range(&self, key: &ObjectKey, range: std::ops::Range<u64>) -> Result<Bytes> {
        Ok(self.store.get_range(&key.0, range).await?)
    }

    /// Size and modification time, or [`Error::ObjectNotFound`].
    pub async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo> {
        Ok(self.store.head(&key.0).await?.into())
    }

    /// Deletes an object; deleting a missing object is not an error.
    #[tracing::instrument(skip_all, fields(key = %key), err(level = "warn"))]
    pub async fn delete(&self, key: &ObjectKey) -> Result<()> {
        match self.store.delete(&key.0).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Every object under a prefix, in no particular order.
    pub async fn list(&self, prefix: &ObjectKey) -> Result<Vec<ObjectInfo>> {
        self.store
            .list(Some(&prefix.0))
            .map_ok(ObjectInfo::from)
            .map_err(Error::from)
            .try_collect()
            .await
    }

    /// Deletes every object under a prefix; returns how many were deleted.
    #[tracing::instrument(skip_all, fields(prefix = %prefix), err(level = "warn"))]
    pub async fn delete_prefix(&self, prefix: &ObjectKey) -> Result<usize> {
        let locations = self.store.list(Some(&prefix.0)).map_ok(|meta| meta.location).boxed();
        let deleted: Vec<StorePath> =
            self.store.delete_stream(locations).map_err(Error::from).try_collect().await?;
        Ok(deleted.len())
    }

    /// Checks that the store answers: listing a prefix that normally holds nothing must
    /// succeed. A listing (unlike a `HEAD`, whose 404 cannot tell a missing key from a missing
    /// bucket) proves the bucket exists and the credentials may read it.
    pub async fn ping(&self) -> Result<()> {
        let probe = StorePath::from("_variosync/readyz");
        match tokio::time::timeout(PING_TIMEOUT, self.store.list_with_delimiter(Some(&probe))).await
        {
            Err(_) => Err(Error::Timeout { what: "the object store", after: PING_TIMEOUT }),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(Error::ObjectStore(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        let user: WorkspaceId = "01936d5e-0000-7000-8000-000000000001".parse().unwrap();
        let dataset: DatasetId = "01936d5e-0000-7000-8000-000000000002".parse().unwrap();
        assert_eq!(
            ObjectKey::dataset_part(user, dataset, 3, 0).as_str(),
            "users/01936d5e-0000-7000-8000-000000000001/datasets/\
             01936d5e-0000-7000-8000-000000000002/v3/part-0.parquet"
        );
        let export: ExportId = "01936d5e-0000-7000-8000-000000000003".parse().unwrap();
        assert_eq!(
            ObjectKey::export_file(user, export).as_str(),
            "users/01936d5e-0000-7000-8000-000000000001/exports/\
             01936d5e-0000-7000-8000-000000000003"
        );
    }
}
