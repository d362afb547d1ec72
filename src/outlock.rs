//! One writer per output: a lock file that makes a second process refuse an output folder
//! (or file) that another is still writing, instead of mixing their files.
//!
//! [`OutLock::folder`] takes an exclusive advisory lock (`flock` on Unix, `LockFileEx` on
//! Windows, through std's [`File::try_lock`]) on `<dir>/.mammolab.lock` (and [`OutLock::file`]
//! on `<file>.lock`) and writes the holder's process id into it for the error a second
//! writer gets; dropping the lock removes the file. The operating system releases the lock
//! when its process ends however it ends, so a lock file left by a process killed with
//! `kill -9` is simply taken by the next writer: no process-id probing, no staleness guess.
//!
//! `write_atomic` (and `write_json`) write a file whole under `partial_path` and then
//! rename it, so a killed writer never leaves half a file under the real name.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `<path>.partial`: where a file is written before it is renamed into place.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    PathBuf::from(tmp)
}

/// Write `bytes` to `path` whole: under [`partial_path`], then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = partial_path(path);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// `value` as pretty-printed JSON, written with [`write_atomic`].
pub(crate) fn write_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Serialise {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, text.as_bytes())
}

/// Name of the lock file inside a locked folder.
pub const LOCK_NAME: &str = ".mammolab.lock";

/// A held lock; released (the file removed, then the lock dropped) on drop.
#[derive(Debug)]
pub struct OutLock {
    path: PathBuf,
    // Holds the advisory lock while it is open; declared after `path` and closed after
    // `Drop::drop` has removed the file.
    _file: File,
}

/// Whether the open `file` is still the file at `path` (a holder that finished removes
/// the file; a writer that opened it before then must open the new one).
fn still_at(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

impl OutLock {
    /// Lock folder `dir` (created if needed) for writing.
    pub fn folder(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Self::at(dir.join(LOCK_NAME), dir)
    }

    /// Lock output file `file` (its folder created if needed) for writing.
    pub fn file(file: &Path) -> Result<Self> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut p = file.as_os_str().to_owned();
        p.push(".lock");
        Self::at(PathBuf::from(p), file)
    }

    fn at(path: PathBuf, what: &Path) -> Result<Self> {
        let io = |e| Error::io(&path, e);
        // Each try that loses a race with a finishing holder (it removed the file we
        // opened) opens the file again; three races in a row are not a real workload.
        for _ in 0..3 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) if still_at(&file, &path) => {
                    file.set_len(0).map_err(io)?;
                    writeln!(file, "{}", std::process::id()).map_err(io)?;
                    return Ok(Self { path, _file: file });
                }
                Ok(()) => continue,
                Err(TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok())
                        .map_or_else(|| "process unknown".to_string(), |p| format!("process {p}"));
                    return Err(Error::Param {
                        name: "out",
                        message: format!(
                            "{} is being written by another mammolab ({holder}); wait for it, or choose another output (lock file {})",
                            what.display(),
                            path.display()
                        ),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        Err(Error::data(
            &path,
            "the lock file was replaced three times while it was being taken; try again",
        ))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
