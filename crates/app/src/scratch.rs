//! Temporary files. Each process run works in a folder of its own under the data folder's
//! `tmp/`, `run-{id}`, and holds an exclusive lock on the file `run-{id}/.lock` for as long
//! as it lives. A run that ends cleanly removes its folder; one that was killed leaves it,
//! and the next sweep (at every start and then periodically, by any process sharing the
//! disk) removes every run folder whose lock no process holds: never a live run's files.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a long-running process sweeps what crashed runs left.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// Entries of `tmp/` that belong to no run (left by versions before run folders) are
/// removed once they are this old.
const LOOSE_AFTER: Duration = Duration::from_secs(60 * 60);

const RUN_PREFIX: &str = "run-";
const LOCK_FILE: &str = ".lock";

/// This process run's folder for temporary files; removed when dropped.
#[derive(Debug)]
pub struct RunFolder {
    path: PathBuf,
    /// Held open, and locked, for as long as the run lives.
    _lock: File,
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Folders of runs that are gone, and loose entries.
    pub entries: usize,
    /// Bytes of the files among them.
    pub bytes: u64,
}

impl RunFolder {
    /// Creates a new run folder under `tmp` (created if missing) and locks it. The folder
    /// is made under another name and renamed once locked, so no sweeper ever sees a run
    /// folder without its lock held.
    pub fn create(tmp: &Path) -> io::Result<Self> {
        let id = uuid::Uuid::now_v7();
        let making = tmp.join(format!("new-{id}"));
        std::fs::create_dir_all(&making)?;
        let lock = File::create(making.join(LOCK_FILE))?;
        lock.try_lock().map_err(|error| match error {
            std::fs::TryLockError::Error(error) => error,
            std::fs::TryLockError::WouldBlock => {
                io::Error::other(format!("{} is locked by another process", making.display()))
            }
        })?;
        let path = tmp.join(format!("{RUN_PREFIX}{id}"));
        std::fs::rename(&making, &path)?;
        Ok(Self { path, _lock: lock })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes, under `tmp`, the folders of runs that no live process holds, and loose entries
/// older than an hour. A missing `tmp` has nothing to sweep.
pub fn sweep(tmp: &Path) -> io::Result<Swept> {
    let mut swept = Swept::default();
    let entries = match std::fs::read_dir(tmp) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(swept),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let is_run = entry.file_name().to_str().is_some_and(|name| name.starts_with(RUN_PREFIX));
        let stale = if is_run && entry.file_type()?.is_dir() {
            !is_held(&path)?
        } else {
            let modified = entry.metadata()?.modified()?;
            modified.elapsed().is_ok_and(|age| age >= LOOSE_AFTER)
        };
        if !stale {
            continue;
        }
        let bytes = size(&path);
        let removed = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => {
                swept.entries += 1;
                swept.bytes += bytes;
            }
            // Another sweeper got there first.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(swept)
}

/// Whether a live process holds the run folder at `path` (one without its lock file is
/// broken: nobody holds it).
fn is_held(path: &Path) -> io::Result<bool> {
    let lock = match File::open(path.join(LOCK_FILE)) {
        Ok(lock) => lock,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    match lock.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// The bytes of the files under `path`.
fn size(path: &Path) -> u64 {
    let Ok(metadata) = std::fs::symlink_metadata(path) else { return 0 };
    if !metadata.is_dir() {
        return metadata.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|entry| size(&entry.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_removes_dead_runs_and_old_loose_files_and_never_a_live_run() {
        let tmp = tempfile::tempdir().unwrap();
        let live = RunFolder::create(tmp.path()).unwrap();
        assert!(live.path().file_name().unwrap().to_str().unwrap().starts_with(RUN_PREFIX));
        std::fs::write(live.path().join("upload-1"), b"still being written").unwrap();
        let fresh_loose = tmp.path().join("import-123");
        std::fs::write(&fresh_loose, b"x").unwrap();

        // Only live things: nothing is touched.
        assert_eq!(sweep(tmp.path()).unwrap(), Swept::default());
        assert!(live.path().join("upload-1").exists());
        assert!(fresh_loose.exists(), "a loose entry younger than an hour stays");

        // A killed run: its folder and lock file are there, but no process holds the lock.
        let dead = tmp.path().join(format!("{RUN_PREFIX}dead"));
        std::fs::create_dir_all(dead.join("job-7")).unwrap();
        File::create(dead.join(LOCK_FILE)).unwrap();
        std::fs::write(dead.join("job-7").join("part.parquet"), vec![0u8; 1000]).unwrap();
        let swept = sweep(tmp.path()).unwrap();
        assert_eq!(swept, Swept { entries: 1, bytes: 1000 });
        assert!(!dead.exists());
        assert!(live.path().join("upload-1").exists(), "the live run keeps its files");

        // Another process's lock is seen through its own open of the lock file.
        let other = RunFolder::create(tmp.path()).unwrap();
        assert_eq!(sweep(tmp.path()).unwrap(), Swept::default());
        assert!(other.path().exists());

        // A clean end removes the run's own folder.
        let live_path = live.path().to_path_buf();
        drop(live);
        assert!(!live_path.exists());
        assert!(sweep(tmp.path()).is_ok_and(|swept| swept.entries == 0));
    }
}
