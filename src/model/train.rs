//! The training loop: optimisers, learning-rate schedule, early stopping, class weights,
//! balanced sampling, focal loss, progress callbacks and the per-epoch history.
//!
//! # Determinism
//! On the CPU a run is a pure function of its inputs and [`TrainConfig::seed`]: weights are
//! initialised after seeding the device, each epoch reseeds the device (dropout masks, VAE
//! noise) and draws its order from its own SplitMix stream of the seed. So two runs give
//! identical weights and history, and a run resumed from an epoch's checkpoint continues
//! exactly as if it had not stopped (the optimiser state is saved too).
//!
//! # Imbalance
//! - [`ClassWeights::Balanced`]: weight `n / (k * n_c)` per class (scikit-learn's
//!   `"balanced"`), used in the loss.
//! - [`Sampler::Balanced`]: each epoch draws `n` samples with replacement, classes equally
//!   likely (oversampling the minority, undersampling the majority).
//! - [`ClassLoss::Focal`]: down-weights easy examples.
//! - Threshold moving needs no training: see [`crate::eval::ThresholdSweep`].

use std::io::Write;
use std::time::Instant;

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};

use super::loss::{class_loss, vae_loss, ClassLoss};
use super::vae::HeadTraining;
use super::{ComputeDevice, Model, ModelConfig};
use crate::dataset::ImageBatch;
use crate::eval::{roc_auc, ConfusionMatrix};
use crate::rng::Rng;
use crate::{Error, Result};

/// Labelled images in memory: `[n, channels, height, width]` row-major plus one class
/// index per image.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// `n * channels * height * width` values.
    pub data: Vec<f32>,
    /// `[n, channels, height, width]`.
    pub shape: [usize; 4],
    /// Class index of each image.
    pub labels: Vec<usize>,
}

impl Samples {
    /// Check that `data` and `labels` fit `shape`.
    pub fn new(data: Vec<f32>, shape: [usize; 4], labels: Vec<usize>) -> Result<Self> {
        let per: usize = shape[1..].iter().product();
        if data.len() != shape[0] * per || labels.len() != shape[0] || per == 0 {
            return Err(Error::input(
                "samples",
                format!(
                    "{} values and {} labels do not fit shape {shape:?}",
                    data.len(),
                    labels.len()
                ),
            ));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(
                "samples",
                format!("image {} has a non-finite pixel", i / per),
            ));
        }
        Ok(Self {
            data,
            shape,
            labels,
        })
    }

    /// A single-channel [`ImageBatch`] with its labels.
    pub fn from_batch(batch: ImageBatch, labels: Vec<usize>) -> Result<Self> {
        let shape = [batch.n, 1, batch.height, batch.width];
        Self::new(batch.data, shape, labels)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    fn per_image(&self) -> usize {
        self.shape[1..].iter().product()
    }

    /// The pixels of the images at `idx`, in that order.
    fn gather(&self, idx: &[usize]) -> Vec<f32> {
        let per = self.per_image();
        let mut data = Vec::with_capacity(idx.len() * per);
        for &i in idx {
            data.extend_from_slice(&self.data[i * per..(i + 1) * per]);
        }
        data
    }

    /// The images at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Samples {
        Samples {
            data: self.gather(idx),
            shape: [idx.len(), self.shape[1], self.shape[2], self.shape[3]],
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Images per class (length `classes`).
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut c = vec![0; classes];
        for &l in &self.labels {
            if l < classes {
                c[l] += 1;
            }
        }
        c
    }

    /// The images at `idx` as a tensor on `device`.
    pub fn images(&self, idx: &[usize], device: &Device) -> Tensor<4> {
        let [_, c, h, w] = self.shape;
        Tensor::<4>::from_data(
            TensorData::new(self.gather(idx), [idx.len(), c, h, w]),
            device,
        )
    }

    fn targets(&self, idx: &[usize], device: &Device) -> Tensor<1, Int> {
        let t: Vec<i64> = idx.iter().map(|&i| self.labels[i] as i64).collect();
        Tensor::<1, Int>::from_data(TensorData::new(t, [idx.len()]), device)
    }
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OptimizerKind {
    /// Adam with PyTorch's defaults (betas 0.9, 0.999; epsilon 1e-8).
    Adam,
    /// SGD with momentum (no dampening, as PyTorch's `SGD(momentum=m)`).
    Sgd {
        /// Momentum factor, e.g. 0.9.
        momentum: f64,
    },
}

/// Learning rate per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine from the base rate down to `min_lr` over the run.
    Cosine {
        /// Final rate.
        min_lr: f64,
    },
}

