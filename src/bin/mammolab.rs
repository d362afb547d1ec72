//! The `mammolab` command line: a thin layer over the library.
//!
//! Errors print as one line on stderr (`error: ...`) with exit code 1; usage errors exit 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use mammolab::eval::{self, BinaryConfusion, BinarySummary, Binning, ThresholdSweep};
use mammolab::experiment::{self, RunOptions};
use mammolab::ingest::dicom::{read_header, read_image};
use mammolab::ingest::merge::merge;
use mammolab::ingest::sheets::{read_all, SheetOptions};
use mammolab::ingest::ScoreTable;
use mammolab::manifest::Manifest;
use mammolab::model::train::{epoch_line, EpochStats, Progress};
use mammolab::model::{ClassLoss, ClassWeights, EarlyStopping, Monitor, Sampler};
use mammolab::plot::{self, CellValues, Figure};
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
    /// List the sheets of a workbook with their rows, columns and dtypes.
    Sheets {
        /// The workbook (.xlsx, .xlsm, .xls, .xlsb, .ods).
        file: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Merge a cohort's sheets with its image listing and folders; write tables and audit.
    Merge {
        /// The data manifest.
        #[arg(long)]
        manifest: PathBuf,
        /// Output folder for merged.parquet, records.csv, audit.csv/.parquet/.xlsx, summary.json.
        #[arg(long)]
        out: PathBuf,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Show a DICOM file's key header fields and stored-pixel statistics.
    Dicom {
        /// The DICOM file.
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate scores against labels from a CSV: ROC AUC, AP, confusion matrix and more.
    Metrics {
        /// CSV file with a header row.
        #[arg(long)]
        csv: PathBuf,
        /// Column with the true label.
        #[arg(long)]
        label: String,
        /// Column with the model score (higher = more likely positive).
        #[arg(long)]
        score: String,
        /// Label value of the positive class (default: 1 or true).
        #[arg(long)]
        positive: Option<String>,
        /// Predict positive when score >= threshold.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Also draw roc, pr, confusion, calibration and threshold charts (PNG) into DIR.
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
        /// Print one JSON object instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Train a model on a manifest's cohort (patient-grouped split) and write a run directory:
    /// checkpoint, config, history, test-set predictions and metrics.
    Train {
        /// The cohort's manifest.
        #[arg(long)]
        manifest: PathBuf,
        /// cnn (seed 001), vae (seed 000), resnet or plain (the skip-connection experiment).
        #[arg(long, default_value = "cnn")]
        model: String,
        /// cpu, or cuda (needs a build with `--features cuda` and an NVIDIA GPU).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Epochs (the maximum with --patience).
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        /// Seed of the split, the weights and the sample order.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// auto: weight classes n / (k * n_c) in the loss; none: unweighted (seed 001's setup).
        #[arg(long, default_value = "auto")]
        class_weights: String,
        /// shuffle, or balanced (oversample so classes are equally likely).
        #[arg(long, default_value = "shuffle")]
        sampler: String,
        /// Focal loss with this gamma instead of cross-entropy.
        #[arg(long)]
        focal: Option<f64>,
        /// Image side in pixels.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Images per step.
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// Adam learning rate.
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// Stop when validation ROC AUC has not improved for this many epochs (keeps the best).
        #[arg(long)]
        patience: Option<usize>,
        /// Decode images from DICOM instead of the JPG exports.
        #[arg(long)]
        dicom: bool,
        /// Folder for decoded-image caches (default: $MAMMOLAB_CACHE/images or ~/.cache/mammolab/images; "none": no cache).
        #[arg(long)]
        cache: Option<String>,
        /// The run directory to write.
        #[arg(long)]
        out: PathBuf,
        /// Print one JSON object (the test metrics and the run summary) at the end.
        #[arg(long)]
        json: bool,
    },
    /// Metrics of a run directory's test predictions (same JSON fields as `metrics`).
    Evaluate {
        /// A directory written by `mammolab train`.
        #[arg(long)]
        run: PathBuf,
        /// Predict positive when score >= threshold.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// image, or breast / patient (each one's highest image score).
        #[arg(long, default_value = "image")]
        level: String,
        /// Print one JSON object instead of a report.
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
        Command::Sheets { file, json } => {
            let sheets = read_all(&file, &SheetOptions::default())?;
            let summaries: Vec<_> = sheets.iter().map(|s| s.summary()).collect();
            if json {
                let v = serde_json::json!({ "file": file, "sheets": summaries });
                println!("{v}");
            } else {
                println!("{}", file.display());
                for (s, sum) in sheets.iter().zip(&summaries) {
                    println!(
                        "  {}: {} rows x {} columns (header on row {})",
                        s.name,
                        sum.rows,
                        sum.columns.len(),
                        s.header_row
                    );
                    for c in sum.columns.iter().take(12) {
                        println!("    {:<32} {}", c.name, c.dtype);
                    }
                    if sum.columns.len() > 12 {
                        println!("    ... {} more (--json lists all)", sum.columns.len() - 12);
                    }
                    for (raw, name) in &s.renamed {
                        println!("    renamed `{raw}` -> `{name}`");
                    }
                    for (col, n) in &s.error_cells {
                        println!("    {n} error cells read as null in `{col}`");
                    }
                }
            }
        }
        Command::Merge {
            manifest,
            out,
            json,
        } => {
            let m = Manifest::open(&manifest)?;
            let r = merge(&m)?;
            r.write(&out)?;
            if json {
                println!("{}", serde_json::to_string(&r.summary)?);
            } else {
                use mammolab::ingest::merge::Status;
                for (name, c) in &r.summary.sheets {
                    let n = |st: Status| {
                        r.audit
                            .iter()
                            .filter(|a| &a.sheet == name && a.status == st)
                            .count()
                    };
                    let how = match (n(Status::Exact), n(Status::Normalised)) {
                        (0, 0) => String::new(),
                        (e, k) => format!(" ({e} by the exact key, {k} only after normalising)"),
                    };
                    println!(
                        "{name}: {} rows, {} matched{how}, {} unmatched",
                        c.rows, c.matched, c.unmatched
                    );
                }
                let i = &r.summary.images;
                println!(
                    "images: {} resolved, {} missing, {} in several folders",
                    i.resolved, i.missing, i.duplicates
                );
                println!(
                    "{} audit entries ({} header mismatches) written to {}",
                    r.audit.len(),
                    r.audit
                        .iter()
                        .filter(|a| a.status == Status::HeaderMismatch)
                        .count(),
                    out.display()
                );
            }
        }
        Command::Dicom { file, json } => {
            let img = read_image(&file, 0)?;
            let h = read_header(&file)?;
            if json {
                println!("{}", serde_json::to_string(&img.info)?);
            } else {
                let i = &img.info;
                println!("{}", file.display());
                println!("  transfer syntax {}", i.transfer_syntax);
                println!(
                    "  {} {}x{} x {} frame(s), {} bits allocated, {}",
                    i.modality.as_deref().unwrap_or("(no modality)"),
                    i.columns,
                    i.rows,
                    i.frames,
                    i.bits_allocated,
                    i.photometric_interpretation
                );
                println!(
                    "  stored values: min {} max {} mean {:.2}",
                    i.pixel.min, i.pixel.max, i.pixel.mean
                );
                println!("  rescale {:?}, VOI {:?}", img.rescale, img.voi);
                println!("  header {h:?}");
            }
        }
        Command::Metrics {
            csv,
            label,
            score,
            positive,
            threshold,
            plots,
            json,
        } => {
            let t = ScoreTable::from_csv(&csv, &label, &score, positive.as_deref())?;
            let s = BinarySummary::new(&t.labels, &t.scores, threshold)?;
            if let Some(dir) = plots {
                write_metric_plots(&dir, &t, threshold)?;
            }
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                print_summary(&csv, &label, &t, &s);
            }
        }
        Command::Train {
            manifest,
            model,
            device,
            epochs,
            seed,
            class_weights,
            sampler,
            focal,
            size,
            batch_size,
            lr,
            patience,
            dicom,
            cache,
            out,
            json,
        } => {
            let m = Manifest::open(&manifest)?;
            let mut o = RunOptions::new(model.parse()?);
            o.size = size;
            o.device = device.parse()?;
            o.prefer_dicom = dicom;
            o.cache_dir = match cache.as_deref() {
                Some("none") => None,
                Some(dir) => Some(PathBuf::from(dir)),
                None => mammolab::notebook::image_cache_dir(),
            };
            let t = &mut o.train;
            t.epochs = epochs;
            t.seed = seed;
            t.batch_size = batch_size;
            t.learning_rate = lr;
            t.class_weights = match class_weights.as_str() {
                "auto" | "balanced" => ClassWeights::Balanced,
                "none" => ClassWeights::None,
                other => anyhow::bail!("--class-weights {other:?} is not auto or none"),
            };
            t.sampler = match sampler.as_str() {
                "shuffle" => Sampler::Shuffle,
                "balanced" => Sampler::Balanced,
                other => anyhow::bail!("--sampler {other:?} is not shuffle or balanced"),
            };
            if let Some(gamma) = focal {
                t.loss = ClassLoss::Focal { gamma };
            }
            t.early_stopping = patience.map(|patience| EarlyStopping {
                monitor: Monitor::ValRocAuc,
                patience,
            });
            let mut bar = ProgressBarSteps::new(json);
            let r = experiment::run(&m, &o, &out, &mut bar)?;
            bar.finish();
            if json {
                let v = serde_json::json!({
                    "run": out,
                    "model": model,
                    "classes": r.info.classes,
                    "split": r.info.split,
                    "epochs": r.history.epochs.len(),
                    "best_epoch": r.history.best_epoch,
                    "seconds": r.info.seconds,
                    "test": r.summary,
                    "test_breast": r.breast,
                });
                println!("{v}");
            } else {
                let s = &r.summary;
                println!(
                    "{}: {} trained {} epochs in {:.1} s (images decoded in {:.1} s); test set {} images, {} positive",
                    out.display(),
                    model,
                    r.history.epochs.len(),
                    r.info.seconds[1],
                    r.info.seconds[0],
                    s.n,
                    s.positives
                );
                println!(
                    "  ROC AUC {:.4}  AP {:.4}  at 0.5: recall {:.4}  precision {:.4}  specificity {:.4}  accuracy {:.4}",
                    s.roc_auc,
                    s.average_precision,
                    s.metrics.recall,
                    s.metrics.precision,
                    s.metrics.specificity,
                    s.metrics.accuracy
                );
                if let Some(b) = &r.breast {
                    println!(
                        "  per breast ({} breasts, {} positive; highest image score): ROC AUC {:.4}  recall {:.4}  specificity {:.4}",
                        b.n, b.positives, b.roc_auc, b.metrics.recall, b.metrics.specificity
                    );
                }
            }
        }
        Command::Evaluate {
            run,
            threshold,
            level,
            json,
        } => {
            let s = experiment::evaluate(&run, threshold, level.parse()?)?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                let t = ScoreTable::from_csv(run.join("predictions.csv"), "label", "score", None)?;
                println!("metrics per {level}:");
                print_summary(&run.join("predictions.csv"), "label", &t, &s);
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

fn print_summary(csv: &std::path::Path, label: &str, t: &ScoreTable, s: &BinarySummary) {
    let c = &s.confusion;
    println!(
        "{}: {} samples, {} positive (`{label}` = {}), prevalence {:.4}",
        csv.display(),
        s.n,
        s.positives,
        t.positive,
        s.positives as f64 / s.n as f64
    );
    println!(
        "  ROC AUC {:.4}   average precision {:.4}",
        s.roc_auc, s.average_precision
    );
    println!(
        "  at threshold {} (positive when score >= threshold):",
        s.threshold
    );
    println!("                 predicted -   predicted +");
    println!("    actual -  {:>12}  {:>12}", c.tn, c.fp);
    println!("    actual +  {:>12}  {:>12}", c.fn_, c.tp);
    println!(
        "  precision {:.4}  recall {:.4}  specificity {:.4}  F1 {:.4}",
        s.metrics.precision, s.metrics.recall, s.metrics.specificity, s.metrics.f1
    );
    println!(
        "  accuracy {:.4}  balanced accuracy {:.4}  MCC {:.4}  Cohen's kappa {:.4}",
        s.metrics.accuracy, s.metrics.balanced_accuracy, s.metrics.mcc, s.metrics.cohen_kappa
    );
    if let Some(b) = s.brier {
        println!("  Brier score {b:.4}");
    }
    if !s.metrics.undefined.is_empty() {
        println!(
            "  undefined (zero denominator, shown as 0): {}",
            s.metrics.undefined.join(", ")
        );
    }
}

fn write_metric_plots(dir: &std::path::Path, t: &ScoreTable, threshold: f64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let (y, s) = (&t.labels, &t.scores);
    let roc = eval::roc_curve(y, s)?;
    let pr = eval::pr_curve(y, s)?;
    let cm = BinaryConfusion::at_threshold(y, s, threshold)?;
    let m = cm.metrics();
    let op = (1.0 - m.specificity, m.recall);
    let mut matrix = cm.matrix();
    matrix.classes = vec!["negative".into(), format!("positive ({})", t.positive)];
    let sweep = ThresholdSweep::new(y, s)?;
    let (w, h) = (800, 600);
    Figure::png(w, h, |a| plot::roc(a, &[("scores", &roc)], Some(op)))?
        .save(dir.join("roc.png"))?;
    Figure::png(w, h, |a| plot::pr(a, &[("scores", &pr)]))?.save(dir.join("pr.png"))?;
    Figure::png(w, h, |a| {
        plot::confusion_matrix(a, &matrix, CellValues::RowNormalised)
    })?
    .save(dir.join("confusion.png"))?;
    Figure::png(w, h, |a| plot::threshold_sweep(a, &sweep, Some(threshold)))?
        .save(dir.join("thresholds.png"))?;
    if s.iter().all(|v| (0.0..=1.0).contains(v)) {
        let cal = eval::calibration_curve(y, s, 10, Binning::Uniform)?;
        Figure::png(w, h, |a| plot::calibration(a, &[("scores", &cal)]))?
            .save(dir.join("calibration.png"))?;
    }
    Ok(())
}

/// An indicatif bar over the steps of each epoch; one line per finished epoch on stderr.
struct ProgressBarSteps {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
}

impl ProgressBarSteps {
    fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for ProgressBarSteps {
    fn on_start(&mut self, _epochs: usize, steps: usize) {
        let bar = indicatif::ProgressBar::new(steps as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps  {msg}  ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        self.bar = Some(bar);
    }
    fn on_step(&mut self, epoch: usize, step: usize, loss: f64) {
        if let Some(b) = &self.bar {
            b.set_prefix(format!("epoch {epoch}"));
            b.set_position(step as u64);
            b.set_message(format!("loss {loss:.4}"));
        }
    }
    fn on_epoch(&mut self, s: &EpochStats) {
        if let Some(b) = &self.bar {
            if self.quiet {
            } else if b.is_hidden() {
                eprintln!("{}", epoch_line(s));
            } else {
                b.println(epoch_line(s));
            }
            b.set_position(0);
        }
    }
}
