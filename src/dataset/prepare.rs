//! A merged cohort made ready to train on: one item per image file, a patient-grouped
//! train / validation / test split checked for leakage, and every image decoded through
//! the run's [`Preprocess`] (cached).
//!
//! [`DataOptions`] is everything that decides which pixels a model sees; it is saved in
//! `run.json`, and its `preprocess` in every checkpoint.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};

use super::tabular::{covariate_rows, Covariates, Standardiser};
use super::{grouped_split, leakage, load_regions, Fractions, Preprocess, Samples, Split};
use crate::classes::Classes;
use crate::error::{Error, Result};
use crate::imaging::{Filter, Gray};
use crate::ingest::merge::{merge, Laterality, MergeResult};
use crate::manifest::Manifest;

/// The intensity normalisation of [`DataOptions::new`]: `(x - mean) / std` with these
/// (mean, std).
pub const NORMALISE: (f32, f32) = (0.5, 0.25);

/// Which file of a record to read when it has both a DICOM and a JPG export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// The JPG export (what seed 001 trained on), else the DICOM.
    #[default]
    PreferJpg,
    /// The DICOM, else the JPG export.
    PreferDicom,
}

/// Which image of a record a model sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The whole image (a mammogram; the film of a CBIS-DDSM row).
    #[default]
    Full,
    /// The lesion's cropped image (CBIS-DDSM's crop of each abnormality; needs a manifest
    /// whose image root has a `roi_column`): one sample per row, not per film.
    Roi,
    /// The film cut to the box of the lesion's ROI mask, widened by half its size
    /// ([`lesion_box`](super::images::lesion_box)): the lesion with its surroundings, cut
    /// from the film by mammolab rather than by the download. One sample per row.
    Mask,
}

impl Input {
    fn is_full(&self) -> bool {
        *self == Input::Full
    }
}

/// What decides the data a model sees: labels, split, files and preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataOptions {
    /// DICOM or JPG when a record has both.
    pub source: ImageSource,
    /// The whole image or the lesion crop.
    #[serde(default, skip_serializing_if = "Input::is_full")]
    pub input: Input,
    /// Patient shares of train / validation / test.
    pub fractions: Fractions,
    /// Seed of the split.
    pub seed: u64,
    /// Crop, flip, resize and normalisation of every image.
    pub preprocess: Preprocess,
    /// Folder of decoded-image caches (`None`: decode every time).
    pub cache_dir: Option<PathBuf>,
    /// Leave one source out: in a cohort of several downloads (`[[source]]`), the test part
    /// is every image of this source, and training and validation come from the others
    /// (the validation share of [`DataOptions::fractions`]' train + validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_source: Option<String>,
}

impl DataOptions {
    /// `size` x `size` inputs cropped to the breast (threshold 0.05), right breasts mirrored,
    /// shrunk by [`Filter::Max`](crate::imaging::Filter::Max) (the brightest pixel of each
    /// box, so calcification clusters survive a 6x shrink), normalised with [`NORMALISE`];
    /// JPG exports first; 70 / 15 / 15 patient split with seed 42; no cache. (The classes
    /// and the positive one are the manifest's: [`Manifest::classes`].)
    pub fn new(size: usize) -> Self {
        Self {
            source: ImageSource::PreferJpg,
            input: Input::Full,
            fractions: Fractions::new(0.7, 0.15, 0.15).expect("valid fractions"),
            seed: 42,
            preprocess: Preprocess::new(size, size)
                .with_crop(0.05)
                .with_flip_right()
                .with_filter(Filter::Max)
                .with_normalise(NORMALISE.0, NORMALISE.1),
            cache_dir: None,
            holdout_source: None,
        }
    }

    /// Square inputs of `size` pixels (the rest of the recipe unchanged).
    pub fn with_size(mut self, size: usize) -> Self {
        self.preprocess.width = size;
        self.preprocess.height = size;
        self
    }