impl Schedule {
    /// The rate of epoch `epoch` (0-based) of `epochs`, from the base rate `lr`.
    pub fn rate(&self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Self::Constant => lr,
            Self::Step { every, gamma } => lr * gamma.powi((epoch / every.max(1)) as i32),
            Self::Cosine { min_lr } => {
                let t = epoch as f64 / epochs.max(1) as f64;
                min_lr + 0.5 * (lr - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// What early stopping watches on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Validation class loss (lower is better).
    ValLoss,
    /// Validation ROC AUC of the last class against the rest (higher is better).
    ValRocAuc,
    /// Validation balanced accuracy (higher is better).
    ValBalancedAccuracy,
}

/// Stop when the monitored value has not improved for `patience` epochs, and keep the
/// weights of the best epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// The validation value watched.
    pub monitor: Monitor,
    /// Epochs without improvement before stopping.
    pub patience: usize,
}

/// Per-class weights in the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeights {
    /// Every class weighs 1.
    None,
    /// `n / (classes * n_c)` from the training labels (scikit-learn's `"balanced"`).
    Balanced,
    /// Given weights, one per class.
    Manual(Vec<f64>),
}

/// The order of samples in an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    /// Every sample once, shuffled.
    Shuffle,
    /// `n` draws with replacement, each class equally likely.
    Balanced,
}

/// How to train. Serialisable: saved with every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs (the maximum, with early stopping).
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Base learning rate.
    pub learning_rate: f64,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Early stopping (needs a validation set).
    pub early_stopping: Option<EarlyStopping>,
    /// Class weights in the loss.
    pub class_weights: ClassWeights,
    /// Sample order.
    pub sampler: Sampler,
    /// Classification loss.
    pub loss: ClassLoss,
    /// Seed of weights, order, dropout and noise.
    pub seed: u64,
}

impl Default for TrainConfig {
    /// 10 epochs, batch 16, Adam at 1e-3, constant rate, no early stopping, no weights,
    /// shuffled, cross-entropy, seed 42.
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 16,
            learning_rate: 1e-3,
            optimizer: OptimizerKind::Adam,
            schedule: Schedule::Constant,
            early_stopping: None,
            class_weights: ClassWeights::None,
            sampler: Sampler::Shuffle,
            loss: ClassLoss::CrossEntropy,
            seed: 42,
        }
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Mean training loss over the epoch's steps (the total loss for the VAE).
    pub train_loss: f64,
    /// Training accuracy of the epoch's predictions (made while learning).
    pub train_accuracy: f64,
    /// VAE reconstruction term (mean over steps); `None` for classifiers.
    pub reconstruction: Option<f64>,
    /// VAE KL term (mean over steps); `None` for classifiers.
    pub kl: Option<f64>,
    /// Validation class loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy at argmax.
    pub val_accuracy: Option<f64>,
    /// Validation balanced accuracy at argmax.
    pub val_balanced_accuracy: Option<f64>,
    /// Validation ROC AUC, last class vs the rest (`None` with one class present).
    pub val_roc_auc: Option<f64>,
    /// Wall time of the epoch (training and validation).
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// Every epoch so far, and which was best.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per finished epoch.
    pub epochs: Vec<EpochStats>,
    /// The epoch whose weights were kept (early stopping), 1-based.
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

