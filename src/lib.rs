//! # mammolab
//!
//! Breast-cancer imaging research in Rust: hospital spreadsheets and image folders in,
//! honest imbalance-aware evaluation out.
//!
//! Data flows one way, with [`pipeline`] on top and the CLI and notebooks above it
//! (`ARCHITECTURE.md` in the repository says where to add what):
//!
//! ```text
//! manifest -> ingest -> dataset -> model -> eval -> plot
//! ```
//!
//! - [`manifest`]: a TOML file that says what a cohort is: its workbooks, which sheet holds
//!   which class, the key columns, the image folders, and checksums of the inputs.
//! - [`Classes`] ([`classes`]): the class names in output order and the positive class, named
//!   once by the manifest and carried unchanged to the checkpoint and every prediction.
//! - [`synth`]: a synthetic cohort shaped like seed 001's hospital export (105 cancer rows,
//!   4998 normal rows, a 322-row image listing, DICOM + JPG folders) with planted faults and
//!   a ground-truth file, so every stage can be tested against known answers.
//! - [`ingest`]: files at the edge: workbooks (calamine -> polars), seed 001's merge with an
//!   audit of every row and file, the image index, DICOM and JPG pixels, CSVs of scores.
//! - [`imaging`]: pixel math without I/O: rescale, VOI window, MONOCHROME1, resize, crop.
//! - [`dataset`]: a merged cohort made ready to train on ([`dataset::prepare`]: one item
//!   per image, a patient-grouped split, images decoded through the [`dataset::Preprocess`]
//!   recipe that is saved with every model), [`dataset::Samples`], stratified and
//!   patient-grouped splits, k-fold, a leakage detector, tabular features.
//! - [`model`]: seed 001's CNN, seed 000's CNN-VAE, plain and residual deep CNNs on burn;
//!   the training loop, checkpoints with their input recipe, and a [`model::Predictor`] that
//!   scores image files from a checkpoint; baselines.
//! - [`eval`]: confusion matrices, per-class reports, ROC/PR curves, thresholds,
//!   calibration, bootstrap intervals and roll-ups, all checked against scikit-learn, with
//!   a written policy for every edge case.
//! - [`plot`]: one plotters function per chart, PNG/SVG files, and inline display of
//!   charts and DataFrames in evcxr notebooks.
//! - [`pipeline`]: a run from [`pipeline::RunOptions`] to a run directory: prepare -> fit ->
//!   scores -> metrics, as `mammolab train` does it; reading a run back at any threshold and
//!   level; [`pipeline::predict`]: a checkpoint on new image files or a manifest's images
//!   (`mammolab predict`), bad files reported; the text summaries the CLI and notebooks
//!   print.
//! - [`notebook`]: a notebook's parameters, read from the environment once, and a redactor
//!   that shows patients only as pseudonyms.
//! - [`privacy`]: pseudonyms keyed by a secret (HMAC-SHA256), so they cannot be reversed
//!   by trying every possible patient id.
//! - [`outlock`]: one writer per output folder or file.
//! - [`hash`]: sha256 of files and bytes as lower-case hex.
//! - [`fuzz`]: each reader fed arbitrary bytes, as the fuzz targets and their regression
//!   test run it.
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
//! let rec = &result.records[0]; // class, patient, resolved DICOM and JPG paths, laterality
//! let img = read_display(rec.dicom.as_ref().unwrap())?; // [0, 1] grey
//! # Ok(()) }
//! ```
//!
//! ## Training and evaluating, as `mammolab train` does
//!
//! ```no_run
//! use mammolab::prelude::*;
//!
//! # fn main() -> mammolab::Result<()> {
//! let manifest = Manifest::open("data/synthetic-ci/manifest.toml")?;
//! let opts = RunOptions::new(ModelChoice::Cnn).with_size(64).with_class_weights(ClassWeights::Balanced);
//! let data = pipeline::prepare(&manifest, &opts)?; // merge, patient split, decoded images
//! println!("{}", report::prepared(&data));
//! let trainer = pipeline::fit(&data, &opts, &mut EpochLines(std::io::stdout()))?;
//! let test = pipeline::scores(&trainer, &data, Part::Test)?;
//! println!("{}", test.summary(0.5)?.report());
//! trainer.save("runs/cnn/checkpoint".as_ref())?; // weights, configs and the input recipe
//! let p = Predictor::open("runs/cnn/checkpoint".as_ref(), ComputeDevice::Cpu)?;
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
pub mod classes;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod fuzz;
pub mod hash;
pub mod imaging;
pub mod ingest;
pub mod manifest;
pub mod model;
pub mod notebook;
pub mod outlock;
pub mod pipeline;
pub mod plot;
pub mod privacy;
pub mod rng;
pub mod synth;

pub use classes::Classes;
pub use error::{Error, Result};
/// The polars this crate builds on, for notebooks and callers that need its types.
pub use polars;

/// Everything a notebook needs in one `use`.
pub mod prelude {
    pub use crate::classes::Classes;
    pub use crate::dataset::tabular::{pick, Covariates, FeatureColumns, Standardiser, Tabular};
    pub use crate::dataset::{
        grouped_kfold, grouped_split, leakage, load_images, stratified_kfold, stratified_split,
        Augment, Channels, DataOptions, Fractions, ImageSource, Input, Orient, Part, Prepared,
        Preprocess, Samples, SplitLeak,
    };
    pub use crate::error::{Error, Result};
    pub use crate::eval::{
        self, Aggregate, BinaryConfusion, BinarySummary, Binning, BootstrapOptions,
        ClassificationReport, ConfusionMatrix, DecisionThreshold, Resampling, Spread,
        ThresholdRule, ThresholdSweep,
    };
    pub use crate::eval::{lesion_hit_table, LesionHit};
    pub use crate::imaging::{Filter, Gray};
    pub use crate::ingest::dicom::{read_display, read_header, read_image, read_picture};
    pub use crate::ingest::merge::{merge, Ids, Laterality, MergeResult, Status};
    pub use crate::ingest::sheets::{read_all, read_sheet, read_workbook, SheetOptions};
    pub use crate::manifest::Manifest;
    pub use crate::model::baseline::{numeric_features, Logistic, LogisticOptions, MajorityClass};
    pub use crate::model::inference::{latent_means, probabilities, reconstructions, scores};
    pub use crate::model::layers::{self, Pool};
    pub use crate::model::saliency::{self, Method as SaliencyMethod};
    pub use crate::model::{
        ClassLoss, ClassWeights, CnnConfig, ComputeDevice, DeepCnnConfig, EarlyStopping,
        EpochLines, FusionConfig, HeadTraining, History, ModelChoice, ModelConfig, Monitor,
        OptimizerKind, Predictor, Saliency, Sampler, Schedule, Silent, TrainConfig, Trainer,
        VaeConfig, WeightedMean,
    };
    pub use crate::notebook::{CohortCounts, DicomKinds, Redactor, Setup};
    pub use crate::pipeline::{
        self, lesion_hits, level_summary, level_summary_by, report, Level, RunOptions, Scored,
    };
    pub use crate::plot::{self, CellValues, Figure, Table, Tile};
    pub use crate::privacy::pseudonym;
    pub use crate::synth::{self, Profile, SynthOptions, SynthSummary};
    pub use polars::prelude::{Column, DataFrame};
}
