//! Workbooks and Avro files are decoded by third-party libraries that hostile input has
//! driven to exhaust memory (a workbook's sheet made dense across far-apart cells) and to
//! loop forever (an Avro block that declares fewer records than it holds). Neither can be
//! stopped from inside the process, so where the program allows it they are decoded in a
//! child process: the same executable, started with [`CHILD_COMMAND`], with a limit on its
//! address space and on the CPU time it may spend without handing on rows. The child reads
//! the file on its stdin and writes Arrow IPC on its stdout; whatever stops it becomes a
//! refusal that says why, and the parent is untouched.
//!
//! A program that embeds this crate opts in with [`isolate_with`] and answers
//! [`CHILD_COMMAND`] with [`child_main`]; without it, files are decoded in-process.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use arrow_array::{RecordBatch, UInt64Array};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, DataType, Field, Schema};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::delimited::ReadError;
use crate::mapping::MappingError;

/// The first argument that makes the program a decoding child.
pub const CHILD_COMMAND: &str = "__decode-untrusted";
/// CPU time a child may spend without handing on a batch of rows (a workbook gets one more
/// second per MiB, since it is read whole before its first row).
pub const CPU_SECONDS_WITHOUT_ROWS: u64 = 20;
/// Address space a child decoding Avro may use.
pub const AVRO_MEMORY_BYTES: u64 = 2 << 30;
/// Address space a child decoding a workbook may use: this much, plus
/// [`WORKBOOK_MEMORY_PER_BYTE`] per byte of the file.
pub const WORKBOOK_MEMORY_BYTES: u64 = 1 << 30;
/// See [`WORKBOOK_MEMORY_BYTES`].
pub const WORKBOOK_MEMORY_PER_BYTE: u64 = 16;
/// Exit status of a child that refused the file; its reason is the last line of stderr.
const EXIT_REFUSED: i32 = 3;
/// Schema metadata key for a workbook's warnings (a JSON array of strings).
const WARNINGS_KEY: &str = "variosync.warnings";
/// The most of a child's stderr kept for messages.
const STDERR_KEPT: u64 = 64 * 1024;

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Decodes workbooks and Avro files in children running `program`, which must call
/// [`child_main`] when started with [`CHILD_COMMAND`]. Only the first call counts.
pub fn isolate_with(program: PathBuf) {
    // A second call names the same program, or comes too late to matter.
    let _ = PROGRAM.set(program);
}

/// The program children run, where isolation is on.
pub(crate) fn program() -> Option<&'static Path> {
    PROGRAM.get().map(PathBuf::as_path)
}

/// What a child decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    /// A workbook's sheet, as text cells with their sheet row numbers.
    Workbook,
    /// An Avro object container file.
    Avro,
}

impl Decode {
    fn word(self) -> &'static str {
        match self {
            Self::Workbook => "workbook",
            Self::Avro => "avro",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Workbook => "the workbook",
            Self::Avro => "the Avro file",
        }
    }
}

/// Why a child refused its file, as written on the last line of its stderr.
#[derive(serde::Serialize, serde::Deserialize)]
struct Refusal {
    /// Whether the refusal is about the person's mapping (a sheet that does not exist).
    mapping: bool,
    message: String,
}