impl History {
    /// One value per epoch of `name` (a column of [`History::to_dataframe`]: `train_loss`,
    /// `val_loss`, `val_roc_auc`, ...); missing values are NaN (charts skip them).
    pub fn series(&self, name: &str) -> Result<Vec<f64>> {
        let g: fn(&EpochStats) -> Option<f64> = match name {
            "learning_rate" => |s| Some(s.learning_rate),
            "train_loss" => |s| Some(s.train_loss),
            "train_accuracy" => |s| Some(s.train_accuracy),
            "reconstruction" => |s| s.reconstruction,
            "kl" => |s| s.kl,
            "val_loss" => |s| s.val_loss,
            "val_accuracy" => |s| s.val_accuracy,
            "val_balanced_accuracy" => |s| s.val_balanced_accuracy,
            "val_roc_auc" => |s| s.val_roc_auc,
            "seconds" => |s| Some(s.seconds),
            "images_per_second" => |s| Some(s.images_per_second),
            _ => {
                return Err(Error::Param {
                    name: "series",
                    message: format!("{name:?} is not a column of the training history"),
                })
            }
        };
        Ok(self
            .epochs
            .iter()
            .map(|s| g(s).unwrap_or(f64::NAN))
            .collect())
    }

    /// One row per epoch; optional values are nulls.
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        let e = &self.epochs;
        let f = |name: &str, g: &dyn Fn(&EpochStats) -> f64| {
            Column::new(name.into(), e.iter().map(g).collect::<Vec<f64>>())
        };
        let o = |name: &str, g: &dyn Fn(&EpochStats) -> Option<f64>| {
            Column::new(name.into(), e.iter().map(g).collect::<Vec<Option<f64>>>())
        };
        DataFrame::new_infer_height(vec![
            Column::new(
                "epoch".into(),
                e.iter().map(|s| s.epoch as u32).collect::<Vec<u32>>(),
            ),
            f("learning_rate", &|s| s.learning_rate),
            f("train_loss", &|s| s.train_loss),
            f("train_accuracy", &|s| s.train_accuracy),
            o("reconstruction", &|s| s.reconstruction),
            o("kl", &|s| s.kl),
            o("val_loss", &|s| s.val_loss),
            o("val_accuracy", &|s| s.val_accuracy),
            o("val_balanced_accuracy", &|s| s.val_balanced_accuracy),
            o("val_roc_auc", &|s| s.val_roc_auc),
            f("seconds", &|s| s.seconds),
            f("images_per_second", &|s| s.images_per_second),
        ])
        .map_err(|e| Error::table("training history", e))
    }
}

/// Called while training. Every method has an empty default.
pub trait Progress {
    /// Before the first epoch of [`Trainer::fit`].
    fn on_start(&mut self, _epochs: usize, _steps_per_epoch: usize) {}
    /// After each optimisation step (1-based `step` within `epoch`).
    fn on_step(&mut self, _epoch: usize, _step: usize, _loss: f64) {}
    /// After each epoch.
    fn on_epoch(&mut self, _stats: &EpochStats) {}
}

/// Reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// One compact line per epoch into a writer (a notebook passes `std::io::stdout()`).
pub struct EpochLines<W: Write>(pub W);

impl<W: Write> Progress for EpochLines<W> {
    fn on_epoch(&mut self, s: &EpochStats) {
        let _ = writeln!(self.0, "{}", epoch_line(s));
    }
}

/// `epoch 3  loss 0.4123  acc 0.812 | val loss 0.5012  acc 0.790  bal 0.701  auc 0.812 | 12.3 s  41 img/s`
pub fn epoch_line(s: &EpochStats) -> String {
    let mut line = format!(
        "epoch {:>3}  loss {:.4}  acc {:.3}",
        s.epoch, s.train_loss, s.train_accuracy
    );
    if let (Some(r), Some(k)) = (s.reconstruction, s.kl) {
        line.push_str(&format!("  recon {r:.2}  kl {k:.2}"));
    }
    if let (Some(l), Some(a), Some(b)) = (s.val_loss, s.val_accuracy, s.val_balanced_accuracy) {
        line.push_str(&format!(" | val loss {l:.4}  acc {a:.3}  bal {b:.3}"));
        if let Some(auc) = s.val_roc_auc {
            line.push_str(&format!("  auc {auc:.3}"));
        }
    }
    line.push_str(&format!(
        " | {:.1} s  {:.0} img/s",
        s.seconds, s.images_per_second
    ));
    line
}

