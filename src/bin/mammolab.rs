//! The `mammolab` command line: a thin layer over the library.
//!
//! Errors print as one line on stderr (`error: ...`) with exit code 1; usage errors exit 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use mammolab::manifest::Manifest;
use mammolab::synth::{self, Profile, SynthOptions};

#[derive(Parser)]
#[command(
    name = "mammolab",
    version,
    about = "Breast-cancer imaging research: cohorts, ingest, models, evaluation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic cohort shaped like seed 001's hospital export.
    Synth {
        /// ci (small, for tests and CI), default (seed 001's sizes) or large (5x, for benchmarks).
        #[arg(long, default_value = "default")]
        profile: Profile,
        /// Output folder (created; must be empty unless --force).
        #[arg(long)]
        out: PathBuf,
        /// Generator seed: the same profile and seed give byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Lesion contrast multiplier (1.0 = the profile's; lower is harder).
        #[arg(long)]
        conspicuity: Option<f32>,
        /// Replace a cohort already in --out (only the files synth writes).
        #[arg(long)]
        force: bool,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Check a data manifest: structure, every named file present, every checksum right.
    Manifest {
        /// The manifest TOML file.
        file: PathBuf,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the library's messages already name the file, sheet, row or tag.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Synth {
            profile,
            out,
            seed,
            conspicuity,
            force,
            json,
        } => {
            let mut opts = SynthOptions::new(profile)
                .with_seed(seed)
                .with_overwrite(force);
            if let Some(c) = conspicuity {
                opts = opts.with_conspicuity(c);
            }
            let t = Instant::now();
            let s = synth::generate(&opts, &out)?;
            let seconds = t.elapsed().as_secs_f64();
            if json {
                let mut v = serde_json::to_value(&s)?;
                v["seconds"] = serde_json::json!((seconds * 100.0).round() / 100.0);
                println!("{v}");
            } else {
                let c = &s.counts;
                println!(
                    "synthetic cohort `{}` (seed {}) in {}",
                    s.profile,
                    s.seed,
                    s.out.display()
                );
                println!(
                    "  datacombined.xlsx: Cancer {} rows, Non-Cancer {} rows, {} columns",
                    c.cancer_rows, c.non_cancer_rows, c.main_columns
                );
                println!(
                    "  data_validation_x.xlsx: {} rows, {} columns",
                    c.validation_rows, c.validation_columns
                );
                println!(
                    "  exact UniqueKey matches: {} of {} Cancer rows; after normalising keys: {}",
                    c.exact_key_matches, c.cancer_rows, c.normalised_key_matches
                );
                println!(
                    "  {} patients, {} studies, {} images ({} DICOM, {} JPG files)",
                    c.patients, c.studies, c.images, c.dicom_files, c.jpg_files
                );
                println!("  {} planted faults listed in ground_truth.json", s.faults);
                println!(
                    "  {} files, {:.1} MiB, {:.1} s",
                    s.files,
                    s.bytes as f64 / (1024.0 * 1024.0),
                    seconds
                );
            }
        }
        Command::Manifest { file, json } => {
            let m = Manifest::open(&file)?;
            m.verify()?;
            if json {
                let v = serde_json::json!({
                    "manifest": file,
                    "cohort": m.cohort.name,
                    "tables": m.tables.len(),
                    "sheets": m.sheets.len(),
                    "image_roots": m.image_roots.len(),
                    "checksums_verified": m.tables.iter().filter(|t| t.sha256.is_some()).count(),
                    "ok": true,
                });
                println!("{v}");
            } else {
                println!(
                    "{}: cohort `{}` ok: {} tables ({} with verified sha256), {} sheets, {} image roots",
                    file.display(),
                    m.cohort.name,
                    m.tables.len(),
                    m.tables.iter().filter(|t| t.sha256.is_some()).count(),
                    m.sheets.len(),
                    m.image_roots.len()
                );
            }
        }
    }
    Ok(())
}
