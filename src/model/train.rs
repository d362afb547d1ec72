//! The training loop: one [`Trainer`] owns a model's weights, optimiser state and history;
//! [`Trainer::fit`] runs epochs over [`Samples`] as its [`TrainConfig`] says.
//!
//! # Determinism
//! On the CPU a run is a pure function of its inputs and [`TrainConfig::seed`]: weights are
//! initialised after seeding the device, each epoch reseeds the device (dropout masks, VAE
//! noise) and draws its order from its own SplitMix stream of the seed. So two runs give
//! identical weights and history, and a run resumed from an epoch's checkpoint continues
//! exactly as if it had not stopped (the optimiser state is saved too).
//!
//! # Imbalance
//! - [`ClassWeights::Balanced`](super::ClassWeights::Balanced): weight `n / (k * n_c)` per class (scikit-learn's
//!   `"balanced"`), used in the loss.
//! - [`Sampler::Balanced`]: each epoch draws `n` samples with replacement, classes equally
//!   likely (oversampling the minority, undersampling the majority).
//! - [`ClassLoss::Focal`](super::ClassLoss::Focal): down-weights easy examples.
//! - Threshold moving needs no training: see [`crate::eval::ThresholdSweep`] and
//!   [`crate::eval::ThresholdRule`]; `pipeline::run` chooses one on the validation part and
//!   records it with [`Trainer::set_threshold`].
//!
//! # Augmentation
//! [`TrainConfig::augment`](super::TrainConfig::augment) transforms each training batch as
//! it is drawn ([`crate::dataset::Augment`]: flips, rotation, zoom, crop, intensity); image
//! `j` of the epoch's order gets stream `j` of the epoch's seed, so runs and resumed runs
//! repeat exactly. The intensity jitter works on [0, 1] images: the normalisation recorded
//! by the input recipe ([`Trainer::new`]) is undone and redone around it.
//!
//! # Stability
//! - [`TrainConfig::grad_clip`](super::TrainConfig::grad_clip): each parameter tensor's
//!   gradient clipped to an L2 norm.
//! - [`TrainConfig::warmup_epochs`](super::TrainConfig::warmup_epochs): a linear ramp of the
//!   rate, step by step ([`TrainConfig::rate_at`](super::TrainConfig::rate_at)).
//! - [`TrainConfig::stop_on_collapse`](super::TrainConfig::stop_on_collapse): after each
//!   epoch, 64 training images spread over the set are scored in inference mode; logits all
//!   within 1e-6 of each other mean a network that outputs a constant (dead ReLUs), and
//!   [`Trainer::fit`] stops with an error that names the fixes.

use std::path::Path;
use std::time::Instant;

use burn::optim::grad_clipping::GradientClipping;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;