/// Calls a closure after each epoch.
pub struct OnEpoch<F: FnMut(&EpochStats)>(pub F);

impl<F: FnMut(&EpochStats)> Progress for OnEpoch<F> {
    fn on_epoch(&mut self, s: &EpochStats) {
        (self.0)(s)
    }
}

/// Trains one model; owns its weights, optimiser state and history.
pub struct Trainer {
    pub(crate) model_config: ModelConfig,
    pub(crate) config: TrainConfig,
    pub(crate) compute: ComputeDevice,
    pub(crate) device: Device,
    pub(crate) model: Model,
    pub(crate) optim: ModuleOptimizer,
    pub(crate) history: History,
    /// The best epoch's weights so far (early stopping) and its monitored value.
    pub(crate) best: Option<(f64, Model)>,
}

/// burn's CPU random number generator is one per process: hold this while seeding it and
/// drawing from it (initialising weights, one training epoch), so trainers in other threads
/// cannot interleave their draws and runs stay reproducible.
static RNG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Initialises every (lazily initialised) parameter now.
struct Materialise;

impl burn::module::ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Seed stream for epoch `e` (0 = weight initialisation).
fn epoch_seed(seed: u64, e: usize) -> u64 {
    Rng::derive(seed, 0x5eed_0000 + e as u64).next_u64()
}

impl Trainer {
    /// A fresh model from `model_config`, initialised from `config.seed`, on `compute`.
    pub fn new(
        model_config: ModelConfig,
        config: TrainConfig,
        compute: ComputeDevice,
    ) -> Result<Self> {
        check_config(&model_config, &config)?;
        super::keep_freed_memory();
        let inner = compute.device()?;
        let device = Device::autodiff(inner);
        let model = {
            let _rng = rng_lock();
            device.seed(epoch_seed(config.seed, 0));
            let model = model_config.init(&device)?;
            model.visit(&mut Materialise);
            model
        };
        let optim = make_optimizer(&config.optimizer);
        Ok(Self {
            model_config,
            config,
            compute,
            device,
            model,
            optim,
            history: History::default(),
            best: None,
        })
    }

    /// The model's configuration.
    pub fn model_config(&self) -> &ModelConfig {
        &self.model_config
    }

    /// The training configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Change the number of epochs (e.g. to train further after a resume).
    pub fn set_epochs(&mut self, epochs: usize) {
        self.config.epochs = epochs;
    }

    /// The history so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The device training runs on.
    pub fn compute_device(&self) -> ComputeDevice {
        self.compute
    }

    /// The weights to use: the best epoch's under early stopping, else the latest.
    pub fn model(&self) -> &Model {
        match &self.best {
            Some((_, m)) => m,
            None => &self.model,
        }
    }

    /// The model in inference mode on the plain device (no autodiff, no dropout, batch
    /// norm on running statistics).
    pub fn inference_model(&self) -> Model {
        self.model().valid()
    }

    /// The burn device without autodiff.
    pub fn inference_device(&self) -> Result<Device> {
        self.compute.device()
    }