    /// Resample with `filter` ([`Filter::Max`](crate::imaging::Filter::Max) keeps
    /// calcifications that averaging dilutes).
    pub fn with_filter(mut self, filter: crate::imaging::Filter) -> Self {
        self.preprocess.filter = filter;
        self
    }

    /// Mirror by the laterality (the default) or by the pixels ([`Orient`](super::Orient)).
    pub fn with_orient(mut self, orient: super::Orient) -> Self {
        self.preprocess = self.preprocess.with_orient(orient);
        self
    }

    /// DICOM or JPG first.
    pub fn with_source(mut self, source: ImageSource) -> Self {
        self.source = source;
        self
    }

    /// Patient shares of train / validation / test.
    pub fn with_fractions(mut self, fractions: Fractions) -> Self {
        self.fractions = fractions;
        self
    }

    /// The whole image or the lesion crop.
    pub fn with_input(mut self, input: Input) -> Self {
        self.input = input;
        self
    }

    /// Seed of the split.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Another preprocessing recipe.
    pub fn with_preprocess(mut self, preprocess: Preprocess) -> Self {
        self.preprocess = preprocess;
        self
    }

    /// The default options around `preprocess` (a checkpoint's recipe, say): its size is
    /// the images', and nothing else is typed twice.
    pub fn for_recipe(preprocess: Preprocess) -> Self {
        Self::new(preprocess.width).with_preprocess(preprocess)
    }

    /// Cache decoded images in `dir` (`None`: no cache).
    pub fn with_cache(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Test on every image of the source `name` and train on the others (`None`: the
    /// usual patient split); see [`DataOptions::holdout_source`].
    pub fn with_holdout_source(mut self, name: Option<String>) -> Self {
        self.holdout_source = name;
        self
    }

    /// Check the options before any file is read.
    pub fn validate(&self) -> Result<()> {
        let p = &self.preprocess;
        if p.width < 8 || p.height < 8 {
            return Err(Error::Param {
                name: "size",
                message: format!("{} x {} is below 8 pixels a side", p.width, p.height),
            });
        }
        if let Some((_, s)) = p.normalise {
            if !(s > 0.0 && s.is_finite()) {
                return Err(Error::Param {
                    name: "normalise",
                    message: format!("std {s} is not a positive number"),
                });
            }
        }
        Ok(())
    }
}

/// One image to learn from.
#[derive(Debug, Clone)]
pub struct ImageItem {
    /// The image file (JPG or DICOM), resolved.
    pub path: PathBuf,
    /// The lesion's ROI mask the film is cut to ([`Input::Mask`]), if any.
    pub mask: Option<PathBuf>,
    /// Which breast, when the listing says.
    pub laterality: Option<Laterality>,
    /// View (CC, MLO, ...), when the row or listing says.
    pub view: Option<String>,
    /// Class index (order of [`Prepared::classes`]).
    pub class: usize,
    /// The workbook's patient id. Never display it: use [`ImageItem::pseudonym`].
    pub patient: String,
    /// Sheet of the labelled row.
    pub sheet: String,
    /// Spreadsheet row number.
    pub row: u32,
    /// The row's value in the manifest's `[split]` column, when it has one.
    pub split_value: Option<String>,
    /// The `[[source]]` the image comes from, in a cohort of several downloads.
    pub source: Option<String>,
}

impl ImageItem {
    /// The patient as a shareable pseudonym ([`crate::privacy::pseudonym`]).
    pub fn pseudonym(&self) -> String {
        crate::privacy::pseudonym(&self.patient)
    }

    /// Whether the image is of a right breast (mirrored by [`Preprocess::with_flip_right`]).
    pub fn is_right(&self) -> bool {
        self.laterality == Some(Laterality::Right)
    }
}

/// One part of a train / validation / test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// What the model learns from.
    Train,
    /// What early stopping and thresholds are chosen on.
    Validation,
    /// What the reported metrics come from.
    Test,
}

impl Part {
    /// Train, validation, test.
    pub const ALL: [Part; 3] = [Part::Train, Part::Validation, Part::Test];

