//! A training run from a manifest to test-set metrics, as `mammolab train` does it:
//! merge (with its audit) -> one record per image -> patient-grouped train / validation /
//! test split (checked for leakage) -> images decoded and resized (cached) -> train ->
//! test-set predictions -> metrics, all written into one run directory.
//!
//! | file | what |
//! |---|---|
//! | `run.json` | [`RunInfo`]: options, classes, split sizes, leakage check, timings |
//! | `checkpoint/` | weights + configs + optimiser state ([`crate::model::checkpoint`]) |
//! | `history.csv` | one row per epoch ([`crate::model::History::to_dataframe`]) |
//! | `predictions.csv` | test images: pseudonymous patient, sheet, row, laterality, label, score |
//! | `metrics.json` | [`BinarySummary`] of the test predictions at threshold 0.5 |
//! | `port_check.safetensors` | up to 8 test inputs and the model's logits for them, to check a port of the model to another framework |
//!
//! Patients are written as pseudonyms (`P-` + 10 hex digits of the sha256 of the id), so a
//! run directory can be shared without the hospital's identifiers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::dataset::{grouped_split, leakage, load_images, Fractions, Preprocess, Split};
use crate::error::IoContext;
use crate::eval::{rollup, Aggregate, BinarySummary};
use crate::imaging::Gray;
use crate::ingest::merge::{merge, MergeResult};
use crate::ingest::scores::{read_csv, write_csv, ScoreTable};
use crate::manifest::{sha256_bytes, Manifest};
use crate::model::checkpoint::write_tensors;
use crate::model::predict::scores;
use crate::model::train::Progress;
use crate::model::CnnConfig;
use crate::model::{
    ComputeDevice, DeepCnnConfig, ModelConfig, Samples, TrainConfig, Trainer, VaeConfig,
};
use crate::{Error, Result};
use polars::prelude::{Column, DataFrame, DataType};

/// Which network `mammolab train --model` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    /// Seed 001's CNN.
    Cnn,
    /// Seed 000's CNN-VAE.
    Vae,
    /// The residual deep CNN (8 blocks, 18 layers).
    Resnet,
    /// The same depth without skips.
    Plain,
}

impl std::str::FromStr for ModelChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cnn" => Ok(Self::Cnn),
            "vae" => Ok(Self::Vae),
            "resnet" => Ok(Self::Resnet),
            "plain" => Ok(Self::Plain),
            _ => Err(Error::Param {
                name: "model",
                message: format!("{s:?} is not cnn, vae, resnet or plain"),
            }),
        }
    }
}

impl ModelChoice {
    /// The network for `size` x `size` single-channel images and `classes` classes.
    pub fn config(self, size: usize, classes: usize) -> ModelConfig {
        match self {
            Self::Cnn => ModelConfig::Cnn(CnnConfig::seed001(size, 1, classes)),
            Self::Vae => ModelConfig::Vae(VaeConfig::new(size, 1, classes)),
            Self::Resnet => ModelConfig::Deep(DeepCnnConfig::new(size, 1, classes, 8, true)),
            Self::Plain => ModelConfig::Deep(DeepCnnConfig::new(size, 1, classes, 8, false)),
        }
    }
}

/// Everything a run needs besides the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The network.
    pub model: ModelChoice,
    /// Image side after resizing.
    pub size: usize,
    /// Training settings (seed included; the split uses the same seed).
    pub train: TrainConfig,
    /// Where to train.
    pub device: ComputeDevice,
    /// Patient shares of train / validation / test.
    pub fractions: Fractions,
    /// The label that is the positive class (last class index).
    pub positive: String,
    /// Use the DICOM files instead of the JPG exports when both exist.
    pub prefer_dicom: bool,
    /// Cache of decoded images (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
}

