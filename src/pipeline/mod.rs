//! A training run from a manifest to a run directory: the one place where every stage
//! meets.
//!
//! ```text
//! RunOptions ─┐
//! Manifest ───┴─ prepare ──> Prepared ── fit ──> Trainer ── scores ──> Scored ──> metrics
//!               (dataset)               (model)            (Part)     (eval)
//!                                                   run: all of it, into a run directory
//! ```
//!
//! - [`RunOptions`]: the model, the data options (labels, split, files, the [`Preprocess`]
//!   recipe, cache), the training config and the device, built with `with_*` methods and
//!   checked by [`RunOptions::validate`].
//! - [`prepare`] -> [`Prepared`]: merge, patient-grouped split, decoded images.
//! - [`fit`]: a [`Trainer`] for the prepared data (its input shape and class count come
//!   from the data), trained on the training part with the validation part watched, its
//!   input recipe recorded for the checkpoint.
//! - [`scores`]: one part's labels and positive-class scores as a [`Scored`].
//! - [`run`]: all of it, written into a run directory ([`rundir`]), with the decision
//!   threshold chosen on the validation part by [`RunOptions::threshold_rule`];
//!   [`evaluate`] reads one back at any threshold and [`Level`]. [`resume`] continues a run
//!   that was killed, from its last complete epoch, to the weights it would have had.
//! - [`sweep()`]: the same run over several seeds with each metric's spread; [`compare`]:
//!   whether two runs (DeLong) or two sweeps (seed by seed) really differ.
//! - [`predict`](mod@predict): a saved model on new image files or a manifest's images
//!   (one part of a run's split, to score it again), unreadable files reported, not fatal.
//!
//! The CLI's `train` / `evaluate` / `predict` and the notebooks call these, so a notebook and
//! `mammolab train` with the same options give the same numbers.
//!
//! ```no_run
//! use mammolab::prelude::*;
//! # fn main() -> mammolab::Result<()> {
//! let manifest = Manifest::open("data/synthetic-ci/manifest.toml")?;
//! let opts = RunOptions::new(ModelChoice::Cnn).with_epochs(4).with_class_weights(ClassWeights::Balanced);
//! let data = pipeline::prepare(&manifest, &opts)?;
//! let trainer = pipeline::fit(&data, &opts, &mut Silent)?;
//! let test = pipeline::scores(&trainer, &data, Part::Test)?;
//! println!("{}", test.summary(0.5)?.line());
//! # Ok(()) }
//! ```

pub mod heatmap;
mod lesions;
pub mod multiclass;
pub mod predict;
pub mod report;
pub mod rundir;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::classes::Classes;
use crate::dataset::{DataOptions, Fractions, ImageSource, Part, Prepared, Preprocess};
use crate::error::Result;
use crate::eval::{
    self, BinarySummary, ConfusionMatrix, DecisionThreshold, RocCurve, ThresholdRule,
};
use crate::manifest::Manifest;
use crate::model::train::argmax;
use crate::model::{
    ClassLoss, ClassWeights, ComputeDevice, EarlyStopping, FusionConfig, History, ModelChoice,
    ModelConfig, Progress, Sampler, TrainConfig, Trainer, VaeSettings, Validation,
    ValidationMetrics, WeightedMean,
};

pub use lesions::{lesion_contrast, lesion_contrast_table, lesion_hits, LesionContrast};
pub use multiclass::{
    evaluate_classes, per_source_frame, run_classes, ClassMetrics, ClassRun, SourceMetrics,
};
pub use rundir::{
    chosen_threshold, evaluate, level_scores, level_summary, level_summary_by, per_class,
    read_info, Level, RunInfo,
};
pub use sweep::{compare, read_sweep, sweep, Comparison, SeedRun, SweepSummary, SWEEP_METRICS};

/// Everything a run needs besides the manifest. Built with `with_*` methods; saved in
/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    model: ModelChoice,
    data: DataOptions,
    train: TrainConfig,
    device: ComputeDevice,
    /// How [`run`] chooses the decision threshold on the validation part.
    #[serde(default = "default_rule")]
    threshold_rule: ThresholdRule,
    /// PyTorch weights to start from (torchvision ResNets; [`Trainer::load_pretrained`]).
    #[serde(default)]
    pretrained: Option<PathBuf>,
    /// Workbook columns fused with the image ([`crate::model::fusion`]); empty: image only.
    #[serde(default)]
    covariates: Vec<String>,
    /// Dropout of seed 001's CNN ([`CnnConfig::dropout`](crate::model::cnn::CnnConfig));
    /// `None`: the model's own (seed 001: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dropout: Option<f64>,
    /// Changes to the CNN-VAE's shape and loss ([`VaeSettings`]); `None`: seed 000's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vae: Option<VaeSettings>,
}