/// A running child and the threads feeding it and listening to it.
struct Running {
    decode: Decode,
    child: Child,
    feeder: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    fn start(
        program: &Path,
        decode: Decode,
        sheet: Option<&str>,
        mut input: Box<dyn Read + Send>,
    ) -> Result<(Self, ChildStdout), ReadError> {
        let mut command = Command::new(program);
        command.arg(CHILD_COMMAND).arg(decode.word());
        if let Some(sheet) = sheet {
            command.arg(sheet);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                ReadError::Io(std::io::Error::other(format!(
                    "starting the decoder for {} failed: {e}",
                    decode.what()
                )))
            })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ReadError::Io(std::io::Error::other("the decoder has no pipes")));
        };
        // The child stops reading when it refuses the file or is stopped; the broken pipe
        // that follows says nothing more than its exit status will.
        let feeder = std::thread::spawn(move || {
            let _ = std::io::copy(&mut input, &mut stdin);
        });
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut stderr = stderr;
            let _ = (&mut stderr).take(STDERR_KEPT).read_to_end(&mut kept);
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            kept
        });
        let running = Self { decode, child, feeder: Some(feeder), stderr: Some(stderr) };
        Ok((running, stdout))
    }

    /// Waits for the child to end; `Ok` when it ended well.
    fn finish(&mut self) -> Result<(), ReadError> {
        let status = self.child.wait()?;
        if let Some(feeder) = self.feeder.take() {
            let _ = feeder.join();
        }
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(self.refusal(status, &String::from_utf8_lossy(&stderr)))
    }

    /// What a child's end says about the file.
    fn refusal(&self, status: ExitStatus, stderr: &str) -> ReadError {
        let what = self.decode.what();
        if status.code() == Some(EXIT_REFUSED)
            && let Some(refusal) =
                stderr.lines().last().and_then(|l| serde_json::from_str::<Refusal>(l).ok())
        {
            return if refusal.mapping {
                MappingError::Invalid(refusal.message).into()
            } else {
                ReadError::Unsupported(refusal.message)
            };
        }
        let message = if stderr.contains("memory allocation of")
            || stderr.contains("capacity overflow")
        {
            match self.decode {
                Decode::Workbook => format!(
                    "{what} cannot be read: decoding it needs more memory than allowed ({} MiB plus {WORKBOOK_MEMORY_PER_BYTE} times the file's size), because a sheet spans cells far apart and the decoder lays out every cell between them, or the file is damaged; save the sheet as CSV and upload that",
                    WORKBOOK_MEMORY_BYTES >> 20
                ),
                Decode::Avro => format!(
                    "{what} cannot be read: decoding it needs more than {} MiB of memory; the file is damaged, or its blocks are too large (write it with smaller blocks)",
                    AVRO_MEMORY_BYTES >> 20
                ),
            }
        } else if status.signal() == Some(rustix::process::Signal::XCPU.as_raw()) {
            format!(
                "{what} cannot be read: its decoder worked for {CPU_SECONDS_WITHOUT_ROWS} s of CPU without producing rows, so it was stopped; the file is damaged (for example an Avro block that declares fewer records than it holds)"
            )
        } else {
            let said = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
            let said = said.strip_prefix("thread 'main' panicked at ").unwrap_or(said);
            format!(
                "{what} cannot be read: its decoder failed ({status}){}; the file is damaged or uses a feature that cannot be read",
                if said.is_empty() { String::new() } else { format!(": {said}") }
            )
        };
        ReadError::Unsupported(message)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A reader dropped early (a preview that wanted the first rows) stops its child.
        if self.feeder.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Some(feeder) = self.feeder.take() {
                let _ = feeder.join();
            }
            if let Some(stderr) = self.stderr.take() {
                let _ = stderr.join();
            }
        }
    }
}

/// The batches a child writes, ending with the child's own verdict.
pub(crate) struct ChildBatches {
    running: Running,
    stream: Option<StreamReader<BufReader<ChildStdout>>>,
}

impl ChildBatches {
    /// Starts a child decoding `input` as `decode`, and reads its schema.
    fn start(
        program: &Path,
        decode: Decode,
        sheet: Option<&str>,
        input: Box<dyn Read + Send>,
    ) -> Result<Self, ReadError> {
        let (mut running, stdout) = Running::start(program, decode, sheet, input)?;
        match StreamReader::try_new(BufReader::new(stdout), None) {
            Ok(stream) => Ok(Self { running, stream: Some(stream) }),
            Err(error) => {
                running.finish()?;
                Err(ReadError::Unsupported(format!(
                    "{} cannot be read: its decoder answered nothing readable ({error})",
                    decode.what()
                )))
            }
        }
    }

    fn schema(&self) -> Arc<Schema> {
        self.stream.as_ref().map_or_else(|| Arc::new(Schema::empty()), StreamReader::schema)
    }
}

impl Iterator for ChildBatches {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        match stream.next() {
            Some(Ok(batch)) => Some(Ok(batch)),
            end => {
                self.stream = None;
                // The child's verdict comes first: a stream cut short by a refusal is that
                // refusal.
                match (self.running.finish(), end) {
                    (Err(refusal), _) => Some(Err(ArrowError::ExternalError(Box::new(refusal)))),
                    (Ok(()), Some(Err(error))) => Some(Err(error)),
                    (Ok(()), _) => None,
                }
            }
        }
    }
}

/// Decodes the Avro file in `input` in a child.
pub(crate) fn avro(program: &Path, input: Box<dyn Read + Send>) -> Result<ChildBatches, ReadError> {
    ChildBatches::start(program, Decode::Avro, None, input)
}

/// Decodes the sheet `sheet` names (or the first) of the workbook in `input` in a child.
pub(crate) fn workbook(
    program: &Path,
    input: Box<dyn Read + Send>,
    sheet: Option<&str>,
) -> Result<crate::workbook::Sheet, ReadError> {
    let mut batches = ChildBatches::start(program, Decode::Workbook, sheet, input)?;
    let schema = batches.schema();
    let warnings = schema
        .metadata()
        .get(WARNINGS_KEY)
        .and_then(|w| serde_json::from_str::<Vec<String>>(w).ok())
        .unwrap_or_default();
    let cells = schema.fields().len().saturating_sub(1);
    let columns = Schema::new(schema.fields()[..cells].to_vec());
    let mut sheet = crate::workbook::Sheet {
        schema: Arc::new(columns),
        batches: Vec::new(),
        line_numbers: Vec::new(),
        warnings,
    };
    for batch in &mut batches {
        let batch = batch.map_err(crate::columnar::batch_error)?;
        let lines =
            batch.column(cells).as_any().downcast_ref::<UInt64Array>().ok_or_else(|| {
                ReadError::Unsupported("the workbook's decoder answered badly".into())
            })?;
        sheet.line_numbers.extend(lines.values().iter().map(|&l| l as usize));
        let cells = batch.project(&(0..cells).collect::<Vec<_>>()).map_err(unreadable)?;
        sheet.batches.push(cells);
    }
    Ok(sheet)
}