impl RunOptions {
    /// Seed 001's CNN at 64 x 64 from the JPG exports, 70 / 15 / 15 patient split, positive
    /// label `cancer`, no cache.
    pub fn new(model: ModelChoice) -> Self {
        Self {
            model,
            size: 64,
            train: TrainConfig::default(),
            device: ComputeDevice::Cpu,
            fractions: Fractions::new(0.7, 0.15, 0.15).expect("valid fractions"),
            positive: "cancer".into(),
            prefer_dicom: false,
            cache_dir: None,
        }
    }
}

/// Images and patients in one part of the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartCounts {
    /// Images per class (class order of [`RunInfo::classes`]).
    pub images: Vec<usize>,
    /// Distinct patients.
    pub patients: usize,
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The manifest trained from.
    pub manifest: PathBuf,
    /// Options of the run.
    pub options: RunOptions,
    /// Class names in index order (positive last).
    pub classes: Vec<String>,
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
}

/// What [`run`] returns.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// `run.json`.
    pub info: RunInfo,
    /// The trainer, with the final (or best) weights.
    pub history: crate::model::History,
    /// Test-set metrics at 0.5, per image.
    pub summary: BinarySummary,
    /// The same per breast (highest image score of each patient's side); `None` when the
    /// test set's breasts hold one class only.
    pub breast: Option<BinarySummary>,
}

/// What the metrics of [`evaluate`] count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Each image.
    Image,
    /// Each breast (patient + laterality): its highest image score, positive if any image is.
    Breast,
    /// Each patient: the highest score of their images.
    Patient,
}

impl std::str::FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "image" => Ok(Self::Image),
            "breast" => Ok(Self::Breast),
            "patient" => Ok(Self::Patient),
            _ => Err(Error::Param {
                name: "level",
                message: format!("{s:?} is not image, breast or patient"),
            }),
        }
    }
}

/// Pseudonym of a patient id: `P-` + the first 10 hex digits of its sha256.
pub fn pseudonym(patient_id: &str) -> String {
    format!("P-{}", &sha256_bytes(patient_id.as_bytes())[..10])
}

/// The intensity normalisation of [`prepare`]: `(x - mean) / std` with these (mean, std).
pub const NORMALISE: (f32, f32) = (0.5, 0.25);

/// One image to learn from.
#[derive(Debug, Clone)]
pub struct ImageItem {
    /// The image file (JPG or DICOM).
    pub path: PathBuf,
    /// Right breast (flipped to face left before training).
    pub right: bool,
    /// Class index (order of [`Prepared::classes`]).
    pub class: usize,
    /// The workbook's patient id. Never display it: use [`ImageItem::pseudonym`].
    pub patient: String,
    /// Sheet of the labelled row.
    pub sheet: String,
    /// Spreadsheet row number.
    pub row: u32,
    /// `L`, `R` or empty.
    pub laterality: String,
}

impl ImageItem {
    /// The patient as a shareable pseudonym ([`pseudonym`]).
    pub fn pseudonym(&self) -> String {
        pseudonym(&self.patient)
    }
}

fn items(
    m: &Manifest,
    merged: &MergeResult,
    classes: &[String],
    prefer_dicom: bool,
) -> (Vec<ImageItem>, usize) {
    let mut seen = HashSet::new();
    let mut out = vec![];
    for r in &merged.records {
        let file = if prefer_dicom {
            r.dicom.as_ref().or(r.jpg.as_ref())
        } else {
            r.jpg.as_ref().or(r.dicom.as_ref())
        };
        let Some(file) = file else { continue };
        if !seen.insert(file.clone()) {
            continue;
        }
        let class = classes
            .iter()
            .position(|c| *c == r.label)
            .expect("label listed");
        let lat = r.laterality.clone().unwrap_or_default();
        out.push(ImageItem {
            path: m.base_dir.join(file),
            right: lat.eq_ignore_ascii_case("R"),
            class,
            patient: r.patient_id.clone(),
            sheet: r.sheet.clone(),
            row: r.row,
            laterality: lat,
        });
    }
    let left = merged.records.len() - out.len();
    (out, left)
}