use super::batch::{covariates_tensor, images_tensor, targets_tensor};
use super::checkpoint::{self, CheckpointInfo};
use super::config::{check_config, resolve_weights};
use super::history::{EpochStats, History, Progress, Validation};
use super::loss::{class_loss, vae_loss, LossWeights};
use super::vae::HeadTraining;
use super::{
    rng_lock, ComputeDevice, Model, ModelConfig, Monitor, OptimizerKind, Sampler, TrainConfig,
};
use crate::classes::Classes;
use crate::dataset::{Preprocess, Samples};
use crate::error::{Error, Result};
use crate::eval::DecisionThreshold;
use crate::rng::Rng;

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
    /// How the training images are made from files, and so the network's input shape:
    /// saved with every checkpoint.
    pub(crate) input: Preprocess,
    /// The decision threshold chosen on validation data ([`Trainer::set_threshold`]).
    pub(crate) threshold: Option<DecisionThreshold>,
    /// The classes of the model's outputs ([`Trainer::with_classes`]; by index until named).
    pub(crate) classes: Classes,
    /// The validation statistics beyond loss and accuracy ([`Trainer::with_validation`]).
    pub(crate) validation: Option<Box<dyn Validation + Send + Sync>>,
    /// Where [`Trainer::fit`] saves a checkpoint after every epoch
    /// ([`Trainer::with_epoch_checkpoints`]).
    pub(crate) epoch_checkpoints: Option<std::path::PathBuf>,
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
    /// A fresh model from `model_config` for the images `input` makes (crop, flip, resize,
    /// normalise; its `[channels, height, width]` is the network's input shape), initialised
    /// from `config.seed`, on `compute`. [`Trainer::save`] writes the recipe beside the
    /// weights, so that a checkpoint alone prepares new images the same way.
    pub fn new(
        model_config: ModelConfig,
        input: Preprocess,
        config: TrainConfig,
        compute: ComputeDevice,
    ) -> Result<Self> {
        check_config(&model_config, &config)?;
        let inner = compute.device()?;
        let device = Device::autodiff(inner);
        let model = {
            let _rng = rng_lock();
            device.seed(epoch_seed(config.seed, 0));
            let model = model_config.init(input.input_shape(), &device)?;
            model.visit(&mut Materialise);
            backbone_policy(model, &config)
        };
        let optim = make_optimizer(&config);
        let k = model_config.classes();
        Ok(Self {
            model_config,
            config,
            compute,
            device,
            model,
            optim,
            history: History::default(),
            best: None,
            input,
            threshold: None,
            classes: Classes::indexed(k),
            validation: None,
            epoch_checkpoints: None,
        })
    }

    /// Save a checkpoint ([`Trainer::save`], replaced atomically) into `dir` after every
    /// epoch of [`Trainer::fit`], so that a run killed mid-training continues from its last
    /// complete epoch with [`Trainer::resume`] and ends with the weights an uninterrupted
    /// run would have (`mammolab train --resume`).
    pub fn with_epoch_checkpoints(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.epoch_checkpoints = Some(dir.into());
        self
    }

    /// Compute these validation statistics (balanced accuracy, ROC AUC) every epoch, for
    /// the history and for early stopping on them. `pipeline::fit` installs
    /// `pipeline::EvalValidation` (the `eval` module's metrics); without one the trainer
    /// records the validation loss and accuracy only.
    pub fn with_validation(mut self, validation: impl Validation + Send + Sync + 'static) -> Self {
        self.validation = Some(Box::new(validation));
        self
    }

    /// The input recipe given to [`Trainer::new`].
    pub fn input(&self) -> &Preprocess {
        &self.input
    }

    /// Name the classes (index order, as the labels count them) and the positive one, so
    /// that a checkpoint alone can label its outputs; there must be one per model output.
    pub fn with_classes(mut self, classes: Classes) -> Result<Self> {
        if let Some(why) = self.model_config.class_mismatch(&classes) {
            return Err(Error::input("classes", why));
        }
        self.classes = classes;
        Ok(self)
    }

    /// The classes given to [`Trainer::with_classes`] (`class_0`, `class_1`, ... when none
    /// were: [`Classes::indexed`]).
    pub fn classes(&self) -> &Classes {
        &self.classes
    }

    /// Record the decision threshold chosen for this model (saved with the checkpoint).
    pub fn set_threshold(&mut self, threshold: Option<DecisionThreshold>) {
        self.threshold = threshold;
    }

    /// The decision threshold recorded by [`Trainer::set_threshold`].
    pub fn threshold(&self) -> Option<&DecisionThreshold> {
        self.threshold.as_ref()
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
        if let Some(es) = self.config.early_stopping {
            if es.monitor != Monitor::ValLoss && self.validation.is_none() {
                return Err(Error::Param {
                    name: "early_stopping",
                    message: format!(
                        "{:?} needs validation metrics: build the trainer with `.with_validation(pipeline::EvalValidation)` (pipeline::fit does)",
                        es.monitor
                    ),
                });
            }
        }
        if self.history.stopped_early {
            return Ok(());
        }
        let classes = self.model_config.classes();
        let counts = train.class_counts(classes);
        let weights = resolve_weights(&self.config.class_weights, &counts)?;
        let weights_t = weights
            .as_ref()
            .map(|w| LossWeights::new(w, &counts, self.config.weighted_mean, &self.device));
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
            let mut lr = self.config.rate_at(e, 0, steps);
            let mut sums = [0.0f64; 3];
            let mut vae_steps = 0usize;
            let mut correct = 0usize;
            for (s, idx) in order.chunks(bs).enumerate() {
                lr = self.config.rate_at(e, s, steps);
                let x = self.batch(train, idx, e, s * bs);
                let columns = covariates_tensor(train, idx, &self.device);
                let y = targets_tensor(train, idx, &self.device);
                let (loss, logits, parts) = self.step_loss(x, columns, y, weights_t.as_ref(), e);
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
                self.model = self.step(lr, loss.backward());
                progress.on_step(e + 1, s + 1, l);
            }
            if self.config.stop_on_collapse {
                let (n, spread) = self.output_spread(train)?;
                if spread < COLLAPSED_SPREAD {
                    return Err(Error::Param {
                        name: "learning_rate",
                        message: format!(
                            "the network collapsed to a constant output in epoch {} (its logits for {n} different training images lie within {spread:.1e} of each other); lower the learning rate ({}), clip gradients (--grad-clip 1) or warm up (--warmup 1)",
                            e + 1,
                            self.config.learning_rate
                        ),
                    });
                }
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
            let stop = self.early_stop_update()?;
            self.history.stopped_early = stop;
            if let Some(dir) = self.epoch_checkpoints.clone() {
                self.save(&dir)?;
            }
            if stop {
                break;
            }
        }
        Ok(())
    }

    /// Class probabilities `[n][classes]` of `samples` with [`Trainer::model`].
    pub fn predict(&self, samples: &Samples) -> Result<Vec<Vec<f64>>> {
        self.probabilities_of(self.model(), samples)
    }

    /// The probability of class `class` for each of `samples` (e.g. the positive class:
    /// the last), with [`Trainer::model`].
    pub fn scores(&self, samples: &Samples, class: usize) -> Result<Vec<f64>> {
        Ok(super::inference::scores(&self.predict(samples)?, class))
    }

    /// The VAE's latent means `[n][latent]` of `samples` (an error for other models).
    pub fn latent_means(&self, samples: &Samples) -> Result<Vec<Vec<f64>>> {
        super::inference::latent_means(
            &self.model().valid(),
            samples,
            self.config.batch_size.max(32),
            &self.inference_device()?,
        )
    }

    /// The VAE's reconstructions (from the latent means) of the samples `idx` of `samples`.
    pub fn reconstruct(&self, samples: &Samples, idx: &[usize]) -> Result<Samples> {
        super::inference::reconstructions(
            &self.model().valid(),
            samples,
            idx,
            &self.inference_device()?,
        )
    }

    /// Class probabilities of `model` in inference mode.
    fn probabilities_of(&self, model: &Model, samples: &Samples) -> Result<Vec<Vec<f64>>> {
        super::inference::probabilities(
            &model.valid(),
            samples,
            self.config.batch_size.max(32),
            &self.inference_device()?,
        )
    }

    /// One optimiser step from `grads`: a ResNet whose backbone runs at
    /// `backbone_lr_factor` of the rate takes two (the same optimiser, per-parameter state:
    /// the head's gradients at `lr`, the rest at `lr * factor`).
    fn step(&mut self, lr: f64, grads: burn::tensor::Gradients) -> Model {
        let factor = self.config.backbone_lr_factor;
        let model = self.model.clone();
        match &model {
            Model::ResNet(m) if factor != 1.0 && factor > 0.0 => {
                let mut grads = grads;
                let head = GradientsParams::from_module(&mut grads, m.fc());
                let rest = GradientsParams::from_grads(grads, &model);
                let model = self.optim.step(lr * factor, model, rest);
                self.optim.step(lr, model, head)
            }
            _ => {
                let grads = GradientsParams::from_grads(grads, &model);
                self.optim.step(lr, model, grads)
            }
        }
    }

    /// Start from the PyTorch weights in `path` (torchvision ResNets: a state dict saved as
    /// safetensors; see [`load_torchvision`](super::resnet::load_torchvision) for how the
    /// first convolution and the head are adapted), before [`Trainer::fit`]. The file and
    /// its sha256 are recorded in the training config (`pretrained`).
    pub fn load_pretrained(&mut self, path: &Path) -> Result<super::resnet::TorchvisionLoad> {
        if !self.history.epochs.is_empty() {
            return Err(Error::Param {
                name: "pretrained",
                message: "load pretrained weights before training, not after".into(),
            });
        }
        let Model::ResNet(m) = &mut self.model else {
            return Err(not_a_resnet(self.model_config.name()));
        };
        let report = super::resnet::load_torchvision(m, path)?;
        self.model = backbone_policy(self.model.clone(), &self.config);
        let sha = crate::hash::sha256_file(path)?;
        self.config.pretrained = Some(format!("{} (sha256 {sha})", path.display()));
        Ok(report)
    }

    /// Loss of one batch; also returns the logits and, for the VAE, (reconstruction, KL).
    fn step_loss(
        &self,
        x: Tensor<4>,
        columns: Option<Tensor<2>>,
        y: Tensor<1, Int>,
        weights: Option<&LossWeights>,
        epoch: usize,
    ) -> (Tensor<1>, Tensor<2>, Option<(f64, f64)>) {
        let kind = self.config.loss;
        match (&self.model, &self.model_config) {
            (Model::Vae(m), ModelConfig::Vae(c)) => {
                let head_only =
                    matches!(c.head, HeadTraining::Pretrain { epochs } if epoch >= epochs);
                if head_only {
                    let logits = m.classify(m.head_input(x).detach());
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
                let mut loss = recon + kl.mul_scalar(c.beta_at(epoch));
                if c.class_term_at(epoch) {
                    loss = loss
                        + class_loss(kind, out.logits.clone(), y, weights)
                            .mul_scalar(c.class_weight);
                }
                (loss, out.logits, Some(parts))
            }
            (m, _) => {
                let logits = m.logits_with(x, columns);
                (class_loss(kind, logits.clone(), y, weights), logits, None)
            }
        }
    }

    /// The training images at `idx` (positions `first..` of epoch `epoch`'s order), through
    /// [`TrainConfig::augment`] when it is set.
    fn batch(&self, train: &Samples, idx: &[usize], epoch: usize, first: usize) -> Tensor<4> {
        let Some(a) = &self.config.augment else {
            return images_tensor(train, idx, &self.device);
        };
        let [_, c, h, w] = train.shape;
        let shape = [idx.len(), c, h, w];
        let mut data = train.gather(idx);
        let normalise = self.input.normalise;
        a.apply_batch(
            &mut data,
            shape,
            normalise,
            a.epoch_seed(self.config.seed, epoch),
            first,
        );
        Tensor::<4>::from_data(TensorData::new(data, shape), &self.device)
    }

    /// How far apart the inference model's logits lie for up to 64 training images spread
    /// over the set (in inference mode: dropout would vary a dead network's output).
    fn output_spread(&self, train: &Samples) -> Result<(usize, f64)> {
        let n = train.len().min(64);
        let step = train.len() / n.max(1);
        let idx: Vec<usize> = (0..n).map(|i| i * step).collect();
        let device = self.inference_device()?;
        let logits = self.model.valid().logits_with(
            images_tensor(train, &idx, &device),
            covariates_tensor(train, &idx, &device),
        );
        Ok((n, logit_spread(&logits)))
    }

    fn validate(&self, v: &Samples, weights: Option<&[f64]>, stats: &mut EpochStats) -> Result<()> {
        let probs = self.probabilities_of(&self.model, v)?;
        let mut loss = 0.0;
        let mut wsum = 0.0;
        for (p, &y) in probs.iter().zip(&v.labels) {
            let w = weights.map_or(1.0, |w| w[y]);
            loss -= w * p[y].max(1e-12).ln();
            wsum += w;
        }
        let correct = probs
            .iter()
            .zip(&v.labels)
            .filter(|(p, &y)| argmax(p) == y)
            .count();
        stats.val_loss = Some(loss / wsum);
        stats.val_accuracy = Some(correct as f64 / v.len() as f64);
        if let Some(m) = &self.validation {
            let extra = m.metrics(&v.labels, &probs, &self.classes)?;
            stats.val_balanced_accuracy = extra.balanced_accuracy;
            stats.val_roc_auc = extra.roc_auc;
        }
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
            // `valid()`, not `clone()`: a clone shares batch norm's running statistics
            // (burn's `RunningState` is behind an `Arc`), so later epochs would move them.
            self.best = Some((value, self.model.valid()));
            self.history.best_epoch = Some(last.epoch);
        }
        let best_epoch = self.history.best_epoch.unwrap_or(last.epoch);
        Ok(last.epoch - best_epoch >= es.patience)
    }

    fn check_samples(&self, what: &str, s: &Samples) -> Result<()> {
        let [c, h, w] = self.input.input_shape();
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
        self.model.check_covariates(what, s)?;
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

/// PyTorch weights load into torchvision ResNets only ([`Trainer::load_pretrained`]);
/// `pipeline::RunOptions::validate` checks it before any file is read.
pub(crate) fn pretrained_target(model: &ModelConfig) -> Result<()> {
    match model {
        ModelConfig::ResNet(_) => Ok(()),
        m => Err(not_a_resnet(m.name())),
    }
}

fn not_a_resnet(name: &str) -> Error {
    Error::Param {
        name: "pretrained",
        message: format!(
            "PyTorch weights load into a torchvision ResNet (--model resnet18 / resnet50), not {name}"
        ),
    }
}

/// Checkpoints: the files are [`checkpoint`](super::checkpoint)'s; what goes into them and
/// how a trainer is rebuilt from them is here.
impl Trainer {
    /// Write a checkpoint of the trainer's current state into `dir` (see
    /// [`checkpoint`](super::checkpoint)): the weights to use, and everything
    /// [`Trainer::resume`] needs.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let info = CheckpointInfo {
            mammolab: env!("CARGO_PKG_VERSION").to_string(),
            model: self.model_config.clone(),
            train: self.config.clone(),
            device: self.compute,
            history: self.history.clone(),
            best_value: self.best.as_ref().map(|b| b.0),
            input: self.input.clone(),
            threshold: self.threshold.clone(),
            classes: self.classes.clone(),
        };
        let best = self.best.as_ref().map(|(_, m)| m);
        checkpoint::write(dir, &info, self.model(), &self.model, best, &self.optim)
    }

    /// Continue training from a checkpoint written by [`Trainer::save`], on `compute`
    /// (default: the device it was trained on). Install the same validation metrics as
    /// before ([`Trainer::with_validation`]) to continue an identical history. The result
    /// continues exactly where the checkpoint was taken (same weights, optimiser state and
    /// epoch; see the determinism notes above).
    pub fn resume(dir: &Path, compute: Option<ComputeDevice>) -> Result<Trainer> {
        let info = checkpoint::read_info(dir)?;
        let compute = compute.unwrap_or(info.device);
        let device = Device::autodiff(compute.device()?);
        let state = checkpoint::read_state(dir, &info, &device, make_optimizer(&info.train))?;
        Ok(Trainer {
            model: backbone_policy(state.model, &info.train),
            model_config: info.model,
            config: info.train,
            compute,
            device,
            optim: state.optim,
            history: info.history,
            best: state.best,
            input: info.input,
            threshold: info.threshold,
            classes: info.classes,
            validation: None,
            epoch_checkpoints: None,
        })
    }
}