fn unreadable(error: ArrowError) -> ReadError {
    ReadError::Unsupported(format!("the file cannot be read: {error}"))
}

/// Lowers the soft limit on `resource` to `limit`, within the hard limit.
fn lower_limit(resource: Resource, limit: u64) {
    let old = getrlimit(resource);
    let limit = old.maximum.map_or(limit, |max| limit.min(max));
    // Without the limit the child is as safe as an in-process decoder; a refusal to lower
    // it is not a reason to refuse the file.
    let _ = setrlimit(resource, Rlimit { current: Some(limit), maximum: old.maximum });
}

/// Lets the child spend [`CPU_SECONDS_WITHOUT_ROWS`] (plus `extra`) more seconds of CPU.
fn allow_cpu(extra: u64) {
    let used = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let used = u64::try_from(used.tv_sec).unwrap_or(0);
    lower_limit(Resource::Cpu, used + CPU_SECONDS_WITHOUT_ROWS + extra);
}

/// Refuses the file and ends the child.
fn refuse(error: &ReadError) -> ! {
    let mapping = matches!(error, ReadError::Mapping(_));
    let refusal = Refusal { mapping, message: error.to_string() };
    let line = serde_json::to_string(&refusal).unwrap_or_default();
    let _ = writeln!(std::io::stderr(), "{line}");
    std::process::exit(EXIT_REFUSED)
}

/// The child's side: `args` are those after [`CHILD_COMMAND`]. Reads the file on stdin,
/// writes Arrow IPC on stdout, and exits.
pub fn child_main(args: &[String]) -> ! {
    let Some(decode) = args.first() else {
        let _ = writeln!(std::io::stderr(), "usage: {CHILD_COMMAND} workbook|avro [SHEET]");
        std::process::exit(2);
    };
    let stdout = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let written = match decode.as_str() {
        "workbook" => child_workbook(args.get(1).map(String::as_str), stdout),
        "avro" => child_avro(stdout),
        other => Err(ReadError::Unsupported(format!("no decoder called {other:?}"))),
    };
    match written {
        Ok(()) => std::process::exit(0),
        Err(error) => refuse(&error),
    }
}

fn child_workbook(sheet: Option<&str>, stdout: impl Write) -> Result<(), ReadError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(crate::workbook::MAX_WORKBOOK_BYTES + 1)
        .read_to_end(&mut bytes)?;
    let size = bytes.len() as u64;
    lower_limit(Resource::As, WORKBOOK_MEMORY_BYTES + WORKBOOK_MEMORY_PER_BYTE * size);
    allow_cpu(size >> 20);
    let decoded = crate::workbook::read_sheet(bytes, sheet)?;
    let mut fields: Vec<Field> =
        decoded.schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("line", DataType::UInt64, false));
    let warnings = serde_json::to_string(&decoded.warnings).unwrap_or_default();
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        HashMap::from([(WARNINGS_KEY.to_owned(), warnings)]),
    ));
    let mut writer = StreamWriter::try_new(stdout, &schema).map_err(unreadable)?;
    let mut lines = decoded.line_numbers.iter().map(|&l| l as u64);
    for batch in decoded.batches {
        let numbers: UInt64Array = lines.by_ref().take(batch.num_rows()).collect();
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(numbers));
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(unreadable)?;
        writer.write(&batch).map_err(unreadable)?;
    }
    writer.finish().map_err(unreadable)
}

fn child_avro(stdout: impl Write) -> Result<(), ReadError> {
    lower_limit(Resource::As, AVRO_MEMORY_BYTES);
    allow_cpu(0);
    let stdin: Box<dyn Read + Send> = Box::new(std::io::stdin());
    let mut batches = crate::columnar::avro_batches(stdin)?;
    let schema = batches.schema();
    let mut writer = StreamWriter::try_new(stdout, &schema).map_err(unreadable)?;
    for batch in &mut batches {
        writer.write(&batch.map_err(unreadable)?).map_err(unreadable)?;
        writer.flush().map_err(unreadable)?;
        allow_cpu(0);
    }
    writer.finish().map_err(unreadable)
}
