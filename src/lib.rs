//! # mammolab
//!
//! Breast-cancer imaging research in Rust: hospital spreadsheets and image folders in,
//! honest imbalance-aware evaluation out.
//!
//! Data flows one way:
//!
//! ```text
//! manifest -> ingest -> dataset -> model -> eval -> plot
//! ```
//!
//! - [`manifest`]: a TOML file that says what a cohort is: its workbooks, which sheet holds
//!   which class, the key columns, the image folders, and checksums of the inputs.
//! - [`synth`]: a synthetic cohort shaped like seed 001's hospital export (105 cancer rows,
//!   4998 normal rows, a 322-row image listing, DICOM + JPG folders) with planted faults and
//!   a ground-truth file, so every stage can be tested against known answers.
//! - [`ingest`]: files at the edge: workbooks (calamine -> polars), seed 001's merge with an
//!   audit of every row and file, the image index, DICOM and JPG pixels, CSVs of scores.
//! - [`imaging`]: pixel math without I/O: rescale, VOI window, MONOCHROME1, resize, crop.
//! - [`dataset`]: cached image batches, stratified and patient-grouped splits, k-fold, and a
//!   leakage detector.
//! - [`eval`]: confusion matrices, per-class reports, ROC/PR curves, thresholds,
//!   calibration, bootstrap intervals and roll-ups, all checked against scikit-learn, with
//!   a written policy for every edge case.
//! - [`plot`]: one plotters function per chart, PNG/SVG files, and inline display of
//!   charts and DataFrames in evcxr notebooks.
//!
//! Ingest, dataset, model, eval and plot modules follow the same rule: functions take
//! values and return values; nothing below the binary prints, panics on bad data, or reads
//! environment variables.
//!
//! ## A first session
//!
//! ```no_run
//! use mammolab::prelude::*;
//!
//! # fn main() -> mammolab::Result<()> {
//! // Generate the small CI cohort and check it against its own manifest.
//! let out = std::path::Path::new("data/ci");
//! let summary = synth::generate(&SynthOptions::new(Profile::Ci).with_seed(1), out)?;
//! assert_eq!(summary.counts.cancer_rows, 30);
//! let manifest = Manifest::open(out.join("manifest.toml"))?;
//! manifest.verify()?; // every file present, every checksum right
//! # Ok(()) }
//! ```
//!
//! ## seed 001's merge, audited
//!
//! ```no_run
//! use mammolab::prelude::*;
//!
//! # fn main() -> mammolab::Result<()> {
//! let manifest = Manifest::open("data/synthetic-default/manifest.toml")?;
//! let result = merge(&manifest)?;
//! let cancer = &result.summary.sheets["Cancer"]; // 98 of 105 matched, 87 by the exact key
//! let why = Table::new(result.audit_frame()?); // every row and file, with a reason
//! let rec = &result.records[0]; // class, patient, DICOM and JPG paths
//! let img = read_display(manifest.resolve(rec.dicom.as_ref().unwrap()))?; // [0, 1] grey
//! # Ok(()) }
//! ```
//!
//! ## Evaluating a scorer the way screening data demands
//!
//! ```no_run
//! use mammolab::prelude::*;
//!
//! # fn main() -> mammolab::Result<()> {
//! # let (labels, scores) = (vec![false, true, false, true], vec![0.1, 0.8, 0.4, 0.3]);
//! let summary = BinarySummary::new(&labels, &scores, 0.5)?; // AUC, AP, confusion, MCC ...
//! let sweep = ThresholdSweep::new(&labels, &scores)?;
//! let point = sweep.at_sensitivity(0.9)?; // the most specific threshold finding 90 %
//! let roc = eval::roc_curve(&labels, &scores)?;
//! let fig = Figure::png(640, 480, |area| {
//!     plot::roc(area, &[("model", &roc)], Some((1.0 - point.specificity(), point.sensitivity())))
//! })?;
//! fig.save("roc.png")?; // in a notebook, `fig` alone shows it inline
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod calendar;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod imaging;
pub mod ingest;
pub mod manifest;
pub mod model;
pub mod notebook;
pub mod plot;
pub mod rng;
pub mod synth;

pub use error::{Error, Result};
/// The polars this crate builds on, for notebooks and callers that need its types.
pub use polars;

/// Everything a notebook needs in one `use`.
pub mod prelude {
    pub use crate::dataset::{
        grouped_kfold, grouped_split, leakage, load_images, stratified_kfold, stratified_split,
        Fractions, Preprocess,
    };
    pub use crate::error::{Error, Result};
    pub use crate::eval::{
        self, Aggregate, BinaryConfusion, BinarySummary, Binning, BootstrapOptions,
        ClassificationReport, ConfusionMatrix, Resampling, ThresholdSweep,
    };
    pub use crate::experiment::{
        self, level_summary, prepare, pseudonym, Level, ModelChoice, Prepared, RunOptions,
    };
    pub use crate::imaging::{Filter, Gray};
    pub use crate::ingest::dicom::{read_display, read_header, read_image};
    pub use crate::ingest::merge::{merge, MergeResult, Status};
    pub use crate::ingest::sheets::{read_all, read_sheet, SheetOptions};
    pub use crate::manifest::Manifest;
    pub use crate::model::baseline::{numeric_features, Logistic, LogisticOptions, MajorityClass};
    pub use crate::model::predict::{latent_means, probabilities, reconstructions, scores};
    pub use crate::model::train::{EpochLines, Silent};
    pub use crate::model::{
        ClassLoss, ClassWeights, CnnConfig, ComputeDevice, DeepCnnConfig, EarlyStopping,
        HeadTraining, History, ModelConfig, Monitor, OptimizerKind, Sampler, Samples, Schedule,
        TrainConfig, Trainer, VaeConfig,
    };
    pub use crate::notebook::{Redactor, Setup};
    pub use crate::plot::{self, CellValues, Figure, Table, Tile};
    pub use crate::synth::{self, Profile, SynthOptions, SynthSummary};
    pub use polars::prelude::{Column, DataFrame};
}