fn default_rule() -> ThresholdRule {
    ThresholdRule::Youden
}

impl RunOptions {
    /// `model` on 64 x 64 inputs from the JPG exports ([`DataOptions::new`]), trained as
    /// [`TrainConfig::default`] says (seed 42 for the split too), on the CPU, no cache; the
    /// decision threshold chosen on validation by Youden's J.
    pub fn new(model: ModelChoice) -> Self {
        let train = TrainConfig::default();
        Self {
            model,
            data: DataOptions::new(64).with_seed(train.seed),
            train,
            device: ComputeDevice::Cpu,
            threshold_rule: default_rule(),
            pretrained: None,
            covariates: vec![],
            dropout: None,
            vae: None,
        }
    }

    /// Changes to the CNN-VAE's shape and loss (`--model vae`; [`VaeSettings`]); `None`:
    /// [`VaeConfig::new`](crate::model::VaeConfig::new)'s.
    pub fn with_vae(mut self, settings: Option<VaeSettings>) -> Self {
        self.vae = settings;
        self
    }

    /// The settings given with [`RunOptions::with_vae`].
    pub fn vae(&self) -> Option<&VaeSettings> {
        self.vae.as_ref()
    }

    /// Dropout after each conv block of seed 001's CNN (`--model cnn` / `cnn-bn`), doubled
    /// (at most 0.5) before its last layer; `None`: the model's own (none).
    pub fn with_dropout(mut self, p: Option<f64>) -> Self {
        self.dropout = p;
        self
    }

    /// The dropout set with [`RunOptions::with_dropout`].
    pub fn dropout(&self) -> Option<f64> {
        self.dropout
    }

    /// The network for `classes` classes, with the options' dropout and VAE settings.
    fn model_config(&self, classes: usize) -> Result<ModelConfig> {
        let mut model = self.model.config(classes);
        if let Some(settings) = &self.vae {
            let ModelConfig::Vae(vae) = &mut model else {
                return Err(crate::Error::Param {
                    name: "vae",
                    message: format!(
                        "VAE settings are for seed 000's CNN-VAE (--model vae), not the {} model",
                        model.name()
                    ),
                });
            };
            settings.apply(vae);
        }
        if let Some(p) = self.dropout {
            let ModelConfig::Cnn(cnn) = &mut model else {
                return Err(crate::Error::Param {
                    name: "dropout",
                    message: format!(
                        "dropout is a setting of seed 001's CNN (--model cnn or cnn-bn), not the {} model",
                        model.name()
                    ),
                });
            };
            crate::model::cnn::check_dropout(p)?;
            cnn.dropout = p;
        }
        Ok(model)
    }

    /// The network.
    pub fn model(&self) -> ModelChoice {
        self.model
    }
    /// What decides the data.
    pub fn data(&self) -> &DataOptions {
        &self.data
    }
    /// How to train.
    pub fn train(&self) -> &TrainConfig {
        &self.train
    }
    /// Where to train.
    pub fn device(&self) -> ComputeDevice {
        self.device
    }
    /// How the decision threshold is chosen on the validation part.
    pub fn threshold_rule(&self) -> ThresholdRule {
        self.threshold_rule
    }
    /// Side of the (square) model input.
    pub fn size(&self) -> usize {
        self.data.preprocess.width
    }

    /// The workbook columns fused with the image (seed 001's CNN only): the run trains a
    /// [`Fusion`](crate::model::Fusion) model on each image and these columns of its row.
    /// Empty: image only.
    pub fn with_covariates<S: Into<String>>(
        mut self,
        columns: impl IntoIterator<Item = S>,
    ) -> Self {
        self.covariates = columns.into_iter().map(Into::into).collect();
        self
    }

    /// The workbook columns fused with the image (empty: image only).
    pub fn covariates(&self) -> &[String] {
        &self.covariates
    }