fn counts(items: &[ImageItem], idx: &[usize], k: usize) -> PartCounts {
    let mut images = vec![0; k];
    let mut patients = HashSet::new();
    for &i in idx {
        images[items[i].class] += 1;
        patients.insert(&items[i].patient);
    }
    PartCounts {
        images,
        patients: patients.len(),
    }
}

/// A cohort ready to train on: the merge's images, split by patient, decoded into tensors.
/// The first half of [`run`], for notebooks that train their own way.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Class names in index order, the positive class last.
    pub classes: Vec<String>,
    /// One entry per image file, in sample order.
    pub items: Vec<ImageItem>,
    /// Sample indices of the train / validation / test parts (patient-grouped).
    pub split: Split,
    /// Every image as a tensor (sample order of `items`).
    pub all: Samples,
    /// Labelled rows of the workbooks.
    pub rows: usize,
    /// Rows left out: no image file (see the merge audit) or an image already used.
    pub left_out: usize,
    /// Seconds spent decoding and resizing (0.x when cached).
    pub decode_seconds: f64,
}

/// Merge, pick one image per file, split by patient (checked by [`leakage`]), decode and
/// preprocess as [`RunOptions`] says (cached in `options.cache_dir`).
pub fn prepare(manifest: &Manifest, options: &RunOptions) -> Result<Prepared> {
    let merged = merge(manifest)?;
    let mut classes: Vec<String> = merged
        .records
        .iter()
        .map(|r| r.label.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let Some(p) = classes.iter().position(|c| *c == options.positive) else {
        return Err(Error::input(
            "positive label",
            format!(
                "{:?} is not one of the manifest's labels {classes:?}",
                options.positive
            ),
        ));
    };
    let pos = classes.remove(p);
    classes.push(pos);
    if classes.len() < 2 {
        return Err(Error::input(
            "labels",
            format!("need two classes, the manifest gives {classes:?}"),
        ));
    }
    let (items, left_out) = items(manifest, &merged, &classes, options.prefer_dicom);
    let labels: Vec<usize> = items.iter().map(|i| i.class).collect();
    let groups: Vec<&str> = items.iter().map(|i| i.patient.as_str()).collect();
    let split = grouped_split(&labels, &groups, options.fractions, options.train.seed)?;
    let report = leakage(
        &[
            ("train", &split.train),
            ("validation", &split.val),
            ("test", &split.test),
        ],
        &groups,
        None,
        0,
    )?;
    let shared = report.shared_groups.len();
    if shared > 0 {
        return Err(Error::input(
            "split",
            format!("{shared} patients are in more than one part"),
        ));
    }
    let t0 = Instant::now();
    let files: Vec<(PathBuf, bool)> = items.iter().map(|i| (i.path.clone(), i.right)).collect();
    let pre = Preprocess::new(options.size, options.size)
        .with_crop(0.05)
        .with_flip_right()
        .with_normalise(NORMALISE.0, NORMALISE.1);
    let tag = manifest
        .tables
        .iter()
        .filter_map(|t| t.sha256.clone())
        .collect::<Vec<_>>()
        .join(",");
    let batch = load_images(&files, &pre, options.cache_dir.as_deref(), &tag)?;
    let all = Samples::from_batch(batch, labels)?;
    Ok(Prepared {
        classes,
        items,
        split,
        all,
        rows: merged.records.len(),
        left_out,
        decode_seconds: t0.elapsed().as_secs_f64(),
    })
}

impl Prepared {
    /// Index of the positive class (the last).
    pub fn positive(&self) -> usize {
        self.classes.len() - 1
    }

    /// Training images.
    pub fn train(&self) -> Samples {
        self.all.subset(&self.split.train)
    }

    /// Validation images.
    pub fn val(&self) -> Samples {
        self.all.subset(&self.split.val)
    }

    /// Test images.
    pub fn test(&self) -> Samples {
        self.all.subset(&self.split.test)
    }

    /// `true` for positive-class samples among `idx`.
    pub fn is_positive(&self, idx: &[usize]) -> Vec<bool> {
        let p = self.positive();
        idx.iter().map(|&i| self.items[i].class == p).collect()
    }

    /// Pseudonymous patient of each sample among `idx`.
    pub fn pseudonyms(&self, idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| self.items[i].pseudonym()).collect()
    }

    /// Sample `i` of `samples` (made by [`prepare`]) back in [0, 1] grey, first channel.
    pub fn image(samples: &Samples, i: usize) -> Gray {
        let [_, c, h, w] = samples.shape;
        let start = i * c * h * w;
        Gray {
            width: w,
            height: h,
            pixels: samples.data[start..start + h * w]
                .iter()
                .map(|v| v * NORMALISE.1 + NORMALISE.0)
                .collect(),
        }
    }

    /// Images and patients per part: train, validation, test.
    pub fn part_counts(&self) -> [PartCounts; 3] {
        let k = self.classes.len();
        [
            counts(&self.items, &self.split.train, k),
            counts(&self.items, &self.split.val, k),
            counts(&self.items, &self.split.test, k),
        ]
    }

    /// The test images with `scores` (one per test sample) as `predictions.csv` has them:
    /// pseudonymous patient, sheet, row, laterality, label (1 = positive), class, score.
    pub fn predictions(&self, scores: &[f64]) -> Result<DataFrame> {
        let test: Vec<&ImageItem> = self.split.test.iter().map(|&i| &self.items[i]).collect();
        if scores.len() != test.len() {
            return Err(Error::input(
                "predictions",
                format!("{} test images but {} scores", test.len(), scores.len()),
            ));
        }
        let k = self.classes.len();
        DataFrame::new_infer_height(vec![
            Column::new(
                "patient".into(),
                test.iter().map(|it| it.pseudonym()).collect::<Vec<_>>(),
            ),
            Column::new(
                "sheet".into(),
                test.iter().map(|it| it.sheet.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "row".into(),
                test.iter().map(|it| it.row).collect::<Vec<_>>(),
            ),
            Column::new(
                "laterality".into(),
                test.iter()
                    .map(|it| it.laterality.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "label".into(),
                test.iter()
                    .map(|it| u8::from(it.class == k - 1) as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "class".into(),
                test.iter()
                    .map(|it| self.classes[it.class].clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new("score".into(), scores.to_vec()),
        ])
        .map_err(|e| Error::table("predictions", e))
    }
}

/// Train as `mammolab train` does and write the run directory `out` (see the module docs).
pub fn run(
    manifest: &Manifest,
    options: &RunOptions,
    out: &Path,
    progress: &mut dyn Progress,
) -> Result<RunResult> {
    // An unusable device fails before minutes of merging and decoding.
    options.device.device()?;
    let data = prepare(manifest, options)?;
    let k = data.classes.len();

    let t1 = Instant::now();
    let model = options.model.config(options.size, k);
    let mut trainer = Trainer::new(model, options.train.clone(), options.device)?;
    let train = data.train();
    let val = data.val();
    let test = data.test();
    let val = (!val.is_empty()).then_some(val);
    trainer.fit(&train, val.as_ref(), progress)?;
    let train_s = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let probs = trainer.predict(&test)?;
    let test_scores = scores(&probs, k - 1);
    let predict_s = t2.elapsed().as_secs_f64();
    let test_labels = data.is_positive(&data.split.test);
    let summary = BinarySummary::new(&test_labels, &test_scores, 0.5)?;

    std::fs::create_dir_all(out).at(out)?;
    trainer.save(&out.join("checkpoint"))?;
    let mut hist = trainer.history().to_dataframe()?;
    write_csv(&mut hist, &out.join("history.csv"))?;
    let mut predictions = data.predictions(&test_scores)?;
    let predictions_csv = out.join("predictions.csv");
    write_csv(&mut predictions, &predictions_csv)?;
    let p = out.join("metrics.json");
    std::fs::write(
        &p,
        serde_json::to_string_pretty(&summary).map_err(|e| Error::data(&p, e))?,
    )
    .at(&p)?;
    write_port_check(&trainer, &test, &out.join("port_check.safetensors"))?;

    let info = RunInfo {
        manifest: manifest.source.clone(),
        options: options.clone(),
        rows: data.rows,
        left_out: data.left_out,
        split: data.part_counts(),
        classes: data.classes,
        shared_patients: 0,
        seconds: [data.decode_seconds, train_s, predict_s],
    };
    let p = out.join("run.json");
    std::fs::write(
        &p,
        serde_json::to_string_pretty(&info).map_err(|e| Error::data(&p, e))?,
    )
    .at(&p)?;
    Ok(RunResult {
        info,
        history: trainer.history().clone(),
        summary,
        breast: level_summary(&predictions, 0.5, Level::Breast).ok(),
    })
}

/// Up to 8 test inputs and their logits (from the inference model).
fn write_port_check(trainer: &Trainer, test: &Samples, path: &Path) -> Result<()> {
    let n = test.len().min(8);
    let idx: Vec<usize> = (0..n).collect();
    let device = trainer.inference_device()?;
    let x = test.images(&idx, &device);
    let logits = trainer.inference_model().logits(x.clone());
    let dims = logits.dims();
    let to = |d: burn::tensor::TensorData| {
        d.try_to_vec::<f32>()
            .map_err(|e| Error::data(path, format!("{e:?}")))
    };
    let xs = to(x.into_data())?;
    let ls = to(logits.into_data())?;
    let [_, c, h, w] = test.shape;
    write_tensors(
        path,
        &[
            ("input", vec![n, c, h, w], &xs),
            ("logits", vec![dims[0], dims[1]], &ls),
        ],
    )
}

/// Test-set metrics of a run directory at `threshold`, from its `predictions.csv`, per
/// image or rolled up (highest score) to breasts or patients with [`crate::eval::rollup`].
pub fn evaluate(dir: &Path, threshold: f64, level: Level) -> Result<BinarySummary> {
    let p = dir.join("predictions.csv");
    if !p.is_file() {
        return Err(Error::data(
            dir,
            "no predictions.csv: not a `mammolab train` run directory",
        ));
    }
    summary_at(&read_csv(&p)?, &p, threshold, level)
}

/// Metrics of a predictions table ([`Prepared::predictions`], `predictions.csv`) at
/// `threshold`, per image or rolled up to breasts or patients (highest image score).
pub fn level_summary(
    predictions: &DataFrame,
    threshold: f64,
    level: Level,
) -> Result<BinarySummary> {
    summary_at(predictions, Path::new("predictions"), threshold, level)
}

/// [`level_summary`] naming the file `p` in messages.
fn summary_at(df: &DataFrame, p: &Path, threshold: f64, level: Level) -> Result<BinarySummary> {
    let t = ScoreTable::from_frame(df, p, "label", "score", None)?;
    if level == Level::Image {
        return BinarySummary::new(&t.labels, &t.scores, threshold);
    }
    let text = |name: &str| -> Result<Vec<String>> {
        let c = df
            .column(name)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(|e| Error::table(format!("{} column {name}", p.display()), e))?;
        let v = c
            .str()
            .map_err(|e| Error::table(format!("{} column {name}", p.display()), e))?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect();
        Ok(v)
    };
    let mut groups = text("patient")?;
    if level == Level::Breast {
        for (g, side) in groups.iter_mut().zip(text("laterality")?) {
            g.push('-');
            g.push_str(&side);
        }
    }
    let r = rollup(&groups, &t.labels, &t.scores, Aggregate::Max)?;
    BinarySummary::new(&r.labels, &r.scores, threshold)
}
