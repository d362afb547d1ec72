//! The crate's one error type.
//!
//! Every variant renders as a single line that names the file (and where it applies the
//! sheet, row, column or tag) and says what is wrong, so the CLI can print it as is.

use std::path::PathBuf;

/// Everything that can go wrong in mammolab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A data manifest is malformed or disagrees with the files it names.
    #[error("manifest {manifest}: {message}")]
    Manifest {
        /// The manifest file.
        manifest: PathBuf,
        /// What is wrong, naming the key or file.
        message: String,
    },

    /// A file the manifest names has other content than its recorded checksum.
    #[error("manifest {manifest}: {file}: sha256 is {actual}, manifest says {expected}")]
    Checksum {
        /// The manifest file.
        manifest: PathBuf,
        /// The file whose checksum differs.
        file: PathBuf,
        /// The checksum in the manifest.
        expected: String,
        /// The checksum of the file on disk.
        actual: String,
    },

    /// An argument or parameter is out of range (checked before any work is done).
    #[error("invalid parameter {name}: {message}")]
    Param {
        /// The parameter.
        name: &'static str,
        /// Why it is invalid.
        message: String,
    },

    /// Writing a workbook failed.
    #[error("{path}: cannot write workbook: {message}")]
    WorkbookWrite {
        /// The workbook.
        path: PathBuf,
        /// The writer's message.
        message: String,
    },

    /// Writing a DICOM file failed.
    #[error("{path}: cannot write DICOM: {message}")]
    DicomWrite {
        /// The DICOM file.
        path: PathBuf,
        /// The writer's message.
        message: String,
    },

    /// Encoding an image file failed.
    #[error("{path}: cannot write image: {source}")]
    ImageWrite {
        /// The image file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },

    /// A DICOM file cannot be read or its pixels cannot be decoded.
    #[error("{path}: DICOM: {message}")]
    Dicom {
        /// The file.
        path: PathBuf,
        /// What is wrong (parser message, missing tag, unsupported transfer syntax).
        message: String,
    },

    /// A data file is readable but its content is wrong: a missing column, an empty or
    /// non-numeric cell (the message names the row and column).
    #[error("{file}: {message}")]
    Data {
        /// The file.
        file: PathBuf,
        /// What is wrong and where.
        message: String,
    },

    /// Inputs to a metric, split or chart are unusable: empty, lengths that differ, a NaN or
    /// infinite score, or one class only where two are needed.
    #[error("{what}: {message}")]
    Input {
        /// The function or metric that refused the input.
        what: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// Building or writing a table (polars) failed.
    #[error("{context}: {source}")]
    Table {
        /// What was being built or which file was written.
        context: String,
        /// What polars said.
        #[source]
        source: polars::error::PolarsError,
    },

    /// Drawing a chart failed.
    #[error("chart {chart}: {message}")]
    Plot {
        /// The chart.
        chart: &'static str,
        /// What the drawing backend said.
        message: String,
    },

    /// Serialising a JSON or TOML document failed.
    #[error("{path}: cannot serialise: {message}")]
    Serialise {
        /// The document being written.
        path: PathBuf,
        /// The serialiser's message.
        message: String,
    },
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl Error {
    /// An [`Error::Input`] for `what`.
    pub fn input(what: &'static str, message: impl Into<String>) -> Self {
        Error::Input {
            what,
            message: message.into(),
        }
    }

    /// An [`Error::Data`]: `file` is unusable, `message` says what and where.
    pub fn data(file: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Data {
            file: file.into(),
            message: message.to_string(),
        }
    }

    /// An [`Error::Table`] with `context`.
    pub fn table(context: impl Into<String>, source: polars::error::PolarsError) -> Self {
        Error::Table {
            context: context.into(),
            source,
        }
    }
}

/// Attach a path to `std::io` results.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

thread_local! {
    /// How many [`catch_panic`] calls are running on this thread.
    static CATCHING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Run `f`, a call into a third-party reader that may panic on a malformed file; `Err` with
/// the panic's message if it did. While it runs, [`catching_panic`] is true on this thread,
/// so a process's panic hook can stay quiet about a panic that becomes an error.
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    outcome.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "no message".into())
    })
}

/// True while a panic on this thread will be caught and reported as an error by the
/// library (see [`catch_panic`]): the CLI's panic hook prints nothing then, so a bad file
/// still gets its one line.
pub fn catching_panic() -> bool {
    CATCHING.with(|c| c.get() > 0)
}
