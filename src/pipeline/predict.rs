//! Scoring images with a saved model: what `mammolab predict` does.
//!
//! The inputs are image files ([`inputs_from_paths`]: files and folders of DICOM, JPG,
//! PNG or PGM) or a data manifest's labelled images ([`inputs_from_manifest`], optionally
//! one part of a run's split). [`predict`] decodes and prepares each one with the
//! checkpoint's own recipe and scores it; a file that cannot be read is reported with its
//! reason and the others are scored. [`Predictions`] gives the image table (one row per
//! scored file), the error table (one row per file that was not), a roll-up to breasts
//! or patients, and metrics when the inputs carry labels.
//!
//! ```no_run
//! use mammolab::model::{ComputeDevice, Predictor};
//! use mammolab::pipeline::predict::{inputs_from_paths, predict};
//! # fn main() -> mammolab::Result<()> {
//! let p = Predictor::open("runs/cnn/checkpoint".as_ref(), ComputeDevice::Cpu)?;
//! let (inputs, skipped) = inputs_from_paths(&["new_exams/".into()])?;
//! let out = predict(&p, inputs, None, &mut |_, _| {})?.with_skipped(skipped);
//! println!("{} scored, {} could not be read", out.scored(), out.errors().len());
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::{Column, DataFrame};
use serde::Serialize;

use super::rundir::{group_key, level_summary_by, Level};
use crate::classes::Classes;
use crate::dataset::tabular::{covariate_rows, name_list};
use crate::dataset::{plan_merged, DataOptions, Part};
use crate::error::{Error, Result};
use crate::eval::{rollup, Aggregate, BinarySummary};
use crate::ingest::dicom::{is_dicom_path, read_header};
use crate::ingest::frames::write_csv;
use crate::ingest::index::{ext_of, files_below};
use crate::ingest::merge::{merge, Laterality};
use crate::manifest::Manifest;
use crate::model::{Predictor, Request};
use crate::privacy::pseudonym;

/// File extensions taken from a folder (any file named explicitly is tried).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["dcm", "dicom", "jpg", "jpeg", "png", "pgm"];

/// One image to score, with what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Input {
    /// The file.
    pub file: PathBuf,
    /// How the file is shown in the tables (relative to the manifest's folder, or as given).
    pub shown: String,
    /// Pseudonymous patient ([`pseudonym`]), from the manifest or the DICOM Patient ID.
    pub patient: Option<String>,
    /// Sheet and row of the labelled workbook row (manifest inputs).
    pub sheet: Option<String>,
    /// Spreadsheet row number.
    pub row: Option<u32>,
    /// Which breast (mirrored as in training when the recipe says so).
    pub laterality: Option<Laterality>,
    /// View (CC, MLO, ...).
    pub view: Option<String>,
    /// The workbook's class for the image (manifest inputs).
    pub class: Option<String>,
    /// The raw workbook values of a fusion model's columns ([`with_covariates`]).
    #[serde(skip)]
    pub columns: Option<Vec<f64>>,
}

/// A file that was not scored and why: unreadable, undecodable, or skipped (a file in a
/// folder that is not an image).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The file as shown in the tables.
    pub file: String,
    /// One line: the reader's error, or why it was skipped.
    pub error: String,
}