    /// Another network.
    pub fn with_model(mut self, model: ModelChoice) -> Self {
        self.model = model;
        self
    }
    /// Square inputs of `size` pixels.
    pub fn with_size(mut self, size: usize) -> Self {
        self.data = self.data.with_size(size);
        self
    }
    /// Resample images with `filter` (default [`Filter::Max`](crate::imaging::Filter::Max)).
    pub fn with_filter(mut self, filter: crate::imaging::Filter) -> Self {
        self.data = self.data.with_filter(filter);
        self
    }
    /// Mirror by the laterality (the default) or by the pixels
    /// ([`Orient`](crate::dataset::Orient)).
    pub fn with_orient(mut self, orient: crate::dataset::Orient) -> Self {
        self.data = self.data.with_orient(orient);
        self
    }
    /// Grey or colour inputs ([`Channels`](crate::dataset::Channels)).
    pub fn with_channels(mut self, channels: crate::dataset::Channels) -> Self {
        self.data.preprocess = self.data.preprocess.with_channels(channels);
        self
    }
    /// Where to train.
    pub fn with_device(mut self, device: ComputeDevice) -> Self {
        self.device = device;
        self
    }
    /// Seed of the split, the weights and the sample order.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.data = self.data.with_seed(seed);
        self.train = self.train.with_seed(seed);
        self
    }
    /// Epochs (the maximum, with early stopping).
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.train = self.train.with_epochs(epochs);
        self
    }
    /// Images per step.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.train = self.train.with_batch_size(batch_size);
        self
    }
    /// Base learning rate.
    pub fn with_learning_rate(mut self, lr: f64) -> Self {
        self.train = self.train.with_learning_rate(lr);
        self
    }
    /// Class weights in the loss.
    pub fn with_class_weights(mut self, weights: ClassWeights) -> Self {
        self.train = self.train.with_class_weights(weights);
        self
    }
    /// Sample order.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.train = self.train.with_sampler(sampler);
        self
    }
    /// How a batch's class-weighted losses are averaged ([`WeightedMean`]).
    pub fn with_weighted_mean(mut self, mean: WeightedMean) -> Self {
        self.train = self.train.with_weighted_mean(mean);
        self
    }
    /// Classification loss.
    pub fn with_loss(mut self, loss: ClassLoss) -> Self {
        self.train = self.train.with_loss(loss);
        self
    }
    /// Early stopping.
    pub fn with_early_stopping(mut self, early_stopping: Option<EarlyStopping>) -> Self {
        self.train = self.train.with_early_stopping(early_stopping);
        self
    }
    /// Clip each parameter's gradient to this norm (`None`: no clipping).
    pub fn with_grad_clip(mut self, max_norm: Option<f64>) -> Self {
        self.train = self.train.with_grad_clip(max_norm);
        self
    }
    /// Linear learning-rate warm-up over this many epochs.
    pub fn with_warmup_epochs(mut self, epochs: usize) -> Self {
        self.train = self.train.with_warmup_epochs(epochs);
        self
    }
    /// Start from the torchvision state dict in `path` (safetensors) instead of fresh
    /// weights (needs a `Resnet18` / `Resnet50` model).
    pub fn with_pretrained(mut self, path: Option<PathBuf>) -> Self {
        self.pretrained = path;
        self
    }
    /// Train a ResNet's backbone at this fraction of the learning rate (0: frozen).
    pub fn with_backbone_lr_factor(mut self, factor: f64) -> Self {
        self.train = self.train.with_backbone_lr_factor(factor);
        self
    }
    /// Augment training batches ([`crate::dataset::Augment`]; `None`: no augmentation).
    pub fn with_augment(mut self, augment: Option<crate::dataset::Augment>) -> Self {
        self.train = self.train.with_augment(augment);
        self
    }
    /// Stop (with an error) when the network's outputs collapse to a constant.
    pub fn with_stop_on_collapse(mut self, stop: bool) -> Self {
        self.train = self.train.with_stop_on_collapse(stop);
        self
    }
    /// How [`run`] chooses the decision threshold on the validation part.
    pub fn with_threshold_rule(mut self, rule: ThresholdRule) -> Self {
        self.threshold_rule = rule;
        self
    }
    /// A whole training config (its seed also seeds the split).
    pub fn with_train(mut self, train: TrainConfig) -> Self {
        self.data = self.data.with_seed(train.seed);
        self.train = train;
        self
    }
    /// DICOM or JPG first.
    pub fn with_source(mut self, source: ImageSource) -> Self {
        self.data = self.data.with_source(source);
        self
    }
    /// Patient shares of train / validation / test.
    pub fn with_fractions(mut self, fractions: Fractions) -> Self {
        self.data = self.data.with_fractions(fractions);
        self
    }
    /// The whole image or the lesion crop ([`crate::dataset::Input`]).
    pub fn with_input(mut self, input: crate::dataset::Input) -> Self {
        self.data = self.data.with_input(input);
        self
    }
    /// Another preprocessing recipe.
    pub fn with_preprocess(mut self, preprocess: Preprocess) -> Self {
        self.data = self.data.with_preprocess(preprocess);
        self
    }
    /// Cache decoded images in `dir` (`None`: no cache).
    pub fn with_cache(mut self, dir: Option<PathBuf>) -> Self {
        self.data = self.data.with_cache(dir);
        self
    }
    /// Leave the source `name` out: test on all its images, train on the other sources
    /// ([`DataOptions::holdout_source`]); `None`: the usual patient split.
    pub fn with_holdout_source(mut self, name: Option<String>) -> Self {
        self.data = self.data.with_holdout_source(name);
        self
    }
    /// The source left out for testing, if any.
    pub fn holdout_source(&self) -> Option<&str> {
        self.data.holdout_source.as_deref()
    }

    /// Check everything that can be checked before a file is read: the data options, and
    /// the training settings against the network (the class count is only known from the
    /// data: manual class weights are checked again when the trainer is built).
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        let classes = match &self.train.class_weights {
            ClassWeights::Manual(w) => w.len().max(2),
            _ => 2,
        };
        let model = self.model_config(classes)?;
        let (_, side) = model.square(self.data.preprocess.input_shape())?;
        if let ModelConfig::Vae(vae) = &model {
            vae.feature_side(side)?;
            vae.check_head()?;
        }
        if !self.covariates.is_empty() && !matches!(model, ModelConfig::Cnn(_)) {
            return Err(crate::Error::Param {
                name: "covariates",
                message: format!(
                    "workbook columns are fused with seed 001's CNN (--model cnn or cnn-bn), not the {} model",
                    model.name()
                ),
            });
        }
        if let Some(c) = self.covariates.iter().find(|c| c.trim().is_empty()) {
            return Err(crate::Error::Param {
                name: "covariates",
                message: format!("{c:?} is not a column name"),
            });
        }
        if let Some(p) = &self.pretrained {
            crate::model::train::pretrained_target(&model)?;
            if !p.is_file() {
                return Err(crate::Error::data(p, "no such weights file"));
            }
        }
        self.train.validate(&model)
    }
}

