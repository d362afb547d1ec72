//! The `mammolab` command line: a thin layer over the library.
//!
//! Errors print as one line on stderr (`error: ...`) with exit code 1; usage errors (an
//! unknown option, a value not among the choices) print one line too and exit 2.

mod args;
mod augment;
mod compare;
mod dicom;
mod evaluate;
mod manifest;
mod merge;
mod metrics;
mod output;
mod patches;
mod predict;
mod progress;
mod sheets;
mod synth;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mammolab",
    version,
    about = "Breast-cancer imaging research: cohorts, ingest, models, evaluation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The most memory one input file may make mammolab allocate, in MiB: an inflated
    /// workbook part, an inflated DICOM data set, a decoded frame or picture. Files that
    /// declare more are refused in one line before anything is allocated
    /// (mammolab::ingest::limits).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 256)]
    max_mib: u64,
    /// The most samples (rows x columns x samples per pixel) one frame or picture may hold.
    #[arg(long, global = true, value_name = "N", default_value_t = 1 << 28)]
    max_pixels: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic cohort shaped like seed 001's hospital export.
    Synth(synth::Args),
    /// Read Kaggle's DDSM Mammography download (seed 004) and count its patches per file and
    /// label: every TFRecord checked against its CRC, every array against its header.
    Patches(patches::Args),
    /// List the sheets of a workbook with their rows, columns and dtypes.
    Sheets(sheets::Args),
    /// Merge a cohort's sheets with its image listing and folders; write tables and audit.
    Merge(merge::Args),
    /// Preview --augment: each image as `train` prepares it, then random augmented copies,
    /// in one PNG (rows: images; captions: what each draw did).
    Augment(augment::Args),
    /// Show a DICOM file's key header fields and stored-pixel statistics.
    Dicom(dicom::Args),
    /// Evaluate scores against labels from a CSV: ROC AUC, AP, confusion matrix and more.
    Metrics(metrics::Args),
    /// Train a model on a manifest's cohort (patient-grouped split) and write a run directory:
    /// checkpoint, config, history, test-set predictions and metrics.
    Train(Box<train::Args>),
    /// Metrics of a run directory's test predictions (same JSON fields as `metrics`).
    Evaluate(evaluate::Args),
    /// Score images with a trained model: new files, or a manifest's images (one part of
    /// the run's split with --part). Writes the image table to --out, the failures to
    /// <stem>.errors.csv (a bad file never stops the others), and the roll-up to
    /// <stem>.<level>.csv.
    Predict(predict::Args),
    /// Is B better than A? Two run directories: DeLong's test of their test ROC AUCs (paired
    /// when both scored the same images); two sweeps: the per-seed differences.
    Compare(compare::Args),
    /// Check a data manifest: structure, every named file present, every checksum right.
    Manifest(manifest::Args),
}

fn main() -> ExitCode {
    let command = Cli::command().mut_subcommand("train", train::resume_conflicts);
    let cli = match command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, like every other error: clap's message with its hint lines joined.
            let text = e.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            let line = lines.join(" ");
            eprintln!("{}", line.trim_end());
            return ExitCode::from(2);
        }
    };
    // A panic the library catches and reports (a third-party reader failing on a malformed
    // file) is its one error line; any other keeps Rust's message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !mammolab::error::catching_panic() {
            default_hook(info)
        }
    }));
    mammolab::ingest::limits::Limits {
        max_bytes: cli.max_mib.saturating_mul(1 << 20),
        max_pixels: cli.max_pixels,
    }
    .install();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the library's messages already name the file, sheet, row or tag, and
            // most already hold their cause; a cause is added only when it says more.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            let msg = msg.replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    if matches!(command, Command::Train(_) | Command::Predict(_)) {
        // Their tables carry pseudonyms: key them with the project's secret.
        mammolab::privacy::install_default(
            std::env::var_os("MAMMOLAB_KEY"),
            std::env::var_os("XDG_CONFIG_HOME"),
            std::env::var_os("HOME"),
        )?;
    }
    match command {
        Command::Synth(args) => synth::run(args),
        Command::Patches(args) => patches::run(args),
        Command::Sheets(args) => sheets::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Augment(args) => augment::run(args),
        Command::Dicom(args) => dicom::run(args),
        Command::Metrics(args) => metrics::run(args),
        Command::Train(args) => train::run(*args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Manifest(args) => manifest::run(args),
    }
}
