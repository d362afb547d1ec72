//! What the fuzzers feed: one function per reader that takes arbitrary bytes, reads them as
//! a file of that kind would be read, and goes on through the values a user would compute
//! next. Each must return, whatever the bytes: an error is fine, a panic, a hang or an
//! allocation beyond [`LIMITS`] is a bug.
//!
//! Two callers share these functions, so that a crash found once stays fixed:
//! - the `cargo fuzz` targets in `fuzz/` (libFuzzer, nightly; `scripts/fuzz.sh` runs each
//!   for a bounded time, seeded from pydicom's test files, readxl's workbooks, the manifests
//!   in `data-manifests/` and a score table);
//! - the integration test `fuzz`, which replays every input kept in
//!   `tests/data/fuzz/<target>/` (the seeds of the smoke run and each crash ever found) on
//!   the stable toolchain, in CI.
//!
//! The readers take paths, so each input is written to a scratch file first (one per
//! process and thread, in the temporary folder); its extension is the format's.
//!
//! ```
//! use mammolab::fuzz::Target;
//!
//! // Not a DICOM file: an error, not a panic.
//! Target::Dicom.run(b"DICM but not really");
//! assert_eq!(Target::from_name("sheet"), Some(Target::Sheet));
//! ```

use std::path::PathBuf;

use crate::dataset::Preprocess;
use crate::eval::{BinarySummary, MulticlassSummary};
use crate::ingest::dicom::{read_header, read_image};
use crate::ingest::limits::Limits;
use crate::ingest::sheets::{read_workbook, SheetOptions};
use crate::ingest::{ClassScoreTable, ScoreTable};
use crate::manifest::Manifest;

/// One fuzzed reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A DICOM file: header, frame 0's stored values, the display image and the model
    /// input a [`Preprocess`] recipe makes of it.
    Dicom,
    /// A workbook: the first byte picks `.xlsx`, `.xls`, `.xlsb`, `.csv`, `.txt` (mini-MIAS's
    /// whitespace table) or `.ods` by its value modulo 6; every sheet is read, summarised
    /// and made a DataFrame.
    Sheet,
    /// A data manifest (TOML), and the positive class it names.
    Manifest,
    /// A score table (CSV) as `mammolab metrics` reads it: binary (`label`, `score`), or
    /// three classes when the first byte is odd, then its summary.
    Scores,
}

/// The limits every target runs under (64 MiB per part, element or image; 2^22 samples per
/// frame): small enough that libFuzzer's 2 GiB memory ceiling is never reached by an input
/// the readers accept.
pub const LIMITS: Limits = Limits {
    max_bytes: 64 << 20,
    max_pixels: 1 << 22,
};

/// What a fuzz target does before each input: install [`LIMITS`], and (once) let the panics
/// the library catches itself ([`crate::error::catch_panic`]: a third-party reader failing
/// on a malformed file) unwind to it instead of meeting libFuzzer's panic hook, which aborts
/// the process before anything can catch them. Any other panic still reaches that hook.
pub fn prepare() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let fuzzer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !crate::error::catching_panic() {
                fuzzer(info)
            }
        }));
    });
    LIMITS.install();
}

impl Target {
    /// Every target, in the order `scripts/fuzz.sh` runs them.
    pub const ALL: [Target; 4] = [
        Target::Dicom,
        Target::Sheet,
        Target::Manifest,
        Target::Scores,
    ];

    /// The name of the target's `cargo fuzz` binary and regression folder.
    pub fn name(self) -> &'static str {
        match self {
            Target::Dicom => "dicom",
            Target::Sheet => "sheet",
            Target::Manifest => "manifest",
            Target::Scores => "scores",
        }
    }

    /// The target named `name` ([`Target::name`]).
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Read `data` as this target's kind of file, under the limits installed now (the fuzz
    /// targets call [`prepare`] first). Errors are expected and dropped; only a panic (or
    /// a hang, or memory beyond the limits) is a finding.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::Dicom => dicom(data),
            Target::Sheet => sheet(data),
            Target::Manifest => manifest(data),
            Target::Scores => scores(data),
        }
    }
}

/// The scratch file of this process and thread, with extension `ext`, holding `data`.
fn scratch(data: &[u8], ext: &str) -> Option<PathBuf> {
    let thread = format!("{:?}", std::thread::current().id());
    let tag: String = thread.chars().filter(char::is_ascii_digit).collect();
    let path =
        std::env::temp_dir().join(format!("mammolab-fuzz-{}-{tag}.{ext}", std::process::id()));
    std::fs::write(&path, data).ok()?;
    Some(path)
}

fn dicom(data: &[u8]) {
    let Some(path) = scratch(data, "dcm") else {
        return;
    };
    let _ = read_header(&path);
    let Ok(image) = read_image(&path, 0) else {
        return;
    };
    let _ = image.stored_min_max();
    if let Ok(display) = image.display() {
        let _ = Preprocess::new(32, 32).with_crop(0.1).apply(&display, true);
    }
}

fn sheet(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let ext = ["xlsx", "xls", "xlsb", "csv", "txt", "ods"][usize::from(first % 6)];
    let Some(path) = scratch(rest, ext) else {
        return;
    };
    if let Ok(workbook) = read_workbook(&path, &SheetOptions::default()) {
        for sheet in &workbook.sheets {
            let _ = sheet.summary();
            let _ = sheet.to_dataframe();
        }
    }
}

fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = Manifest::from_toml_str(&text, "fuzz/manifest.toml") {
        let _ = m.positive_class();
    }
}

fn scores(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Some(path) = scratch(rest, "csv") else {
        return;
    };
    if first % 2 == 1 {
        let classes = ["normal", "benign", "malignant"];
        let columns = ["p_normal", "p_benign", "p_malignant"];
        if let Ok(t) = ClassScoreTable::from_csv(&path, "label", &columns, &classes) {
            let _ = MulticlassSummary::new(&t.labels, &t.scores, &classes);
        }
    } else if let Ok(t) = ScoreTable::from_csv(&path, "label", "score", None) {
        let _ = BinarySummary::new(&t.labels, &t.scores, 0.5);
    }
}