/// [`crate::dataset::prepare`] with the run's data options (validated first), and the
/// options' workbook columns beside each image when it has any
/// ([`Prepared::with_covariates`]).
pub fn prepare(manifest: &Manifest, options: &RunOptions) -> Result<Prepared> {
    options.validate()?;
    let data = crate::dataset::prepare(manifest, &options.data)?;
    if options.covariates.is_empty() {
        return Ok(data);
    }
    data.with_covariates(manifest, &options.covariates)
}

/// A trainer for `data`: the options' network built for the data's input shape and class
/// count (a [`Fusion`](crate::model::Fusion) of the CNN with the cohort's columns when the
/// options name [`RunOptions::covariates`]; without them, the same cohort trains the image
/// alone), trained on the training part with the validation part (if any) watched, and the
/// data's preprocessing recorded as its input recipe.
pub fn fit(data: &Prepared, options: &RunOptions, progress: &mut dyn Progress) -> Result<Trainer> {
    train_on(data, trainer_for(data, options)?, progress)
}

/// The untrained [`Trainer`] [`fit`] starts from.
fn trainer_for(data: &Prepared, options: &RunOptions) -> Result<Trainer> {
    let mut model = options.model_config(data.classes.len())?;
    if !options.covariates.is_empty() {
        let (ModelConfig::Cnn(image), Some(scaler)) = (&model, &data.scaler) else {
            return Err(crate::Error::Param {
                name: "covariates",
                message: "a fusion run needs seed 001's CNN and a cohort prepared with its columns (pipeline::prepare with these options)".into(),
            });
        };
        model = ModelConfig::Fusion(FusionConfig {
            image: image.clone(),
            scaler: scaler.clone(),
        });
    }
    let input = data.options.preprocess.clone();
    let mut trainer = Trainer::new(model, input, options.train.clone(), options.device)?
        .with_classes(data.classes.clone())?
        .with_validation(EvalValidation);
    if let Some(p) = &options.pretrained {
        trainer.load_pretrained(p)?;
    }
    Ok(trainer)
}

