//! One writer per output: a lock file that makes a second process refuse an output folder
//! (or file) that another is still writing, instead of mixing their files.
//!
//! [`OutLock::folder`] creates `<dir>/.mammolab.lock` (and [`OutLock::file`]
//! `<file>.lock`) with `create_new`, holding the writer's process id; dropping the lock
//! removes it. A lock left by a process that no longer runs (killed with `kill -9`) is
//! taken over; on systems where that cannot be checked, the error names the file to
//! delete.
//!
//! [`write_atomic`] (and [`write_json`]) write a file whole under [`partial_path`] and then
//! rename it, so a killed writer never leaves half a file under the real name.

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

/// A held lock; released (the file removed) on drop.
#[derive(Debug)]
pub struct OutLock {
    path: PathBuf,
}

fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // Signal 0 checks the process exists; EPERM means it does (another user's).
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
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
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(|e| Error::io(&path, e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid != std::process::id() && !alive(pid) => {
                            // Left by a process that was killed: take it over.
                            let _ = std::fs::remove_file(&path);
                        }
                        Some(pid) => {
                            return Err(Error::Param {
                                name: "out",
                                message: format!(
                                    "{} is being written by another mammolab (process {pid}); wait for it, or choose another output (lock file {})",
                                    what.display(),
                                    path.display()
                                ),
                            })
                        }
                        // Killed between creating the file and writing its id.
                        None if std::fs::metadata(&path)
                            .and_then(|m| m.modified())
                            .ok()
                            .and_then(|t| t.elapsed().ok())
                            .is_some_and(|age| age.as_secs() > 10) =>
                        {
                            let _ = std::fs::remove_file(&path);
                        }
                        None => {
                            return Err(Error::data(
                                &path,
                                format!(
                                    "a lock file without a process id locks {}; delete it if no mammolab is writing there",
                                    what.display()
                                ),
                            ))
                        }
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::data(
            &path,
            "could not take over a stale lock file; delete it",
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
