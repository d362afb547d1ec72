//! The run directory `mammolab train` writes, and reading it back.
//!
//! | file | what |
//! |---|---|
//! | `run.json` | [`RunInfo`]: options (with the preprocessing recipe), classes, split sizes, leakage check, timings |
//! | `checkpoint/` | weights + configs + input recipe + optimiser state ([`crate::model::checkpoint`]) |
//! | `history.csv` | one row per epoch ([`crate::model::History::to_dataframe`]) |
//! | `predictions.csv` | test images: pseudonymous patient, sheet, row, laterality, label, class, score |
//! | `metrics.json` | [`BinarySummary`] of the test predictions at threshold 0.5 |
//! | `metrics_chosen.json` | the same at the threshold chosen on the validation part (`run.json`'s `threshold`; absent when none could be chosen) |
//! | `port_check.safetensors` | up to 8 test inputs (and a fusion model's standardised columns, `covariates`) and the model's logits for them, to check a port of the model to another framework |
//! | `in-progress/` | only while the run trains, or after it was killed: `state.json` (the manifest and options) and `checkpoint/`, the last complete epoch ([`IN_PROGRESS`]; `mammolab train --resume` continues from it); removed when the run is written |
//!
//! Every file is written under a temporary name and renamed, `run.json` last: a directory
//! with `run.json` is a finished run, and a killed run leaves none of the files above but
//! its `in-progress/` folder and its lock.
//!
//! Patients are written as pseudonyms (`P-` + 10 hex digits of the HMAC-SHA256 of the id
//! under the project's secret key, [`crate::privacy`]), so a run directory can be shared
//! without the hospital's identifiers and without a way back to them.

use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, DataType};
use serde::{Deserialize, Serialize};

use super::RunOptions;
use crate::classes::Classes;
use crate::dataset::{PartCounts, Samples};
use crate::error::IoContext;
use crate::error::{Error, Result};
use crate::eval::DecisionThreshold;
use crate::eval::{rollup, Aggregate, BinarySummary, Rollup};
use crate::ingest::frames::{read_csv, write_csv, ScoreTable};
use crate::model::batch::{covariates_tensor, images_tensor};
use crate::model::checkpoint::write_tensors;
use crate::model::Trainer;
use crate::outlock::write_json;

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The manifest trained from.
    pub manifest: PathBuf,
    /// Options of the run.
    pub options: RunOptions,
    /// The classes and the positive one (the keys `classes` and `positive`, see
    /// [`crate::classes`]).
    #[serde(flatten)]
    pub classes: Classes,
    /// Labelled rows of the workbooks.
    pub rows: usize,
    /// Rows left out: no image file (see the merge audit for why) or an image already used.
    pub left_out: usize,
    /// Train / validation / test counts.
    pub split: [PartCounts; 3],
    /// Patients found in more than one part (must be 0).
    pub shared_patients: usize,
    /// Seconds spent decoding images, training, predicting.
    pub seconds: [f64; 3],
    /// The decision threshold chosen on the validation part (`None`: none could be, or a
    /// run written before thresholds were chosen).
    #[serde(default)]
    pub threshold: Option<DecisionThreshold>,
}

impl RunInfo {
    /// What a run on `data` records: the manifest, the options, the data's rows, split and
    /// classes, the seconds (decoding from `data`, then training and predicting), the threshold.
    pub(super) fn of(
        manifest: &crate::manifest::Manifest,
        options: &RunOptions,
        data: &crate::dataset::Prepared,
        [train_s, predict_s]: [f64; 2],
        threshold: Option<DecisionThreshold>,
    ) -> Self {
        Self {
            manifest: manifest.source.clone(),
            options: options.clone(),
            rows: data.rows,
            left_out: data.left_out,
            split: data.part_counts(),
            classes: data.classes.clone(),
            shared_patients: 0,
            seconds: [data.decode_seconds, train_s, predict_s],
            threshold,
        }
    }
}

/// The folder of a run directory that holds an unfinished run (see the module docs).
pub const IN_PROGRESS: &str = "in-progress";

/// `in-progress/state.json`: what [`super::resume`] needs to continue a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Unfinished {
    /// The manifest trained from (absolute).
    pub manifest: PathBuf,
    /// The run's options.
    pub options: RunOptions,
}

/// Record a run that is starting in `out`; returns the folder its epoch checkpoints go to.
pub(super) fn start_unfinished(out: &Path, state: &Unfinished) -> Result<PathBuf> {
    let dir = out.join(IN_PROGRESS);
    std::fs::create_dir_all(&dir).at(&dir)?;
    write_json(state, &dir.join("state.json"))?;
    Ok(dir.join("checkpoint"))
}