/// A ResNet with `backbone_lr_factor` 0 has its backbone frozen (gradients and batch-norm
/// statistics); other models pass through.
pub(crate) fn backbone_policy(model: Model, config: &TrainConfig) -> Model {
    match model {
        Model::ResNet(m) if config.backbone_lr_factor == 0.0 => Model::ResNet(m.freeze_backbone()),
        m => m,
    }
}

pub(crate) fn make_optimizer(config: &TrainConfig) -> ModuleOptimizer {
    let optim: ModuleOptimizer = match config.optimizer {
        OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        OptimizerKind::Sgd { momentum } => {
            let m = (momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new().with_momentum(m).init()
        }
    };
    match config.grad_clip {
        Some(n) => optim.with_grad_clipping(GradientClipping::Norm(n as f32)),
        None => optim,
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

/// Index of the largest value (the first of equal ones): the predicted class.
pub fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

/// A network whose logits vary less than this over 64 different images outputs a
/// constant: collapsed. A live network's logits differ between images by orders of
/// magnitude more; a collapsed one's (every ReLU dead, the output is the bias) by 0.
const COLLAPSED_SPREAD: f64 = 1e-6;

/// The widest range of any one logit (column) over the rows of `logits`.
fn logit_spread(logits: &Tensor<2>) -> f64 {
    let [_, k] = logits.dims();
    let v: Vec<f32> = logits.clone().into_data().iter::<f32>().collect();
    (0..k)
        .map(|c| {
            let col = v.iter().skip(c).step_by(k.max(1)).map(|&x| x as f64);
            let (lo, hi) = col.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
                (l.min(x), h.max(x))
            });
            hi - lo
        })
        .fold(0.0, f64::max)
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