    /// Train until `config.epochs` epochs are done (or early stopping ends the run).
    /// Resumed trainers continue from their last finished epoch.
    pub fn fit(
        &mut self,
        train: &Samples,
        val: Option<&Samples>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        self.check_samples("training", train)?;
        if let Some(v) = val {
            self.check_samples("validation", v)?;
        }
        if self.config.early_stopping.is_some() && val.is_none() {
            return Err(Error::Param {
                name: "early_stopping",
                message: "needs a validation set".into(),
            });
        }
        if self.history.stopped_early {
            return Ok(());
        }
        let classes = self.model_config.classes();
        let weights = resolve_weights(&self.config.class_weights, &train.class_counts(classes))?;
        let weights_t = weights.as_ref().map(|w| {
            let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
            Tensor::<1>::from_data(TensorData::new(w32, [classes]), &self.device)
        });
        let bs = self.config.batch_size;
        let steps = train.len().div_ceil(bs);
        progress.on_start(self.config.epochs, steps);
        let start_epoch = self.history.epochs.len();
        for e in start_epoch..self.config.epochs {
            let t0 = Instant::now();
            let rng = rng_lock();
            self.device.seed(epoch_seed(self.config.seed, e + 1));
            let order = epoch_order(
                &train.labels,
                classes,
                self.config.sampler,
                self.config.seed,
                e,
            );
            let lr = self
                .config
                .schedule
                .rate(self.config.learning_rate, e, self.config.epochs);
            let mut sums = [0.0f64; 3];
            let mut vae_steps = 0usize;
            let mut correct = 0usize;
            for (s, idx) in order.chunks(bs).enumerate() {
                let x = train.images(idx, &self.device);
                let y = train.targets(idx, &self.device);
                let (loss, logits, parts) = self.step_loss(x, y, weights_t.as_ref(), e);
                let l = loss.clone().into_scalar::<f32>() as f64;
                if !l.is_finite() {
                    return Err(Error::Param {
                        name: "learning_rate",
                        message: format!(
                            "training diverged at epoch {} step {} (loss {l}); lower the learning rate ({lr})",
                            e + 1,
                            s + 1
                        ),
                    });
                }
                let pred = argmax_rows(&logits.detach());
                correct += pred
                    .iter()
                    .zip(idx)
                    .filter(|(p, &i)| **p == train.labels[i])
                    .count();
                sums[0] += l * idx.len() as f64;
                if let Some((r, k)) = parts {
                    sums[1] += r * idx.len() as f64;
                    sums[2] += k * idx.len() as f64;
                    vae_steps += idx.len();
                }
                let grads = GradientsParams::from_grads(loss.backward(), &self.model);
                self.model = self.optim.step(lr, self.model.clone(), grads);
                progress.on_step(e + 1, s + 1, l);
            }
            drop(rng);
            let train_secs = t0.elapsed().as_secs_f64();
            let n = order.len() as f64;
            let vae_n = vae_steps.max(1) as f64;
            let mut stats = EpochStats {
                epoch: e + 1,
                learning_rate: lr,
                train_loss: sums[0] / n,
                train_accuracy: correct as f64 / n,
                reconstruction: (vae_steps > 0).then(|| sums[1] / vae_n),
                kl: (vae_steps > 0).then(|| sums[2] / vae_n),
                val_loss: None,
                val_accuracy: None,
                val_balanced_accuracy: None,
                val_roc_auc: None,
                seconds: 0.0,
                images_per_second: n / train_secs.max(1e-9),
            };
            if let Some(v) = val {
                self.validate(v, weights.as_deref(), &mut stats)?;
            }
            stats.seconds = t0.elapsed().as_secs_f64();
            progress.on_epoch(&stats);
            self.history.epochs.push(stats);
            if self.early_stop_update()? {
                self.history.stopped_early = true;
                break;
            }
        }
        Ok(())
    }

    /// Class probabilities `[n][classes]` of `samples` with [`Trainer::model`].
    pub fn predict(&self, samples: &Samples) -> Result<Vec<Vec<f64>>> {
        self.probabilities_of(self.model(), samples)
    }

    /// The VAE's latent means `[n][latent]` of `samples` (an error for other models).
    pub fn latent_means(&self, samples: &Samples) -> Result<Vec<Vec<f64>>> {
        super::predict::latent_means(
            &self.model().valid(),
            samples,
            self.config.batch_size.max(32),
            &self.inference_device()?,
        )
    }

    /// The VAE's reconstructions (from the latent means) of the samples `idx` of `samples`.
    pub fn reconstruct(&self, samples: &Samples, idx: &[usize]) -> Result<Samples> {
        super::predict::reconstructions(
            &self.model().valid(),
            samples,
            idx,
            &self.inference_device()?,
        )
    }

    /// Class probabilities of `model` in inference mode.
    fn probabilities_of(&self, model: &Model, samples: &Samples) -> Result<Vec<Vec<f64>>> {
        super::predict::probabilities(
            &model.valid(),
            samples,
            self.config.batch_size.max(32),
            &self.inference_device()?,
        )
    }