/// `trainer` trained (further) on `data`'s training part, its validation part watched.
fn train_on(data: &Prepared, mut trainer: Trainer, progress: &mut dyn Progress) -> Result<Trainer> {
    let val = data.val();
    let val = (!val.is_empty()).then_some(val);
    trainer.fit(&data.train(), val.as_ref(), progress)?;
    Ok(trainer)
}

/// The validation statistics every run records: balanced accuracy of the argmax
/// prediction and ROC AUC of the positive class against the rest (none when the classes
/// name no positive one), by [`eval`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EvalValidation;

impl Validation for EvalValidation {
    fn metrics(
        &self,
        labels: &[usize],
        probs: &[Vec<f64>],
        classes: &Classes,
    ) -> Result<ValidationMetrics> {
        let predicted: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
        let cm = ConfusionMatrix::from_indices(labels, &predicted, classes.names())?;
        let roc_auc = classes.positive().and_then(|positive| {
            let scores: Vec<f64> = probs.iter().map(|p| p[positive]).collect();
            eval::roc_auc(&classes.is_positive(labels), &scores).ok()
        });
        Ok(ValidationMetrics {
            balanced_accuracy: Some(cm.balanced_accuracy()),
            roc_auc,
        })
    }
}

/// One part's ground truth and positive-class scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Which part.
    pub part: Part,
    /// `true` for the positive class, one per sample of the part.
    pub labels: Vec<bool>,
    /// The model's probability of the positive class.
    pub scores: Vec<f64>,
}

impl Scored {
    /// Metrics at `threshold` ([`BinarySummary`]).
    pub fn summary(&self, threshold: f64) -> Result<BinarySummary> {
        BinarySummary::new(&self.labels, &self.scores, threshold)
    }

    /// The decision threshold `rule` picks on these scores (a validation part's), with the
    /// sensitivity and specificity it has here; an error naming the counts when a rule
    /// other than a fixed threshold meets one class only.
    pub fn choose_threshold(&self, rule: ThresholdRule) -> Result<DecisionThreshold> {
        let (n, positives) = (self.labels.len(), self.positives());
        if !matches!(rule, ThresholdRule::Fixed(_)) && (positives == 0 || positives == n) {
            return Err(crate::error::Error::input(
                "threshold rule",
                format!(
                    "{rule} needs both classes in the {} part ({n} images, {positives} positive); the threshold stays 0.5",
                    self.part.name()
                ),
            ));
        }
        let p = rule.choose(&self.labels, &self.scores)?;
        let m = p.confusion.metrics();
        Ok(DecisionThreshold {
            rule: rule.to_string(),
            threshold: if p.threshold.is_finite() {
                p.threshold
            } else {
                f64::MAX
            },
            images: n,
            positives,
            sensitivity: m.recall,
            specificity: m.specificity,
        })
    }

    /// The ROC curve.
    pub fn roc(&self) -> Result<RocCurve> {
        eval::roc_curve(&self.labels, &self.scores)
    }

    /// Positive samples.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|&&l| l).count()
    }

    /// The share of positive samples: the average precision of a random ranking.
    pub fn prevalence(&self) -> f64 {
        self.positives() as f64 / self.labels.len().max(1) as f64
    }

    /// Highest minus lowest score: near 0 when a network has collapsed to a constant.
    pub fn spread(&self) -> f64 {
        let hi = self.scores.iter().copied().fold(f64::MIN, f64::max);
        let lo = self.scores.iter().copied().fold(f64::MAX, f64::min);
        if self.scores.is_empty() {
            0.0
        } else {
            hi - lo
        }
    }
}

/// Score `part` of `data` with `trainer` (its best weights): the probability of the
/// manifest's positive class (an error when it names none).
pub fn scores(trainer: &Trainer, data: &Prepared, part: Part) -> Result<Scored> {
    Ok(Scored {
        part,
        labels: data.labels(part)?,
        scores: trainer.scores(&data.samples(part), data.positive()?)?,
    })
}

/// What [`run`] returns.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// `run.json`.
    pub info: RunInfo,
    /// The training history.
    pub history: History,
    /// Test-set metrics at 0.5, per image.
    pub summary: BinarySummary,
    /// The threshold chosen on the validation part ([`RunOptions::threshold_rule`]);
    /// `None` when the validation part lacks a class (the reason is in
    /// [`RunResult::threshold_note`]).
    pub threshold: Option<DecisionThreshold>,
    /// Test-set metrics at the chosen threshold, per image.
    pub chosen: Option<BinarySummary>,
    /// Why no threshold was chosen.
    pub threshold_note: Option<String>,
    /// The same per breast (highest image score of each patient's side); `None` when the
    /// test set's breasts hold one class only.
    pub breast: Option<BinarySummary>,
    /// How a fusion run standardised its workbook columns (`None`: image only).
    pub scaler: Option<crate::dataset::tabular::Standardiser>,
}

