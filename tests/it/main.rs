//! mammolab's integration tests: one binary (see `autotests = false` in Cargo.toml).

mod cbis;
mod cli;
mod ddsm;
mod eval;
mod inbreast;
mod ingest;
mod manifest;
mod mias;
mod model;
mod notebook;
mod pipeline;
mod plot;
mod privacy;
mod sources;
mod split;
mod synth;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mammolab::synth::{Profile, SynthOptions, SynthSummary};

/// The `ci` cohort with seed 1, generated once per test run into a temp dir.
pub fn ci_cohort() -> &'static (tempfile::TempDir, SynthSummary) {
    static COHORT: OnceLock<(tempfile::TempDir, SynthSummary)> = OnceLock::new();
    COHORT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = mammolab::synth::generate(&SynthOptions::new(Profile::Ci), dir.path())
            .expect("generate ci");
        (dir, s)
    })
}

/// Every file below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The repository root (for committed manifests).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