    /// Loss of one batch; also returns the logits and, for the VAE, (reconstruction, KL).
    fn step_loss(
        &self,
        x: Tensor<4>,
        y: Tensor<1, Int>,
        weights: Option<&Tensor<1>>,
        epoch: usize,
    ) -> (Tensor<1>, Tensor<2>, Option<(f64, f64)>) {
        let kind = self.config.loss;
        match (&self.model, &self.model_config) {
            (Model::Vae(m), ModelConfig::Vae(c)) => {
                let pretraining =
                    matches!(c.head, HeadTraining::Pretrain { epochs } if epoch < epochs);
                let head_only =
                    matches!(c.head, HeadTraining::Pretrain { epochs } if epoch >= epochs);
                if head_only {
                    let (mu, _) = m.encode(x);
                    let logits = m.classify(mu.detach());
                    let loss = class_loss(kind, logits.clone(), y, weights);
                    return (loss, logits, None);
                }
                let out = m.forward(x.clone(), true);
                let (recon, kl) =
                    vae_loss(c.reconstruction, out.reconstruction, x, out.mu, out.log_var);
                let parts = (
                    recon.clone().into_scalar::<f32>() as f64,
                    kl.clone().into_scalar::<f32>() as f64,
                );
                let mut loss = recon + kl.mul_scalar(c.beta);
                if !pretraining {
                    loss = loss
                        + class_loss(kind, out.logits.clone(), y, weights)
                            .mul_scalar(c.class_weight);
                }
                (loss, out.logits, Some(parts))
            }
            (m, _) => {
                let logits = m.logits(x);
                (class_loss(kind, logits.clone(), y, weights), logits, None)
            }
        }
    }

    fn validate(&self, v: &Samples, weights: Option<&[f64]>, stats: &mut EpochStats) -> Result<()> {
        let classes = self.model_config.classes();
        let probs = self.probabilities_of(&self.model, v)?;
        let mut loss = 0.0;
        let mut wsum = 0.0;
        for (p, &y) in probs.iter().zip(&v.labels) {
            let w = weights.map_or(1.0, |w| w[y]);
            loss -= w * p[y].max(1e-12).ln();
            wsum += w;
        }
        let predicted: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
        let names: Vec<String> = (0..classes).map(|c| c.to_string()).collect();
        let cm = ConfusionMatrix::from_indices(&v.labels, &predicted, &names)?;
        stats.val_loss = Some(loss / wsum);
        stats.val_accuracy = Some(cm.accuracy());
        stats.val_balanced_accuracy = Some(cm.balanced_accuracy());
        let positive = classes - 1;
        let labels: Vec<bool> = v.labels.iter().map(|&y| y == positive).collect();
        let scores: Vec<f64> = probs.iter().map(|p| p[positive]).collect();
        stats.val_roc_auc = roc_auc(&labels, &scores).ok();
        Ok(())
    }

    /// Update the best weights; `true` when patience has run out.
    fn early_stop_update(&mut self) -> Result<bool> {
        let Some(es) = self.config.early_stopping else {
            return Ok(false);
        };
        let last = self.history.epochs.last().expect("an epoch just finished");
        let (value, higher) = match es.monitor {
            Monitor::ValLoss => (last.val_loss, false),
            Monitor::ValRocAuc => (last.val_roc_auc, true),
            Monitor::ValBalancedAccuracy => (last.val_balanced_accuracy, true),
        };
        let Some(value) = value else {
            return Err(Error::Param {
                name: "early_stopping",
                message: format!(
                    "{:?} is undefined on this validation set (one class only?)",
                    es.monitor
                ),
            });
        };
        let better = match &self.best {
            None => true,
            Some((b, _)) => {
                if higher {
                    value > *b
                } else {
                    value < *b
                }
            }
        };
        if better {
            self.best = Some((value, self.model.clone()));
            self.history.best_epoch = Some(last.epoch);
        }
        let best_epoch = self.history.best_epoch.unwrap_or(last.epoch);
        Ok(last.epoch - best_epoch >= es.patience)
    }

