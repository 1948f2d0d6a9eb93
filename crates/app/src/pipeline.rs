//! Importing a file as a new dataset: stream it into the canonical table, sort it by series
//! and time, resolve duplicates, profile it and write it as Parquet in a local working
//! folder (bounded memory whatever the size), then store the objects and record the dataset
//! and its first version. The objects are written first and the rows last, in one
//! transaction; if anything fails after the objects are written, they are deleted again,
//! so a failure leaves neither rows nor objects behind.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::Principal;
use variosync_domain::DatasetId;
use variosync_engine::convert::{self, ConvertError};
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_engine::profile::Profile;
use variosync_formats::delimited::{self, ReadOptions};
use variosync_formats::mapping::Proposal;
use variosync_formats::source::{self, Detected, Input, Source};
use variosync_formats::table::Reject;
use variosync_store::{Backends, Dataset, NewVersion, ObjectKey, Version};

/// Rejects kept in memory to report; all of them go to the rejects file.
pub const REPORTED_REJECTS: usize = 100;

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// The new dataset.
    pub dataset: Dataset,
    /// Its first version.
    pub version: Version,
    /// The profile of the version.
    pub profile: Profile,
    /// The first rows set aside (lenient mode); `profile.rejects` counts them all.
    pub rejects: Vec<Reject>,
    /// Things the person should check.
    pub warnings: Vec<String>,
    /// Why the file was read as it was, where its content decided.
    pub notes: Vec<String>,
    /// Rows dropped because they repeated a series and time.
    pub duplicates: u64,
    /// Where the rejects file is stored, if any row was set aside.
    pub rejects_key: Option<ObjectKey>,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read, sorted or written.
    #[error(transparent)]
    Convert(#[from] ConvertError<delimited::ReadError>),
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] delimited::ReadError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] variosync_store::Error),
    /// Many rows repeat a series and time with other values: the file was likely misread.
    #[error("{0}")]
    Misread(String),
    /// Every row was rejected.
    #[error("no row of the file could be read; {0} rows were set aside as unreadable")]
    NothingRead(u64),
    /// The local working folder failed.
    #[error("the working folder failed: {0}")]
    Io(#[from] std::io::Error),
    /// The conversion thread stopped unexpectedly.
    #[error("the conversion stopped unexpectedly")]
    Interrupted,
}

/// A file converted to one sorted, deduplicated, profiled Parquet file.
#[derive(Debug)]
pub struct Converted {
    /// The profile of the written rows.
    pub profile: Profile,
    /// How the file was read.
    pub mapping: Proposal,
    /// What the file was recognised as.
    pub detected: Detected,
    /// Things the person should check.
    pub warnings: Vec<String>,
    /// The first rows set aside (all of them are in the rejects file).
    pub rejects: Vec<Reject>,
    /// The rejects file (CSV: line, column, value, expected), if any row was set aside.
    pub rejects_file: Option<PathBuf>,
    /// The overview files beside the Parquet file.
    pub overviews: Vec<PathBuf>,
    /// CPU time of the reader's own threads, in microseconds.
    pub thread_cpu_micros: u64,
}

/// Reads rows from a reader, writing every reject to a CSV file as they come.
struct Spooled<'a> {
    reader: &'a mut Source,
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    kept: Vec<Reject>,
    count: u64,
    error: Option<std::io::Error>,
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

impl Spooled<'_> {
    fn spool(&mut self) -> std::io::Result<()> {
        for reject in self.reader.drain_rejects() {
            self.count += 1;
            let file = match &mut self.file {
                Some(file) => file,
                None => {
                    let mut file = std::io::BufWriter::new(std::fs::File::create(&self.path)?);
                    writeln!(file, "line,column,value,expected")?;
                    self.file.insert(file)
                }
            };
            writeln!(
                file,
                "{},{},{},{}",
                reject.line,
                csv_field(&reject.column),
                csv_field(&reject.value),
                csv_field(&reject.expected)
            )?;
            if self.kept.len() < REPORTED_REJECTS {
                self.kept.push(reject);
            }
        }
        Ok(())
    }
}

impl Iterator for Spooled<'_> {
    type Item = Result<arrow_array::RecordBatch, delimited::ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.reader.next();
        if let Err(error) = self.spool() {
            self.error = Some(error);
            return None;
        }
        next
    }
}