/// Train as `mammolab train` does and write the run directory `out` ([`rundir`]).
pub fn run(
    manifest: &Manifest,
    options: &RunOptions,
    out: &Path,
    progress: &mut dyn Progress,
) -> Result<RunResult> {
    options.validate()?;
    // An unusable device fails before minutes of merging and decoding.
    options.device.device()?;
    // One writer per run directory.
    let _lock = crate::outlock::OutLock::folder(out)?;
    let data = prepare(manifest, options)?;
    // A run scores one class against the rest: the manifest must name it before training.
    data.positive()?;
    let state = rundir::Unfinished {
        manifest: std::path::absolute(&manifest.source).unwrap_or(manifest.source.clone()),
        options: options.clone(),
    };
    let epochs = rundir::start_unfinished(out, &state)?;
    let t1 = Instant::now();
    let trainer = trainer_for(&data, options)?.with_epoch_checkpoints(epochs);
    let trainer = train_on(&data, trainer, progress)?;
    finish(manifest, options, out, &data, trainer, t1)
}

/// Continue the run that `mammolab train` (or [`run`]) was writing into `out` when it was
/// killed: the same manifest and options (from `out/in-progress/state.json`), the same
/// split, and training from the last complete epoch's checkpoint
/// ([`Trainer::resume`]: same weights, optimiser state and random streams), so the run
/// ends with the weights an uninterrupted run would have. A run killed before its first
/// epoch ended starts again. A one-line error when `out` holds no unfinished run.
pub fn resume(out: &Path, progress: &mut dyn Progress) -> Result<RunResult> {
    let state = rundir::read_unfinished(out)?;
    let options = &state.options;
    options.validate()?;
    options.device.device()?;
    let manifest = Manifest::open(&state.manifest)?;
    let _lock = crate::outlock::OutLock::folder(out)?;
    let data = prepare(&manifest, options)?;
    let epochs = out.join(rundir::IN_PROGRESS).join("checkpoint");
    let t1 = Instant::now();
    let trainer = if epochs.join("config.json").is_file() {
        Trainer::resume(&epochs, Some(options.device))?.with_validation(EvalValidation)
    } else {
        trainer_for(&data, options)?
    };
    let trainer = train_on(&data, trainer.with_epoch_checkpoints(epochs), progress)?;
    finish(&manifest, options, out, &data, trainer, t1)
}

/// Choose the threshold, score the test part and write the run directory ([`run`]'s end).
fn finish(
    manifest: &Manifest,
    options: &RunOptions,
    out: &Path,
    data: &Prepared,
    mut trainer: Trainer,
    t1: Instant,
) -> Result<RunResult> {
    let train_s = t1.elapsed().as_secs_f64();

    // Scoring errors end the run; a validation part the rule cannot use (one class only)
    // leaves the threshold at 0.5 and says why.
    let val = scores(&trainer, data, Part::Validation)?;
    let (threshold, threshold_note) = match val.choose_threshold(options.threshold_rule) {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(e.to_string())),
    };
    trainer.set_threshold(threshold.clone());

    let t2 = Instant::now();
    let test = scores(&trainer, data, Part::Test)?;
    let predict_s = t2.elapsed().as_secs_f64();
    let summary = test.summary(0.5)?;
    let chosen = match &threshold {
        Some(t) => Some(test.summary(t.threshold)?),
        None => None,
    };

    let predictions = data.predictions(Part::Test, &test.scores)?;
    let info = RunInfo::of(
        manifest,
        options,
        data,
        [train_s, predict_s],
        threshold.clone(),
    );
    rundir::write(
        out,
        &info,
        &trainer,
        &data.test(),
        predictions.clone(),
        &summary,
        chosen.as_ref(),
    )?;
    Ok(RunResult {
        info,
        history: trainer.history().clone(),
        summary,
        threshold,
        chosen,
        threshold_note,
        breast: level_summary(&predictions, 0.5, Level::Breast).ok(),
        scaler: data.scaler.clone(),
    })
}