    fn check_samples(&self, what: &str, s: &Samples) -> Result<()> {
        let [c, h, w] = self.model_config.input_shape();
        if s.shape[1..] != [c, h, w] {
            return Err(Error::input(
                "samples",
                format!(
                    "{what} images are {:?} but the {} model takes [{c}, {h}, {w}]",
                    &s.shape[1..],
                    self.model_config.name()
                ),
            ));
        }
        if s.is_empty() {
            return Err(Error::input("samples", format!("{what} set is empty")));
        }
        let k = self.model_config.classes();
        if let Some(i) = s.labels.iter().position(|&l| l >= k) {
            return Err(Error::input(
                "samples",
                format!(
                    "{what} label {} of image {i} is not below {k} classes",
                    s.labels[i]
                ),
            ));
        }
        Ok(())
    }
}

fn check_config(model: &ModelConfig, c: &TrainConfig) -> Result<()> {
    let bad = |name: &'static str, message: String| Err(Error::Param { name, message });
    if c.batch_size == 0 {
        return bad("batch_size", "must be at least 1".into());
    }
    if !(c.learning_rate > 0.0 && c.learning_rate.is_finite()) {
        return bad(
            "learning_rate",
            format!("{} is not a positive number", c.learning_rate),
        );
    }
    if let ClassWeights::Manual(w) = &c.class_weights {
        if w.len() != model.classes() || w.iter().any(|x| !(*x > 0.0 && x.is_finite())) {
            return bad(
                "class_weights",
                format!("need {} positive weights, got {w:?}", model.classes()),
            );
        }
    }
    if let ClassLoss::Focal { gamma } = c.loss {
        if !(gamma >= 0.0 && gamma.is_finite()) {
            return bad("focal gamma", format!("{gamma} is not >= 0"));
        }
    }
    if let OptimizerKind::Sgd { momentum } = c.optimizer {
        if !(0.0..1.0).contains(&momentum) {
            return bad("momentum", format!("{momentum} is not in [0, 1)"));
        }
    }
    Ok(())
}

pub(crate) fn make_optimizer(kind: &OptimizerKind) -> ModuleOptimizer {
    match *kind {
        OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        OptimizerKind::Sgd { momentum } => {
            let m = (momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new().with_momentum(m).init()
        }
    }
}

/// Resolved class weights, or `None` when every class weighs 1.
pub fn resolve_weights(w: &ClassWeights, counts: &[usize]) -> Result<Option<Vec<f64>>> {
    match w {
        ClassWeights::None => Ok(None),
        ClassWeights::Manual(v) => Ok(Some(v.clone())),
        ClassWeights::Balanced => {
            if let Some(c) = counts.iter().position(|&n| n == 0) {
                return Err(Error::input(
                    "class_weights",
                    format!("class {c} has no training images; balanced weights need every class"),
                ));
            }
            let n: usize = counts.iter().sum();
            let k = counts.len() as f64;
            Ok(Some(
                counts.iter().map(|&c| n as f64 / (k * c as f64)).collect(),
            ))
        }
    }
}

/// The sample order of epoch `epoch`.
pub fn epoch_order(
    labels: &[usize],
    classes: usize,
    sampler: Sampler,
    seed: u64,
    epoch: usize,
) -> Vec<usize> {
    let mut rng = Rng::derive(seed, 0x0de7_0000 + epoch as u64);
    match sampler {
        Sampler::Shuffle => {
            let mut v: Vec<usize> = (0..labels.len()).collect();
            for i in (1..v.len()).rev() {
                v.swap(i, rng.below(i as u64 + 1) as usize);
            }
            v
        }
        Sampler::Balanced => {
            let mut by: Vec<Vec<usize>> = vec![vec![]; classes];
            for (i, &l) in labels.iter().enumerate() {
                by[l].push(i);
            }
            by.retain(|m| !m.is_empty());
            (0..labels.len())
                .map(|_| {
                    let m = &by[rng.below(by.len() as u64) as usize];
                    m[rng.below(m.len() as u64) as usize]
                })
                .collect()
        }
    }
}

fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

/// The predicted class of each row (softmax keeps the order of logits, so none is needed).
fn argmax_rows(logits: &Tensor<2>) -> Vec<usize> {
    logits
        .clone()
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|c| c as usize)
        .collect()
}