/// Converts a delimited stream into a Parquet file at `out`, using `work` for temporary
/// files (and the rejects file).
pub fn convert_stream(
    input: Input,
    options: &ReadOptions,
    policy: DuplicatePolicy,
    out: &Path,
    work: &Path,
) -> Result<Converted, ImportError> {
    let (mut reader, detected) = source::open_input(input, options)?;
    let schema = reader.schema();
    let mut spooled = Spooled {
        reader: &mut reader,
        path: work.join("rejects.csv"),
        file: None,
        kept: Vec::new(),
        count: 0,
        error: None,
    };
    let result = convert::convert(&mut spooled, schema, out, work, policy);
    if let Some(error) = spooled.error.take() {
        return Err(error.into());
    }
    if let Some(mut file) = spooled.file.take() {
        file.flush()?;
    }
    let (kept, count, path) = (spooled.kept, spooled.count, spooled.path);
    let (mapping, warnings) = (reader.mapping().clone(), reader.warnings());
    let names = reader.names().to_vec();
    let thread_cpu = reader.thread_cpu();
    // Dropping the reader joins its threads: their CPU time is final after it.
    drop(reader);
    let thread_cpu_micros = thread_cpu.load(std::sync::atomic::Ordering::Relaxed);
    let mut converted = match result {
        Ok(converted) => converted,
        Err(ConvertError::Empty) if count > 0 => return Err(ImportError::NothingRead(count)),
        Err(ConvertError::Duplicates(
            repeats @ variosync_engine::duplicates::DuplicateError::Conflicting { .. },
        )) => {
            return Err(ImportError::Misread(format!(
                "{repeats}. The file was most likely misread: {}. To keep the last row of each \
                 series and time anyway, choose duplicates keep_last",
                mapping.repeat_hint(&names)
            )));
        }
        Err(error) => return Err(error.into()),
    };
    converted.profile.rejects = count;
    Ok(Converted {
        profile: converted.profile,
        mapping,
        detected,
        warnings,
        rejects: kept,
        rejects_file: (count > 0).then_some(path),
        overviews: converted.overviews,
        thread_cpu_micros,
    })
}

/// A working folder, removed with everything in it when dropped.
struct WorkFolder(PathBuf);

impl Drop for WorkFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Imports a delimited stream as a new dataset called `name` made by `owner` in its
/// workspace, resolving rows
/// that repeat a series and time by `policy`; temporary files go under `scratch`.
pub async fn import_stream(
    backends: &Backends,
    owner: &Principal,
    name: &str,
    input: Input,
    options: &ReadOptions,
    policy: DuplicatePolicy,
    scratch: &Path,
) -> Result<Imported, ImportError> {
    let request = ImportRequest { name, input, options, policy };
    import_metered(backends, owner, request, scratch, &Meter::default()).await
}

/// What to import.
#[derive(Debug)]
pub struct ImportRequest<'a> {
    /// The dataset's name.
    pub name: &'a str,
    /// The file.
    pub input: Input,
    /// How to read it.
    pub options: &'a ReadOptions,
    /// What to do with rows that repeat a series and time.
    pub policy: DuplicatePolicy,
}

/// What an import reports as it goes.
#[derive(Clone, Default)]
pub struct Meter {
    /// Hears the bytes read (text read from a file on disk).
    pub progress: Option<Progress>,
    /// Counts the CPU time of the conversion, in microseconds, on every thread it uses.
    pub cpu_micros: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// Stops the reading of a text file on disk when it says so (the error is [`STOPPED`]).
    pub stop: Option<Stop>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter").finish_non_exhaustive()
    }
}

/// Imports `request` as a new dataset made by `owner` in its workspace, reporting to `meter`.
pub async fn import_metered(
    backends: &Backends,
    owner: &Principal,
    request: ImportRequest<'_>,
    scratch: &Path,
    meter: &Meter,
) -> Result<Imported, ImportError> {
    let ImportRequest { name, input, options, policy } = request;
    let id = DatasetId::new();
    let work = WorkFolder(scratch.join(format!("import-{id}")));
    std::fs::create_dir_all(&work.0)?;
    let out = work.0.join("part-0.parquet");
    let converted = {
        let (options, out, folder) = (options.clone(), out.clone(), work.0.clone());
        let meter = meter.clone();
        tokio::task::spawn_blocking(move || {
            let started = cpu_time::ThreadTime::now();
            let input = reporting(input, meter.progress, meter.stop)?;
            let converted = convert_stream(input, &options, policy, &out, &folder);
            if let Some(cpu) = &meter.cpu_micros {
                // A failed conversion is charged for this thread's time only: the reader's
                // threads report theirs with a finished conversion.
                let own = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                let threads = converted.as_ref().map_or(0, |c| c.thread_cpu_micros);
                cpu.fetch_add(own.saturating_add(threads), std::sync::atomic::Ordering::Relaxed);
            }
            converted
        })
        .await
        .map_err(|_| ImportError::Interrupted)??
    };
    let profile = converted.profile.clone();

    let part = ObjectKey::dataset_part(owner.workspace, id, 1, 0);
    let rejects_key =
        converted.rejects_file.as_ref().map(|_| ObjectKey::dataset_rejects(owner.workspace, id, 1));
    let stored =
        store(backends, owner, id, name, &part, &out, &converted, rejects_key.as_ref()).await;
    match stored {
        Ok((dataset, version)) => Ok(Imported {
            dataset,
            version,
            duplicates: profile.duplicates,
            profile,
            rejects: converted.rejects,
            warnings: converted.warnings,
            notes: converted.mapping.notes.clone(),
            rejects_key,
        }),
        Err(error) => {
            // The rows were not written: take the objects back so nothing is left half-done.
            let prefix = ObjectKey::dataset_version_prefix(owner.workspace, id, 1);
            if let Err(cleanup) = backends.objects.delete_prefix(&prefix).await {
                tracing::error!(error = %variosync_domain::error_chain(&cleanup), "cannot delete the objects of a failed import");
            }
            Err(error.into())
        }
    }
}