/// The unfinished run in `out`, or a one-line error saying there is none.
pub(super) fn read_unfinished(out: &Path) -> Result<Unfinished> {
    let p = out.join(IN_PROGRESS).join("state.json");
    if !p.is_file() {
        let what = if out.join("run.json").is_file() {
            "its run finished (run.json is there)"
        } else {
            "no `mammolab train` was interrupted there"
        };
        return Err(Error::data(
            out,
            format!("nothing to resume: {what} (no {IN_PROGRESS}/state.json)"),
        ));
    }
    let text = std::fs::read_to_string(&p).at(&p)?;
    serde_json::from_str(&text).map_err(|e| Error::data(&p, e))
}

/// Write the run directory `out` (see the module docs).
pub(super) fn write(
    out: &Path,
    info: &RunInfo,
    trainer: &Trainer,
    test: &Samples,
    mut predictions: DataFrame,
    summary: &BinarySummary,
    chosen: Option<&BinarySummary>,
) -> Result<()> {
    write_results(out, trainer, &mut predictions, summary)?;
    let chosen_path = out.join("metrics_chosen.json");
    match chosen {
        Some(c) => write_json(c, &chosen_path)?,
        None if chosen_path.exists() => std::fs::remove_file(&chosen_path).at(&chosen_path)?,
        None => {}
    }
    write_port_check(trainer, test, &out.join("port_check.safetensors"))?;
    write_json(info, &out.join("run.json"))?;
    let unfinished = out.join(IN_PROGRESS);
    if unfinished.exists() {
        std::fs::remove_dir_all(&unfinished).at(&unfinished)?;
    }
    Ok(())
}

/// What every run directory holds before `run.json`: `checkpoint/`, `history.csv`,
/// `predictions.csv` and `metrics.json` (`out` created).
pub(super) fn write_results(
    out: &Path,
    trainer: &Trainer,
    predictions: &mut DataFrame,
    metrics: &impl Serialize,
) -> Result<()> {
    std::fs::create_dir_all(out).at(out)?;
    trainer.save(&out.join("checkpoint"))?;
    let mut hist = trainer.history().to_dataframe()?;
    write_csv(&mut hist, &out.join("history.csv"))?;
    write_csv(predictions, &out.join("predictions.csv"))?;
    write_json(metrics, &out.join("metrics.json"))
}

/// Up to 8 test inputs and their logits (from the inference model).
fn write_port_check(trainer: &Trainer, test: &Samples, path: &Path) -> Result<()> {
    let n = test.len().min(8);
    let idx: Vec<usize> = (0..n).collect();
    let device = trainer.inference_device()?;
    let x = images_tensor(test, &idx, &device);
    let columns = covariates_tensor(test, &idx, &device);
    let logits = trainer
        .inference_model()
        .logits_with(x.clone(), columns.clone());
    let dims = logits.dims();
    let to = |d: burn::tensor::TensorData| {
        d.try_to_vec::<f32>()
            .map_err(|e| Error::data(path, format!("{e:?}")))
    };
    let xs = to(x.into_data())?;
    let ls = to(logits.into_data())?;
    let cs = columns.map(|t| to(t.into_data())).transpose()?;
    let [_, c, h, w] = test.shape;
    let mut tensors = vec![
        ("input", vec![n, c, h, w], xs.as_slice()),
        ("logits", vec![dims[0], dims[1]], ls.as_slice()),
    ];
    if let Some(cs) = &cs {
        tensors.push(("covariates", vec![n, cs.len() / n.max(1)], cs.as_slice()));
    }
    write_tensors(path, &tensors)
}

/// The decision threshold a run directory chose on its validation part (from `run.json`;
/// `None` for a run that chose none).
pub fn chosen_threshold(dir: &Path) -> Result<Option<DecisionThreshold>> {
    check_run_dir(dir)?;
    if !dir.join("run.json").is_file() {
        return Ok(None);
    }
    Ok(read_info(dir)?.threshold)
}

/// A run directory's `run.json`.
pub fn read_info(dir: &Path) -> Result<RunInfo> {
    check_run_dir(dir)?;
    let p = dir.join("run.json");
    let text = std::fs::read_to_string(&p).at(&p)?;
    serde_json::from_str(&text).map_err(|e| Error::data(&p, e))
}

/// What the metrics of [`evaluate`] count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Each image.
    Image,
    /// Each breast (patient + laterality): its highest image score, positive if any image is.
    Breast,
    /// Each patient: the highest score of their images.
    Patient,
}

impl Level {
    /// Image, breast, patient.
    pub const ALL: [Level; 3] = [Level::Image, Level::Breast, Level::Patient];

    /// `image`, `breast` or `patient`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Image => "image",
            Level::Breast => "breast",
            Level::Patient => "patient",
        }
    }
}

/// Test-set metrics of a run directory at `threshold`, from its `predictions.csv`, per
/// image or rolled up to breasts or patients with [`crate::eval::rollup`]: each group's
/// highest image score ([`Aggregate::Max`]) or their mean, positive if any image is.
pub fn evaluate(
    dir: &Path,
    threshold: f64,
    level: Level,
    aggregate: Aggregate,
) -> Result<BinarySummary> {
    check_run_dir(dir)?;
    let p = dir.join("predictions.csv");
    summary_at(&read_csv(&p)?, &p, threshold, level, aggregate)
}