/// The image files below `dir` in name order, and its other files as skipped failures.
fn images_below(dir: &Path, files: &mut Vec<PathBuf>, skipped: &mut Vec<Failure>) -> Result<()> {
    let mut found = files_below(dir)?;
    found.sort();
    for p in found {
        if IMAGE_EXTENSIONS.contains(&ext_of(&p).as_str()) {
            files.push(p);
        } else {
            skipped.push(Failure {
                file: p.display().to_string(),
                error: format!(
                    "skipped: not an image name (folders are searched for {})",
                    IMAGE_EXTENSIONS.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// The images named by `paths`: files as given (any name), folders searched recursively
/// for [`IMAGE_EXTENSIONS`] in name order. A DICOM file's header gives its patient
/// (as a pseudonym), laterality and view; a JPG/PNG/PGM has none of them, so a recipe that
/// mirrors right breasts leaves it as it is (the summary counts them). The second value
/// lists the folder files that are not images, so every file is accounted for.
pub fn inputs_from_paths(paths: &[PathBuf]) -> Result<(Vec<Input>, Vec<Failure>)> {
    if paths.is_empty() {
        return Err(Error::Param {
            name: "images",
            message: "no image files or folders given".into(),
        });
    }
    let mut files = vec![];
    let mut skipped = vec![];
    for p in paths {
        if p.is_dir() {
            images_below(p, &mut files, &mut skipped)?;
        } else {
            files.push(p.clone());
        }
    }
    let inputs = files
        .into_iter()
        .map(|file| {
            // A header that cannot be read leaves the fields empty; decoding the file then
            // fails with the reader's own message.
            let header = if is_dicom_path(&file) {
                read_header(&file).ok()
            } else {
                None
            };
            let h = header.unwrap_or_default();
            Input {
                shown: file.display().to_string(),
                patient: h.patient_id.as_deref().map(pseudonym),
                sheet: None,
                row: None,
                laterality: h.laterality.as_deref().and_then(Laterality::parse),
                view: h.view,
                class: None,
                columns: None,
                file,
            }
        })
        .collect();
    Ok((inputs, skipped))
}

/// The labelled images of a manifest, as `options` picks them (DICOM or JPG, split
/// fractions and seed): every image, or those of one `part` of the split
/// (with a run's `options`, exactly that run's part). Files are shown relative to the
/// manifest's folder.
pub fn inputs_from_manifest(
    manifest: &Manifest,
    options: &DataOptions,
    part: Option<Part>,
) -> Result<Vec<Input>> {
    if options.input == crate::dataset::Input::Mask {
        return Err(Error::input(
            "predict",
            "this model reads films cut to their lesion's ROI mask (--input mask): predict scores whole files; evaluate the run instead",
        ));
    }
    let merged = merge(manifest)?;
    let plan = plan_merged(manifest, &merged, options)?;
    let all: Vec<usize> = (0..plan.items.len()).collect();
    let idx = match part {
        Some(p) => p.of(&plan.split),
        None => &all,
    };
    Ok(idx
        .iter()
        .map(|&i| {
            let it = &plan.items[i];
            Input {
                file: it.path.clone(),
                shown: merged.shown_path(&it.path),
                patient: Some(it.pseudonym()),
                sheet: Some(it.sheet.clone()),
                row: Some(it.row),
                laterality: it.laterality,
                view: it.view.clone(),
                class: Some(plan.classes.names()[it.class].clone()),
                columns: None,
            }
        })
        .collect())
}

/// `inputs` (from [`inputs_from_manifest`]) with the workbook values of `columns` (a fusion
/// model's, [`Predictor::covariates`]) of each one's spreadsheet row, read from `manifest`.
pub fn with_covariates(
    manifest: &Manifest,
    mut inputs: Vec<Input>,
    columns: &[String],
) -> Result<Vec<Input>> {
    let keys = inputs
        .iter()
        .map(|i| match (&i.sheet, i.row) {
            (Some(s), Some(r)) => Ok((s.as_str(), r)),
            _ => Err(Error::input(
                "covariates",
                format!("{}: no workbook row (score a manifest's images)", i.shown),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    let (names, rows) = covariate_rows(manifest, &keys, columns)?;
    if names != columns {
        return Err(Error::input(
            "covariates",
            format!(
                "the model takes columns {} but the workbook gives {}",
                name_list(columns, 4),
                name_list(&names, 4)
            ),
        ));
    }
    for (i, r) in inputs.iter_mut().zip(rows) {
        i.columns = Some(r);
    }
    Ok(inputs)
}

fn group_patient(i: &Input, level: Level) -> Result<&str> {
    i.patient.as_deref().ok_or_else(|| {
        Error::input(
            "level",
            format!(
                "{}: no patient (neither a manifest row nor a DICOM Patient ID), so it cannot be rolled up to {}s",
                i.shown,
                level.name()
            ),
        )
    })
}

/// Check before scoring that `inputs` can be rolled up to `level`: breasts and patients
/// need every image's patient.
pub fn check_level(inputs: &[Input], level: Level) -> Result<()> {
    if level != Level::Image {
        for i in inputs {
            group_patient(i, level)?;
        }
    }
    Ok(())
}

/// The decision threshold a prediction flags at, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flagging {
    /// Flag when the positive-class probability is `>=` this.
    pub threshold: f64,
    /// `given` (by the caller), `validation (<rule>)` (the checkpoint's), or `default`.
    pub source: String,
}

impl Flagging {
    /// `given` when set, else the checkpoint's threshold chosen on validation, else 0.5.
    pub fn of(predictor: &Predictor, given: Option<f64>) -> Self {
        match (given, predictor.threshold()) {
            (Some(t), _) => Self {
                threshold: t,
                source: "given".into(),
            },
            (None, Some(t)) => Self {
                threshold: t.threshold,
                source: format!("validation ({})", t.rule),
            },
            (None, None) => Self {
                threshold: 0.5,
                source: "default".into(),
            },
        }
    }
}

/// What [`predict`] made: the scored inputs, the failures, and how long it took.
#[derive(Debug, Clone)]
pub struct Predictions {
    classes: Classes,
    positive: usize,
    scored: Vec<(Input, Vec<f64>)>,
    errors: Vec<Failure>,
    flagging: Flagging,
    mirrored_unknown: usize,
    seconds: f64,
    aggregate: Aggregate,
}

/// Score `inputs` with `predictor` (see the module docs); `skipped` (from
/// [`inputs_from_paths`]) joins the failures. `progress(done, total)` follows the batches.
pub fn predict(
    predictor: &Predictor,
    inputs: Vec<Input>,
    threshold: Option<f64>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Predictions> {
    let t = Instant::now();
    let positive = predictor
        .classes()
        .require_positive("a score to flag images by")?;
    let files: Vec<(PathBuf, Option<Laterality>)> = inputs
        .iter()
        .map(|i| (i.file.clone(), i.laterality))
        .collect();
    let columns = if predictor.covariates().is_empty() {
        None
    } else {
        let rows = inputs
            .iter()
            .map(|i| i.columns.clone())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Error::input(
                    "covariates",
                    format!(
                        "this model fuses the image with workbook columns ({}): score a manifest's images (predict --manifest), whose rows hold them",
                        name_list(predictor.covariates(), 4)
                    ),
                )
            })?;
        Some(rows)
    };
    let mut request = Request::new(&files).with_progress(progress);
    if let Some(c) = &columns {
        request = request.with_columns(c);
    }
    let results = predictor.predict(request)?;
    let mut scored = vec![];
    let mut errors = vec![];
    for (input, r) in inputs.into_iter().zip(results) {
        match r {
            Ok(p) => scored.push((input, p)),
            Err(e) => errors.push(Failure {
                file: input.shown,
                error: e.to_string().replace('\n', " "),
            }),
        }
    }
    // A recipe that mirrors by the pixels needs no laterality.
    let pre = predictor.preprocess();
    let mirrored_unknown = if pre.flip_right && !pre.flip_by_pixels {
        scored
            .iter()
            .filter(|(i, _)| i.laterality.is_none())
            .count()
    } else {
        0
    };
    Ok(Predictions {
        classes: predictor.classes().clone(),
        positive,
        scored,
        errors,
        flagging: Flagging::of(predictor, threshold),
        mirrored_unknown,
        seconds: t.elapsed().as_secs_f64(),
        aggregate: Aggregate::Max,
    })
}

/// What `mammolab predict --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictSummary {
    /// The classes in output order and the positive one, whose probability `score` is (the
    /// keys `classes` and `positive`).
    #[serde(flatten)]
    pub classes: Classes,
    /// Files scored.
    pub scored: usize,
    /// Files not scored (unreadable, undecodable or skipped): the error table's rows.
    pub failed: usize,
    /// The threshold images were flagged at.
    pub threshold: Flagging,
    /// Scored images at or above it.
    pub flagged: usize,
    /// Scored images without a laterality although the recipe mirrors right breasts (they
    /// were not mirrored).
    pub unknown_laterality: usize,
    /// Seconds spent decoding and scoring.
    pub seconds: f64,
    /// Scored images per second.
    pub images_per_second: f64,
    /// Metrics at the threshold, at `level`, when every scored image has a class.
    pub metrics: Option<BinarySummary>,
    /// The level of `metrics`.
    pub level: Level,
}

impl Predictions {
    /// The classes in output order and the positive one.
    pub fn classes(&self) -> &Classes {
        &self.classes
    }

    /// Number of files scored.
    pub fn scored(&self) -> usize {
        self.scored.len()
    }

    /// The scored inputs with their class probabilities, in input order.
    pub fn rows(&self) -> &[(Input, Vec<f64>)] {
        &self.scored
    }

    /// Files that were not scored, with why.
    pub fn errors(&self) -> &[Failure] {
        &self.errors
    }

    /// Add failures found before scoring (the skipped files of [`inputs_from_paths`]).
    pub fn with_skipped(mut self, skipped: Vec<Failure>) -> Self {
        self.errors.extend(skipped);
        self
    }

    /// Roll images up to breasts and patients by `aggregate` (default: [`Aggregate::Max`],
    /// the highest image score) in [`Predictions::rollup`], the metrics of
    /// [`Predictions::summary`] and [`Predictions::submission`].
    pub fn with_aggregate(mut self, aggregate: Aggregate) -> Self {
        self.aggregate = aggregate;
        self
    }

    /// The threshold images are flagged at.
    pub fn flagging(&self) -> &Flagging {
        &self.flagging
    }

    /// The positive-class probability of each scored image.
    pub fn scores(&self) -> Vec<f64> {
        self.scored.iter().map(|(_, p)| p[self.positive]).collect()
    }

    /// One row per scored image: `file, patient, sheet, row, laterality, view, class,
    /// label` (1 when `class` is the positive class; empty when unknown), `score` (the
    /// positive-class probability), `flagged` (score >= the threshold) and `p_<class>`
    /// for every class. `label`, `score`, `patient` and `laterality` are the columns
    /// [`level_summary`] and `mammolab metrics` read.
    pub fn table(&self) -> Result<DataFrame> {
        let rows = &self.scored;
        let text = |f: &dyn Fn(&Input) -> Option<String>| -> Vec<Option<String>> {
            rows.iter().map(|(i, _)| f(i)).collect()
        };
        let positive = &self.classes.names()[self.positive];
        let scores = self.scores();
        let mut cols = vec![
            Column::new("file".into(), text(&|i| Some(i.shown.clone()))),
            Column::new("patient".into(), text(&|i| i.patient.clone())),
            Column::new("sheet".into(), text(&|i| i.sheet.clone())),
            Column::new(
                "row".into(),
                rows.iter().map(|(i, _)| i.row).collect::<Vec<_>>(),
            ),
            Column::new(
                "laterality".into(),
                text(&|i| i.laterality.map(|l| l.code().to_string())),
            ),
            Column::new("view".into(), text(&|i| i.view.clone())),
            Column::new("class".into(), text(&|i| i.class.clone())),
            Column::new(
                "label".into(),
                rows.iter()
                    .map(|(i, _)| i.class.as_ref().map(|c| u32::from(c == positive)))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "flagged".into(),
                scores
                    .iter()
                    .map(|&s| s >= self.flagging.threshold)
                    .collect::<Vec<_>>(),
            ),
            Column::new("score".into(), scores),
        ];
        for (k, name) in self.classes.names().iter().enumerate() {
            cols.push(Column::new(
                format!("p_{name}").into(),
                rows.iter().map(|(_, p)| p[k]).collect::<Vec<_>>(),
            ));
        }
        DataFrame::new_infer_height(cols).map_err(|e| Error::table("predictions", e))
    }

    /// The failures as a table: `file, error`.
    pub fn errors_table(&self) -> Result<DataFrame> {
        DataFrame::new_infer_height(vec![
            Column::new(
                "file".into(),
                self.errors
                    .iter()
                    .map(|f| f.file.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "error".into(),
                self.errors
                    .iter()
                    .map(|f| f.error.clone())
                    .collect::<Vec<_>>(),
            ),
        ])
        .map_err(|e| Error::table("prediction errors", e))
    }

    fn group_keys(&self, level: Level) -> Result<Vec<String>> {
        self.scored
            .iter()
            .map(|(i, _)| {
                let side = i.laterality.map(|l| l.code()).unwrap_or("");
                Ok(group_key(level, group_patient(i, level)?, side))
            })
            .collect()
    }

    /// The image scores rolled up to `level` (each breast's or patient's highest image
    /// score, or their mean with [`Predictions::with_aggregate`]; positive if any image is): `patient` (and `laterality` for breasts),
    /// `images`, `label` (empty when an image's class is unknown), `score`, `flagged`.
    /// An error when an image has no patient.
    pub fn rollup(&self, level: Level) -> Result<DataFrame> {
        if level == Level::Image {
            return self.table();
        }
        let keys = self.group_keys(level)?;
        let known = self.labels();
        let labels = known.clone().unwrap_or_else(|| vec![false; keys.len()]);
        let r = rollup(&keys, &labels, &self.scores(), self.aggregate)?;
        let mut first_of = std::collections::HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            first_of.entry(k).or_insert(i);
        }
        let first: Vec<&Input> = r
            .groups
            .iter()
            .map(|g| &self.scored[first_of[g]].0)
            .collect();
        let mut cols = vec![Column::new(
            "patient".into(),
            first.iter().map(|i| i.patient.clone()).collect::<Vec<_>>(),
        )];
        if level == Level::Breast {
            cols.push(Column::new(
                "laterality".into(),
                first
                    .iter()
                    .map(|i| i.laterality.map(|l| l.code().to_string()))
                    .collect::<Vec<_>>(),
            ));
        }
        cols.extend([
            Column::new(
                "images".into(),
                r.sizes.iter().map(|&n| n as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "label".into(),
                r.labels
                    .iter()
                    .map(|&l| known.is_some().then_some(u32::from(l)))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "flagged".into(),
                r.scores
                    .iter()
                    .map(|&s| s >= self.flagging.threshold)
                    .collect::<Vec<_>>(),
            ),
            Column::new("score".into(), r.scores.clone()),
        ]);
        DataFrame::new_infer_height(cols).map_err(|e| Error::table("predictions", e))
    }

    /// Positive or not for each scored image, when every one has a class.
    fn labels(&self) -> Option<Vec<bool>> {
        let positive = &self.classes.names()[self.positive];
        self.scored
            .iter()
            .map(|(i, _)| i.class.as_ref().map(|c| c == positive))
            .collect()
    }

    /// Counts, threshold, speed, and metrics at `level` when the images have classes
    /// (from a manifest) of both kinds.
    pub fn summary(&self, level: Level) -> Result<PredictSummary> {
        let scores = self.scores();
        let metrics = match self.labels() {
            Some(l) if l.iter().any(|&x| x) && l.iter().any(|&x| !x) => Some(level_summary_by(
                &self.table()?,
                self.flagging.threshold,
                level,
                self.aggregate,
            )?),
            _ => None,
        };
        Ok(PredictSummary {
            classes: self.classes.clone(),
            scored: self.scored.len(),
            failed: self.errors.len(),
            threshold: self.flagging.clone(),
            flagged: scores
                .iter()
                .filter(|&&s| s >= self.flagging.threshold)
                .count(),
            unknown_laterality: self.mirrored_unknown,
            seconds: self.seconds,
            images_per_second: if self.seconds > 0.0 {
                self.scored.len() as f64 / self.seconds
            } else {
                0.0
            },
            metrics,
            level,
        })
    }

    /// Write the image table to `out` (CSV), the roll-up beside it as
    /// `<stem>.<level>.csv` when `level` is breast or patient, and the failures as
    /// `<stem>.errors.csv` (always, so an empty one says nothing failed). Returns the
    /// paths written. Each file is written whole under a temporary name and renamed.
    pub fn write(&self, out: &Path, level: Level) -> Result<Vec<PathBuf>> {
        let _lock = crate::outlock::OutLock::file(out)?;
        let beside = |suffix: &str| {
            let stem = out
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "predictions".into());
            out.with_file_name(format!("{stem}.{suffix}.csv"))
        };
        // Every table is made before any is written.
        let mut tables = vec![(out.to_path_buf(), self.table()?)];
        if level != Level::Image {
            tables.push((beside(level.name()), self.rollup(level)?));
        }
        tables.push((beside("errors"), self.errors_table()?));
        for (p, t) in &mut tables {
            write_csv(t, p)?;
        }
        Ok(tables.into_iter().map(|(p, _)| p).collect())
    }
}

impl Predictions {
    /// The RSNA screening competition's submission: one row per breast, `prediction_id`
    /// (`<patient_id>_<laterality>`, the patient id as the DICOM header's Patient ID, not
    /// a pseudonym: the competition matches on it) and `cancer` (the breast's images'
    /// scores rolled up by the aggregate, max by default), breasts in order of their first
    /// image. An error naming the file when an image has no Patient ID or no laterality.
    pub fn submission(&self) -> Result<DataFrame> {
        let ids = self
            .scored
            .iter()
            .map(|(i, _)| {
                let missing = |what: &str| {
                    Error::data(
                        &i.file,
                        format!(
                            "no {what}, so no submission prediction_id <patient_id>_<laterality>"
                        ),
                    )
                };
                let patient = read_header(&i.file)
                    .ok()
                    .and_then(|h| h.patient_id)
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| missing("DICOM Patient ID (0010,0020)"))?;
                let side = i.laterality.ok_or_else(|| missing("laterality"))?;
                Ok(format!("{}_{}", patient.trim(), side.code()))
            })
            .collect::<Result<Vec<String>>>()?;
        let r = rollup(
            &ids,
            &vec![false; ids.len()],
            &self.scores(),
            self.aggregate,
        )?;
        DataFrame::new_infer_height(vec![
            Column::new("prediction_id".into(), r.groups),
            Column::new("cancer".into(), r.scores),
        ])
        .map_err(|e| Error::table("submission", e))
    }

    /// Write [`Predictions::submission`] to `path` as CSV (whole, under a temporary name,
    /// then renamed).
    pub fn write_submission(&self, path: &Path) -> Result<()> {
        let _lock = crate::outlock::OutLock::file(path)?;
        write_csv(&mut self.submission()?, path)
    }
}

/// The image table's columns that lead each row of [`Predictions::features`].
pub const FEATURE_ID_COLUMNS: [&str; 8] = [
    "file",
    "patient",
    "sheet",
    "row",
    "laterality",
    "view",
    "class",
    "label",
];

impl Predictions {
    /// The activations of layer `layer` ([`crate::model::layers`]) of every scored image,
    /// one row each: the image table's `file, patient, sheet, row, laterality, view,
    /// class, label`, then `<layer>.0`, `<layer>.1`, ... (f32). The images are decoded
    /// again; `progress(done, total)` follows the batches.
    pub fn features(
        &self,
        predictor: &Predictor,
        layer: &str,
        pool: crate::model::layers::Pool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<DataFrame> {
        let files: Vec<(PathBuf, Option<Laterality>)> = self
            .scored
            .iter()
            .map(|(i, _)| (i.file.clone(), i.laterality))
            .collect();
        let rows = predictor
            .features(Request::new(&files).with_progress(progress), layer, pool)?
            .into_iter()
            .zip(&self.scored)
            .map(|(r, (i, _))| r.map_err(|e| Error::data(&i.file, e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let width = rows.first().map_or(0, Vec::len);
        let table = self.table()?;
        let mut cols: Vec<Column> = FEATURE_ID_COLUMNS
            .iter()
            .map(|c| {
                table
                    .column(c)
                    .cloned()
                    .map_err(|e| Error::table("features", e))
            })
            .collect::<Result<_>>()?;
        for k in 0..width {
            cols.push(Column::new(
                format!("{layer}.{k}").into(),
                rows.iter().map(|r| r[k]).collect::<Vec<f32>>(),
            ));
        }
        DataFrame::new_infer_height(cols).map_err(|e| Error::table("features", e))
    }
}

/// What [`write_saliency`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaliencyWritten {
    /// The folder.
    pub dir: PathBuf,
    /// `grad_cam` or `occlusion`.
    pub method: &'static str,
    /// The class explained.
    pub class: String,
    /// The layer Grad-CAM explains (PyTorch name in the exported weights).
    pub layer: Option<String>,
    /// Overlays written (one PNG per image).
    pub images: usize,
    /// Files that could not be read this time (also in the table, with no peak).
    pub failed: usize,
}

/// The index of class `name` among `classes` (default: the positive class), or a
/// one-line error listing them (or saying that they name no positive class).
pub fn class_index(classes: &Classes, name: Option<&str>) -> Result<usize> {
    match name {
        None => classes.require_positive("a default class to explain"),
        Some(n) => classes.index(n).ok_or_else(|| Error::Param {
            name: "class",
            message: format!(
                "{n:?} is not one of the model's classes {:?}",
                classes.names()
            ),
        }),
    }
}

/// Saliency maps of the scored images of `predictions` for class `class`, into `dir`:
/// `saliency.csv` (file, patient, laterality, view, probability of the class, the map's peak
/// in image pixels, empty when nothing in the map is positive, the overlay's name, and why
/// a file could not be read again when it could not), one PNG per image (the decoded image
/// beside it with the map laid over it and the peak crossed) and `saliency.safetensors`
/// (`input` `[n, c, h, w]` as the model saw it, `map` `[n, h, w]`; for Grad-CAM also
/// `weights` `[n, k]` and `raw` `[n, h', w']` before the ReLU; one entry per table row with
/// an overlay, in order) for checking against another framework. Images are decoded and
/// explained 64 at a time, so memory stays bounded whatever the number of files.
pub fn write_saliency(
    predictor: &Predictor,
    predictions: &Predictions,
    class: usize,
    method: crate::model::saliency::Method,
    dir: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SaliencyWritten> {
    use crate::model::saliency::Method;
    use crate::plot::{image_grid, Figure, Tile};
    let _lock = crate::outlock::OutLock::folder(dir)?;
    let classes = predictor.classes().names();
    let name = classes.get(class).cloned().ok_or_else(|| Error::Param {
        name: "class",
        message: format!("class {class} of {} classes", classes.len()),
    })?;
    let inputs: Vec<&Input> = predictions.scored.iter().map(|(i, _)| i).collect();
    let mut rows: Vec<[String; 9]> = vec![];
    let (mut tensors_in, mut weights, mut raws, mut ups) = (vec![], vec![], vec![], vec![]);
    let (mut k, mut fside) = (0, [0, 0]);
    let mut failed = 0;
    // A chunk at a time: each map holds its decoded image, which for a full-field
    // mammogram is tens of megabytes.
    const CHUNK: usize = 64;
    for (ci, chunk) in inputs.chunks(CHUNK).enumerate() {
        let files: Vec<(PathBuf, Option<Laterality>)> = chunk
            .iter()
            .map(|i| (i.file.clone(), i.laterality))
            .collect();
        let columns: Option<Vec<Vec<f64>>> = chunk.iter().map(|i| i.columns.clone()).collect();
        let mut each = |done, _| progress(ci * CHUNK + done, inputs.len());
        let mut request = Request::new(&files).with_progress(&mut each);
        if let Some(c) = &columns {
            request = request.with_columns(c);
        }
        let maps = predictor.saliency(request, class, method)?;
        for (j, (input, m)) in chunk.iter().zip(maps).enumerate() {
            let n = ci * CHUNK + j;
            let [a, b, c, d] = [
                input.shown.clone(),
                input.patient.clone().unwrap_or_default(),
                input.laterality.map(|l| l.to_string()).unwrap_or_default(),
                input.view.clone().unwrap_or_default(),
            ];
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    failed += 1;
                    let none = String::new;
                    let error = e.to_string().replace('\n', " ");
                    rows.push([a, b, c, d, none(), none(), none(), none(), error]);
                    continue;
                }
            };
            let stem = input
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let png = format!("{n:05}_{stem}.png");
            let peak = m.peak();
            let p = m.probabilities.get(class).copied().unwrap_or(f64::NAN);
            let heat = m.on_image()?;
            let tile = |caption: String| match &m.colour {
                Some(planes) => Tile::colour(planes, caption),
                None => Tile::new(&m.image, caption),
            };
            let left = tile(stem.clone());
            let mut right =
                tile(format!("{} p({name}) = {p:.3}", method.name())).with_heat(&heat.pixels)?;
            if let Some((x, y)) = peak {
                right = right.with_cross(x as f32, y as f32);
            }
            let aspect = m.image.height as f64 / m.image.width.max(1) as f64;
            let h = (300.0 * aspect).clamp(150.0, 900.0) as u32 + 60;
            Figure::png(640, h, |a| image_grid(a, &[left, right], 2, &input.shown))?
                .save(dir.join(&png))?;
            if let Some(g) = &m.grad_cam {
                k = g.weights.len();
                fside = g.feature_size;
                weights.extend_from_slice(&g.weights);
                raws.extend_from_slice(&g.raw);
            }
            ups.extend_from_slice(&m.map.pixels);
            tensors_in.extend_from_slice(&m.values);
            let (px, py) = peak.map_or((String::new(), String::new()), |(x, y)| {
                (format!("{x:.1}"), format!("{y:.1}"))
            });
            rows.push([a, b, c, d, format!("{p}"), px, py, png, String::new()]);
        }
    }
    let col = |j: usize, name: &str| {
        Column::new(
            name.into(),
            rows.iter().map(|r| r[j].clone()).collect::<Vec<_>>(),
        )
    };
    let mut table = DataFrame::new_infer_height(vec![
        col(0, "file"),
        col(1, "patient"),
        col(2, "laterality"),
        col(3, "view"),
        col(4, &format!("p_{name}")),
        col(5, "peak_x"),
        col(6, "peak_y"),
        col(7, "overlay"),
        col(8, "error"),
    ])
    .map_err(|e| Error::table("saliency", e))?;
    write_csv(&mut table, &dir.join("saliency.csv"))?;
    let done = inputs.len() - failed;
    if done > 0 {
        let [c, h, w] = predictor.preprocess().input_shape();
        let mut tensors: Vec<(&str, Vec<usize>, &[f32])> = vec![
            ("input", vec![done, c, h, w], &tensors_in),
            ("map", vec![done, h, w], &ups),
        ];
        if method == Method::GradCam {
            tensors.push(("weights", vec![done, k], &weights));
            tensors.push(("raw", vec![done, fside[0], fside[1]], &raws));
        }
        crate::model::checkpoint::write_tensors(&dir.join("saliency.safetensors"), &tensors)?;
    }
    Ok(SaliencyWritten {
        dir: dir.to_path_buf(),
        method: method.name(),
        class: name,
        layer: (method == Method::GradCam).then(|| predictor.grad_cam_layer()),
        images: done,
        failed,
    })
}