/// Stores the objects, then records the dataset and its first version.
#[allow(clippy::too_many_arguments)]
async fn store(
    backends: &Backends,
    owner: &Principal,
    id: DatasetId,
    name: &str,
    part: &ObjectKey,
    out: &Path,
    converted: &Converted,
    rejects_key: Option<&ObjectKey>,
) -> Result<(Dataset, Version), variosync_store::Error> {
    let mut bytes = backends.objects.put_file(part, out).await?;
    for (size, path) in variosync_engine::overview::LEVELS.iter().zip(&converted.overviews) {
        let key = ObjectKey::dataset_part_overview(owner.workspace, id, 1, 0, *size);
        bytes += backends.objects.put_file(&key, path).await?;
    }
    if let (Some(key), Some(path)) = (rejects_key, &converted.rejects_file) {
        backends.objects.put_file(key, path).await?;
    }
    let profile = &converted.profile;
    let micros = |at: Option<i64>| at.and_then(chrono::DateTime::from_timestamp_micros);
    let version = NewVersion {
        operation: "import".to_owned(),
        parts: 1,
        row_count: profile.rows,
        bytes,
        time_from: micros(profile.from),
        time_to: micros(profile.to),
        series: profile.series.iter().map(|s| s.name.clone()).collect(),
        profile: profile.clone(),
    };
    backends.datasets().create(owner.access(), owner.workspace, id, name, &[], &version).await
}

/// Reports how many bytes of a file were read so far.
pub type Progress = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// A file that reports its reading.
struct Reporting {
    file: std::fs::File,
    read: u64,
    progress: Progress,
    stop: Option<Stop>,
}

/// Says whether the work should stop (its job was cancelled).
pub type Stop = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

/// The message of the error that stops a read when its job is cancelled.
pub const STOPPED: &str = "the import was cancelled";

impl std::io::Read for Reporting {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.as_ref().is_some_and(|stop| stop()) {
            return Err(std::io::Error::other(STOPPED));
        }
        let n = self.file.read(buffer)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}

/// `input`, reporting the bytes read to `progress` and stopping when `stop` says so, when
/// it is a text file on disk (columnar files are read out of order, from the file itself).
fn reporting(
    input: Input,
    progress: Option<Progress>,
    stop: Option<Stop>,
) -> std::io::Result<Input> {
    let (Input::Path(path), Some(progress)) = (&input, progress) else {
        return Ok(input);
    };
    let mut head = [0u8; 8];
    let read = std::io::Read::read(&mut std::fs::File::open(path)?, &mut head)?;
    if variosync_formats::columnar::sniff(&head[..read]).is_some() {
        return Ok(input);
    }
    let file = std::fs::File::open(path)?;
    Ok(Input::Stream(Box::new(Reporting { file, read: 0, progress, stop })))
}

/// Converts the file at `input` into a Parquet file at `output`, which appears only when
/// it is complete; temporary files go beside `output`. `progress` hears the bytes read
/// (text formats; columnar files are read out of order).
pub fn convert_file(
    input: &Path,
    output: &Path,
    options: &ReadOptions,
    policy: DuplicatePolicy,
    progress: Option<Progress>,
) -> Result<Converted, ImportError> {
    let source = reporting(Input::Path(input.to_owned()), progress, None)?;
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let work = WorkFolder(parent.join(format!(".variosync-convert-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&work.0)?;
    let partial = work.0.join("out.parquet");
    let mut converted = convert_stream(source, options, policy, &partial, &work.0)?;
    std::fs::rename(&partial, output)?;
    // The overviews follow the file, named after it, so queries find them beside it.
    for (size, overview) in variosync_engine::overview::LEVELS.iter().zip(&mut converted.overviews)
    {
        let kept = variosync_engine::overview::path_for(output, *size);
        std::fs::rename(&*overview, &kept)?;
        *overview = kept;
    }
    // The rejects file goes beside the output, named after it.
    if let Some(rejects) = converted.rejects_file.take() {
        let kept = output.with_extension("rejects.csv");
        std::fs::rename(&rejects, &kept)?;
        converted.rejects_file = Some(kept);
    }
    Ok(converted)
}

/// Imports a delimited file held in memory (small files and tests).
pub async fn import_bytes(
    backends: &Backends,
    owner: &Principal,
    name: &str,
    bytes: &[u8],
    options: &ReadOptions,
    policy: DuplicatePolicy,
) -> Result<Imported, ImportError> {
    let input = Input::Stream(Box::new(std::io::Cursor::new(bytes.to_vec())));
    let scratch = std::env::temp_dir();
    import_stream(backends, owner, name, input, options, policy, &scratch).await
}