/// Precision, recall, F1 and support of each class of a run's summary (from
/// [`evaluate`]), in the run's class order: scikit-learn's `classification_report` rows.
pub fn per_class(dir: &Path, summary: &BinarySummary) -> Result<Vec<crate::eval::ClassRow>> {
    let info = read_info(dir)?;
    let classes = &info.classes;
    let positive = classes.require_positive("a per-class report of a binary run")?;
    let negative = classes
        .names()
        .iter()
        .enumerate()
        .find(|(i, _)| *i != positive)
        .map(|(_, n)| n.as_str())
        .unwrap_or_default();
    let cm = summary
        .confusion
        .matrix_named(negative, &classes.names()[positive]);
    let mut rows = crate::eval::ClassificationReport::new(&cm).classes;
    if positive == 0 {
        rows.reverse();
    }
    Ok(rows)
}

fn check_run_dir(dir: &Path) -> Result<()> {
    // run.json is written last: without it the predictions are those of a run that died.
    match ["predictions.csv", "run.json"]
        .into_iter()
        .find(|f| !dir.join(f).is_file())
    {
        None => Ok(()),
        Some(f) => Err(Error::data(
            dir,
            format!("no {f}: not a `mammolab train` run directory (or its run did not finish)"),
        )),
    }
}

/// Metrics of a predictions table ([`Prepared::predictions`](crate::dataset::Prepared::predictions),
/// `predictions.csv`) at `threshold`, per image or rolled up to breasts or patients
/// (highest image score).
pub fn level_summary(
    predictions: &DataFrame,
    threshold: f64,
    level: Level,
) -> Result<BinarySummary> {
    level_summary_by(predictions, threshold, level, Aggregate::Max)
}

/// [`level_summary`] with each breast's or patient's images rolled up by `aggregate`
/// (the highest score, or their mean: RSNA's probabilistic F1 is often reported on both).
pub fn level_summary_by(
    predictions: &DataFrame,
    threshold: f64,
    level: Level,
    aggregate: Aggregate,
) -> Result<BinarySummary> {
    summary_at(
        predictions,
        Path::new("predictions"),
        threshold,
        level,
        aggregate,
    )
}

/// [`level_summary`] rolling up by `aggregate`, naming the file `p` in messages.
fn summary_at(
    df: &DataFrame,
    p: &Path,
    threshold: f64,
    level: Level,
    aggregate: Aggregate,
) -> Result<BinarySummary> {
    let r = scores_at(df, p, level, aggregate)?;
    BinarySummary::new(&r.labels, &r.scores, threshold)
}

/// A predictions table's labels and scores at `level`: each image, or each breast
/// (`<patient>-<laterality>`) or patient with its images' scores rolled up by `aggregate`
/// and positive if any image is. What [`level_summary_by`] summarises, for a metric of
/// one's own (RSNA's probabilistic F1 of thresholded scores, say).
pub fn level_scores(
    predictions: &DataFrame,
    level: Level,
    aggregate: Aggregate,
) -> Result<Rollup<String>> {
    scores_at(predictions, Path::new("predictions"), level, aggregate)
}

fn scores_at(
    df: &DataFrame,
    p: &Path,
    level: Level,
    aggregate: Aggregate,
) -> Result<Rollup<String>> {
    let t = ScoreTable::from_frame(df, p, "label", "score", None)?;
    if level == Level::Image {
        // Each image its own group: nothing to roll up.
        return Ok(Rollup {
            groups: (0..t.labels.len()).map(|i| i.to_string()).collect(),
            sizes: vec![1; t.labels.len()],
            labels: t.labels,
            scores: t.scores,
        });
    }
    let text = |name: &str| text_column(df, p, name);
    let patients = text("patient")?;
    let sides = match level {
        Level::Breast => text("laterality")?,
        _ => vec![String::new(); patients.len()],
    };
    let groups: Vec<String> = patients
        .iter()
        .zip(&sides)
        .map(|(patient, side)| group_key(level, patient, side))
        .collect();
    rollup(&groups, &t.labels, &t.scores, aggregate)
}

/// What images of one `level` group share: the patient, and for a breast also the side
/// (`L`, `R`, or empty when unknown).
pub(super) fn group_key(level: Level, patient: &str, side: &str) -> String {
    match level {
        Level::Breast => format!("{patient}-{side}"),
        _ => patient.to_string(),
    }
}

/// Column `name` of a predictions table as text (nulls as empty), naming the file `p` in
/// errors.
pub(super) fn text_column(df: &DataFrame, p: &Path, name: &str) -> Result<Vec<String>> {
    let err = |e| Error::table(format!("{} column {name}", p.display()), e);
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(err)?;
    let v = c
        .str()
        .map_err(err)?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    Ok(v)
}