    /// `train`, `validation` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Validation => "validation",
            Part::Test => "test",
        }
    }

    /// The sample indices of this part of `split`.
    pub fn of(self, split: &Split) -> &[usize] {
        match self {
            Part::Train => &split.train,
            Part::Validation => &split.val,
            Part::Test => &split.test,
        }
    }
}

/// Images and patients in one part of the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartCounts {
    /// Images per class (class order of [`Prepared::classes`]).
    pub images: Vec<usize>,
    /// Distinct patient ids (0 where the images carry none).
    pub patients: usize,
}

/// How much a split leaks patients into its test part ([`SplitLeak::of`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitLeak {
    /// Patients found in more than one part ([`leakage`]).
    pub shared_patients: usize,
    /// Distinct patients in the test part.
    pub test_patients: usize,
    /// Of those, patients who also have images in the training part.
    pub test_patients_in_train: usize,
    /// Positive-class test images whose patient has images in the training part.
    pub positive_test_images_seen: usize,
}

impl SplitLeak {
    /// Count what `split` shares between its parts, for samples of patients `groups` and
    /// classes `classes` (`positive` = the positive class index; with none, no image counts
    /// as a positive one seen).
    pub fn of<G: AsRef<str>>(
        split: &Split,
        groups: &[G],
        classes: &[usize],
        positive: Option<usize>,
    ) -> Result<Self> {
        let g: Vec<&str> = groups.iter().map(|g| g.as_ref()).collect();
        let parts: Vec<(&str, &[usize])> =
            Part::ALL.iter().map(|p| (p.name(), p.of(split))).collect();
        let report = leakage(&parts, &g, None, 0)?;
        let train: HashSet<&str> = split.train.iter().map(|&i| g[i]).collect();
        let test: HashSet<&str> = split.test.iter().map(|&i| g[i]).collect();
        Ok(Self {
            shared_patients: report.shared_groups.len(),
            test_patients: test.len(),
            test_patients_in_train: test.intersection(&train).count(),
            positive_test_images_seen: split
                .test
                .iter()
                .filter(|&&i| Some(classes[i]) == positive && train.contains(g[i]))
                .count(),
        })
    }
}

/// A cohort ready to train on: the merge's images, split by patient, decoded into tensors.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The classes, as the manifest names them ([`Manifest::classes`]).
    pub classes: Classes,
    /// One entry per image file, in sample order.
    pub items: Vec<ImageItem>,
    /// Sample indices of the train / validation / test parts (patient-grouped).
    pub split: Split,
    /// Every image as a tensor (sample order of `items`).
    pub all: Samples,
    /// The options it was prepared with.
    pub options: DataOptions,
    /// Labelled rows of the workbooks.
    pub rows: usize,
    /// Rows left out: no image file (see the merge audit) or an image already used.
    pub left_out: usize,
    /// Seconds spent decoding and resizing (0.x when cached).
    pub decode_seconds: f64,
    /// How the workbook columns `all` carries were standardised (fitted on the training
    /// part), after [`Prepared::with_covariates`].
    pub scaler: Option<Standardiser>,
}

