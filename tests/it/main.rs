//! mammolab's integration tests: one binary (see `autotests = false` in Cargo.toml).

mod cbis;
mod cli;
mod ddsm;
mod eval;
mod fuzz;
mod idc;
mod inbreast;
mod ingest;
mod limits;
mod manifest;
mod mias;
mod model;
mod notebook;
mod pipeline;
mod plot;
mod privacy;
mod rsna;
mod sources;
mod split;
mod synth;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mammolab::synth::{Profile, SynthOptions, SynthSummary};

/// A temporary folder for data shared by a module's tests through a `static`, whose
/// `TempDir` is never dropped (Rust runs no destructor for statics, so each test run used to
/// leave its twins in the temp folder: hundreds of MB a run). These folders live under
/// `<tmp>/mammolab-it/<pid>/`, and each test process first removes the folders of processes
/// that have ended (on Linux, where `/proc` says which are running).
pub fn shared_tempdir() -> tempfile::TempDir {
    static CLEANED: std::sync::Once = std::sync::Once::new();
    let root = std::env::temp_dir().join("mammolab-it");
    CLEANED.call_once(|| {
        if !Path::new("/proc/self").exists() {
            return;
        }
        for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let ended = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
            if ended {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    let mine = root.join(std::process::id().to_string());
    std::fs::create_dir_all(&mine).expect("the shared temp folder");
    tempfile::tempdir_in(&mine).expect("tempdir")
}

/// The `ci` cohort with seed 1, generated once per test run into a temp dir.
pub fn ci_cohort() -> &'static (tempfile::TempDir, SynthSummary) {
    static COHORT: OnceLock<(tempfile::TempDir, SynthSummary)> = OnceLock::new();
    COHORT.get_or_init(|| {
        let dir = shared_tempdir();
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