/// One item per image file of the merge's records; also returns how many records were left
/// out. A file used by several rows counts once, with the first row's class unless another
/// row says the positive class (a CBIS-DDSM film with a benign and a malignant lesion is a
/// malignant film).
fn items(
    merged: &MergeResult,
    classes: &Classes,
    options: &DataOptions,
) -> (Vec<ImageItem>, usize) {
    let mut seen: HashMap<(&PathBuf, Option<&PathBuf>), usize> = HashMap::new();
    let mut out: Vec<ImageItem> = vec![];
    for r in &merged.records {
        let film = match options.source {
            ImageSource::PreferDicom => r.dicom.as_ref().or(r.jpg.as_ref()),
            ImageSource::PreferJpg => r.jpg.as_ref().or(r.dicom.as_ref()),
        };
        let (file, mask) = match options.input {
            Input::Roi => (r.roi_crop.as_ref(), None),
            Input::Full => (film, None),
            Input::Mask => match r.roi_mask.as_ref() {
                Some(m) => (film, Some(m)),
                None => (None, None),
            },
        };
        let Some(file) = file else { continue };
        // Every record's label is one of `classes` (they were collected from the records).
        let Some(class) = classes.index(&r.label) else {
            continue;
        };
        if let Some(&i) = seen.get(&(file, mask)) {
            if classes.positive() == Some(class) {
                out[i].class = class;
            }
            continue;
        }
        seen.insert((file, mask), out.len());
        out.push(ImageItem {
            path: file.clone(),
            mask: mask.cloned(),
            laterality: r.laterality,
            view: r.view.clone(),
            class,
            patient: r.patient_id.clone(),
            sheet: r.sheet.clone(),
            row: r.row,
            split_value: r.split_value.clone(),
            source: r.source.clone(),
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
        // An image without a patient id (Kaggle's DDSM patches) names no patient.
        if !items[i].patient.is_empty() {
            patients.insert(&items[i].patient);
        }
    }
    PartCounts {
        images,
        patients: patients.len(),
    }
}

/// Merge, pick one image per file, split by patient (checked by [`leakage`]), decode and
/// preprocess as `options` says (cached in `options.cache_dir`).
pub fn prepare(manifest: &Manifest, options: &DataOptions) -> Result<Prepared> {
    options.validate()?;
    let merged = merge(manifest)?;
    prepare_merged(manifest, &merged, options)
}

/// Which images of a merge a model sees and in which part, decided without decoding a
/// pixel: what [`prepare_merged`] decodes, and what `mammolab predict --part` scores again.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The classes, as the manifest names them ([`Manifest::classes`]).
    pub classes: Classes,
    /// One entry per image file, in sample order.
    pub items: Vec<ImageItem>,
    /// Sample indices of the train / validation / test parts (patient-grouped, no patient
    /// in two parts).
    pub split: Split,
    /// Labelled rows of the workbooks.
    pub rows: usize,
    /// Rows left out: no image file (see the merge audit) or an image already used.
    pub left_out: usize,
}

/// Classes (the manifest's, [`Manifest::classes`]), one item per image file and the
/// patient-grouped split of `manifest`'s merge, as `options` says (checked by [`leakage`]).
pub fn plan_merged(
    manifest: &Manifest,
    merged: &MergeResult,
    options: &DataOptions,
) -> Result<Plan> {
    options.validate()?;
    let classes = manifest.classes(merged.records.iter().map(|r| r.label.as_str()))?;
    if options.input == Input::Mask && merged.records.iter().all(|r| r.roi_mask.is_none()) {
        return Err(Error::input(
            "input",
            "lesion boxes (--input mask) need a manifest whose image root names ROI masks (`roi_column`, CBIS-DDSM's `ROI mask file path`); this merge found none",
        ));
    }
    if options.input == Input::Roi && merged.records.iter().all(|r| r.roi_crop.is_none()) {
        return Err(Error::input(
            "input",
            "lesion crops (--input roi) need a manifest whose image root names them (`roi_column`, CBIS-DDSM's `ROI mask file path`); this merge found none",
        ));
    }
    let (items, mut left_out) = items(merged, &classes, options);
    let labels: Vec<usize> = items.iter().map(|i| i.class).collect();
    // A divided download without patient ids (Kaggle's DDSM patches): each image is its
    // own group. Otherwise a row without a patient id groups with the others without one.
    let groups: Vec<String> = items
        .iter()
        .map(|i| match i.patient.is_empty() && manifest.split.is_some() {
            true => i.path.display().to_string(),
            false => i.patient.clone(),
        })
        .collect();
    // A cohort of several downloads is balanced by source and class together, so that
    // every source is in every part as far as its patients allow (per-source metrics).
    let strata: Vec<usize> = match items.iter().any(|i| i.source.is_some()) {
        false => labels.clone(),
        true => {
            let mut names: Vec<Option<&str>> = items.iter().map(|i| i.source.as_deref()).collect();
            names.sort_unstable();
            names.dedup();
            let k = classes.len();
            items
                .iter()
                .map(|i| {
                    let s = names.binary_search(&i.source.as_deref()).unwrap_or(0);
                    s * k + i.class
                })
                .collect()
        }
    };
    let split = match (&options.holdout_source, &manifest.split) {
        (Some(name), _) => held_out(name, &items, &strata, &groups, options)?,
        (None, None) => grouped_split(&strata, &groups, options.fractions, options.seed)?,
        (None, Some(rule)) => {
            let (split, unlisted) = divided(rule, &items, &strata, &groups, options)?;
            left_out += unlisted;
            split
        }
    };
    let leak = SplitLeak::of(&split, &groups, &labels, classes.positive())?;
    if leak.shared_patients > 0 {
        return Err(Error::input(
            "split",
            format!(
                "{} patients are in more than one part",
                leak.shared_patients
            ),
        ));
    }
    Ok(Plan {
        classes,
        items,
        split,
        rows: merged.records.len(),
        left_out,
    })
}

/// The split a manifest's `[split]` rule gives: each item's part by its row's value (an
/// item whose value no list names is left out, counted in the second value), validation
/// drawn from the training items (grouped, stratified, with the options' validation share
/// of train + validation) when the rule lists no validation values.
fn divided(
    rule: &crate::manifest::SplitRule,
    items: &[ImageItem],
    strata: &[usize],
    groups: &[String],
    options: &DataOptions,
) -> Result<(Split, usize)> {
    let mut parts: [Vec<usize>; 3] = Default::default();
    let mut unlisted = 0;
    for (i, item) in items.iter().enumerate() {
        let v = item.split_value.as_deref().unwrap_or_default();
        let part = [&rule.train, &rule.validation, &rule.test]
            .iter()
            .position(|list| list.iter().any(|x| x == v));
        match part {
            Some(p) => parts[p].push(i),
            None => unlisted += 1,
        }
    }
    let [train, val, test] = parts;
    let named = match &rule.column {
        Some(c) => format!("`{c}` value"),
        None => "sheet name".into(),
    };
    for (name, part, values) in [("train", &train, &rule.train), ("test", &test, &rule.test)] {
        if part.is_empty() {
            return Err(Error::input(
                "split",
                format!("no image has a {named} of [split] {name} {values:?}"),
            ));
        }
    }
    let (train, val) = match rule.validation.is_empty() {
        true => draw_validation(train, strata, groups, options)?,
        false => (train, val),
    };
    Ok((Split { train, val, test }, unlisted))
}

/// Leave the source `name` out: every image of it in the test part, the others in training
/// and validation (drawn as [`draw_validation`] does). A cohort of one download, or a name
/// that is not one of its sources, is an error naming the sources.
fn held_out(
    name: &str,
    items: &[ImageItem],
    strata: &[usize],
    groups: &[String],
    options: &DataOptions,
) -> Result<Split> {
    let mut sources: Vec<&str> = items.iter().filter_map(|i| i.source.as_deref()).collect();
    sources.sort_unstable();
    sources.dedup();
    if sources.is_empty() {
        return Err(Error::input(
            "holdout source",
            format!("`{name}`: the cohort is one download; leaving a source out needs a manifest of several ([[source]])"),
        ));
    }
    if !sources.contains(&name) {
        return Err(Error::input(
            "holdout source",
            format!(
                "no source is named `{name}` (the cohort's: {})",
                sources.join(", ")
            ),
        ));
    }
    if sources.len() < 2 {
        return Err(Error::input(
            "holdout source",
            format!("`{name}` is the cohort's only source: nothing is left to train on"),
        ));
    }
    let (test, rest): (Vec<usize>, Vec<usize>) =
        (0..items.len()).partition(|&i| items[i].source.as_deref() == Some(name));
    let (train, val) = draw_validation(rest, strata, groups, options)?;
    Ok(Split { train, val, test })
}

/// Validation drawn from `train` (indices into `strata` and `groups`), patient-grouped and
/// stratified, with the options' validation share of train + validation (none when it is 0).
fn draw_validation(
    train: Vec<usize>,
    strata: &[usize],
    groups: &[String],
    options: &DataOptions,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let f = options.fractions;
    if f.val <= 0.0 {
        return Ok((train, vec![]));
    }
    let share = f.val / (f.train + f.val);
    let sub_strata: Vec<usize> = train.iter().map(|&i| strata[i]).collect();
    let sub_groups: Vec<&str> = train.iter().map(|&i| groups[i].as_str()).collect();
    let inner = grouped_split(
        &sub_strata,
        &sub_groups,
        Fractions::new(1.0 - share, share, 0.0)?,
        options.seed,
    )?;
    Ok((
        inner.train.iter().map(|&j| train[j]).collect(),
        inner.val.iter().map(|&j| train[j]).collect(),
    ))
}

/// [`prepare`] on a merge already made.
pub fn prepare_merged(
    manifest: &Manifest,
    merged: &MergeResult,
    options: &DataOptions,
) -> Result<Prepared> {
    let Plan {
        classes,
        items,
        split,
        rows,
        left_out,
    } = plan_merged(manifest, merged, options)?;
    let labels: Vec<usize> = items.iter().map(|i| i.class).collect();
    let t0 = Instant::now();
    let files: Vec<(PathBuf, Option<PathBuf>, bool)> = items
        .iter()
        .map(|i| (i.path.clone(), i.mask.clone(), i.is_right()))
        .collect();
    let tag = manifest
        .tables
        .iter()
        .filter_map(|t| t.sha256.clone())
        .collect::<Vec<_>>()
        .join(",");
    let batch = load_regions(
        &files,
        &options.preprocess,
        options.cache_dir.as_deref(),
        &tag,
    )?;
    let all = Samples::from_batch(batch, labels)?;
    Ok(Prepared {
        classes,
        items,
        split,
        all,
        options: options.clone(),
        rows,
        left_out,
        decode_seconds: t0.elapsed().as_secs_f64(),
        scaler: None,
    })
}

impl Prepared {
    /// The same cohort with the workbook columns `columns` of each image's row beside its
    /// pixels (for a fusion model; names as [`covariate_rows`] takes them, `original_*` for a
    /// prefix): standardised with the training part's mean and standard deviation, a missing
    /// value replaced by the training mean (see [`Standardiser`]). A column that is not in
    /// every labelled sheet, or not numeric, is a one-line error.
    pub fn with_covariates(mut self, manifest: &Manifest, columns: &[String]) -> Result<Self> {
        let keys: Vec<(&str, u32)> = self
            .items
            .iter()
            .map(|i| (i.sheet.as_str(), i.row))
            .collect();
        let (names, rows) = covariate_rows(manifest, &keys, columns)?;
        let train: Vec<Vec<f64>> = self.split.train.iter().map(|&i| rows[i].clone()).collect();
        let scaler = Standardiser::fit(&train, &names, "covariates")?;
        self.all = self.all.with_covariates(Covariates::new(&scaler, &rows)?)?;
        self.scaler = Some(scaler);
        Ok(self)
    }

    /// The standardised workbook columns of `part`'s images, one row each (`None` before
    /// [`Prepared::with_covariates`]): what the fusion model sees, for a tabular baseline on
    /// the same images.
    pub fn covariates(&self, part: Part) -> Option<Vec<Vec<f64>>> {
        let c = self.all.covariates.as_ref()?;
        let k = c.width();
        Some(
            c.gather(self.indices(part))
                .chunks(k)
                .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                .collect(),
        )
    }

    /// Index of the positive class, or an error when the manifest names none.
    pub fn positive(&self) -> Result<usize> {
        self.classes.require_positive("a binary label")
    }

    /// `[channels, height, width]` of every sample: the input shape of a model for them.
    pub fn input_shape(&self) -> [usize; 3] {
        self.all.image_shape()
    }

    /// Sample indices of `part`.
    pub fn indices(&self, part: Part) -> &[usize] {
        part.of(&self.split)
    }

    /// The images of `part`.
    pub fn samples(&self, part: Part) -> Samples {
        self.all.subset(self.indices(part))
    }

    /// Training images.
    pub fn train(&self) -> Samples {
        self.samples(Part::Train)
    }

    /// Validation images.
    pub fn val(&self) -> Samples {
        self.samples(Part::Validation)
    }

    /// Test images.
    pub fn test(&self) -> Samples {
        self.samples(Part::Test)
    }

    /// `true` for the positive-class samples of `part` (an error when the classes name no
    /// positive one).
    pub fn labels(&self, part: Part) -> Result<Vec<bool>> {
        self.is_positive(self.indices(part))
    }

    /// `true` for positive-class samples among `idx` (an error when the classes name no
    /// positive one).
    pub fn is_positive(&self, idx: &[usize]) -> Result<Vec<bool>> {
        let p = self.positive()?;
        Ok(idx.iter().map(|&i| self.items[i].class == p).collect())
    }

    /// Pseudonymous patient of each sample among `idx`.
    pub fn pseudonyms(&self, idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| self.items[i].pseudonym()).collect()
    }

    /// Sample `i` of `samples` (made by this preparation) back in [0, 1] grey, first channel.
    pub fn image(&self, samples: &Samples, i: usize) -> Gray {
        let [_, c, h, w] = samples.shape;
        let start = i * c * h * w;
        self.options
            .preprocess
            .unapply(&samples.data[start..start + h * w])
    }

    /// Images and patients per part: train, validation, test.
    pub fn part_counts(&self) -> [PartCounts; 3] {
        let k = self.classes.len();
        Part::ALL.map(|p| counts(&self.items, self.indices(p), k))
    }

    /// What `split` (of these items, e.g. an image-level split made for comparison) leaks.
    pub fn leak_of(&self, split: &Split) -> Result<SplitLeak> {
        let groups: Vec<&str> = self.items.iter().map(|i| i.patient.as_str()).collect();
        let classes: Vec<usize> = self.items.iter().map(|i| i.class).collect();
        SplitLeak::of(split, &groups, &classes, self.classes.positive())
    }

    /// The images of `part` with `scores` (one per sample of the part) as `predictions.csv`
    /// has them: pseudonymous patient, sheet, row, laterality, label (1 = positive), class,
    /// score.
    pub fn predictions(&self, part: Part, scores: &[f64]) -> Result<DataFrame> {
        let items: Vec<&ImageItem> = self.indices(part).iter().map(|&i| &self.items[i]).collect();
        if scores.len() != items.len() {
            return Err(Error::input(
                "predictions",
                format!(
                    "{} {} images but {} scores",
                    items.len(),
                    part.name(),
                    scores.len()
                ),
            ));
        }
        let positive = self.positive()?;
        let col = |name: &str, v: Vec<String>| Column::new(name.into(), v);
        DataFrame::new_infer_height(vec![
            col("patient", items.iter().map(|it| it.pseudonym()).collect()),
            col("sheet", items.iter().map(|it| it.sheet.clone()).collect()),
            Column::new(
                "row".into(),
                items.iter().map(|it| it.row).collect::<Vec<_>>(),
            ),
            col(
                "laterality",
                items
                    .iter()
                    .map(|it| {
                        it.laterality
                            .map(|l| l.code().to_string())
                            .unwrap_or_default()
                    })
                    .collect(),
            ),
            Column::new(
                "label".into(),
                items
                    .iter()
                    .map(|it| u32::from(it.class == positive))
                    .collect::<Vec<_>>(),
            ),
            col(
                "class",
                items
                    .iter()
                    .map(|it| self.classes.names()[it.class].clone())
                    .collect(),
            ),
            Column::new("score".into(), scores.to_vec()),
        ])
        .map_err(|e| Error::table("predictions", e))
    }
}
