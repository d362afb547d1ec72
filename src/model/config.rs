//! How to train: optimiser, learning-rate schedule, early stopping, class weights, sample
//! order, loss and seed, in one serialisable [`TrainConfig`] saved with every checkpoint,
//! and its validation.

use serde::{Deserialize, Serialize};

use super::loss::{ClassLoss, WeightedMean};
use super::ModelConfig;
use crate::dataset::Augment;
use crate::error::{Error, Result};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
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
    /// How a batch's class-weighted losses are averaged ([`WeightedMean`]; no effect
    /// without class weights).
    #[serde(default)]
    pub weighted_mean: WeightedMean,
    /// Classification loss.
    pub loss: ClassLoss,
    /// Seed of weights, order, dropout and noise.
    pub seed: u64,
    /// Clip each parameter's gradient to this L2 norm before the optimiser step (burn's
    /// `GradientClipping::Norm`: per parameter tensor, not PyTorch's global
    /// `clip_grad_norm_`); `None`: no clipping.
    #[serde(default)]
    pub grad_clip: Option<f64>,
    /// Raise the learning rate linearly from near 0 to the scheduled rate over this many
    /// epochs (step by step); 0: no warm-up.
    #[serde(default)]
    pub warmup_epochs: usize,
    /// Stop with an error when every training output of an epoch is the same (a network
    /// collapsed to a constant, e.g. dead ReLUs after too large a step): see
    /// [`Trainer::fit`](super::Trainer::fit).
    #[serde(default = "yes")]
    pub stop_on_collapse: bool,
    /// Learning rate of a torchvision ResNet's backbone (everything but `fc`) as a
    /// fraction of [`TrainConfig::learning_rate`] (discriminative learning rates for
    /// fine-tuning): 1 trains it like the head, 0.1 ten times slower, 0 freezes it (no
    /// gradients, batch norm on its running statistics, as Keras' `trainable = False`).
    #[serde(default = "one")]
    pub backbone_lr_factor: f64,
    /// Where the starting weights came from ([`Trainer::load_pretrained`](super::Trainer::load_pretrained)):
    /// the file and its sha256; `None`: fresh weights from [`TrainConfig::seed`].
    #[serde(default)]
    pub pretrained: Option<String>,
    /// Random transforms of each training batch ([`Augment`]; seeded from
    /// [`TrainConfig::seed`], the epoch and the image's place in it); `None`: the images
    /// as prepared.
    #[serde(default)]
    pub augment: Option<Augment>,
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

impl Default for TrainConfig {
    /// 10 epochs, batch 16, Adam at 1e-3, constant rate, no early stopping, no weights
    /// (PyTorch's weighted mean when set), shuffled, cross-entropy, seed 42, no clipping,
    /// no warm-up, stop on collapse, the backbone at the full rate, fresh weights, no
    /// augmentation.
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
            weighted_mean: WeightedMean::Batch,
            loss: ClassLoss::CrossEntropy,
            seed: 42,
            grad_clip: None,
            warmup_epochs: 0,
            stop_on_collapse: true,
            backbone_lr_factor: 1.0,
            pretrained: None,
            augment: None,
        }
    }
}

impl TrainConfig {
    /// Epochs (the maximum, with early stopping).
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// Images per step.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Base learning rate.
    pub fn with_learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    /// Optimiser.
    pub fn with_optimizer(mut self, optimizer: OptimizerKind) -> Self {
        self.optimizer = optimizer;
        self
    }
    /// Learning-rate schedule.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }
    /// Early stopping (`None`: train every epoch).
    pub fn with_early_stopping(mut self, early_stopping: Option<EarlyStopping>) -> Self {
        self.early_stopping = early_stopping;
        self
    }
    /// Class weights in the loss.
    pub fn with_class_weights(mut self, weights: ClassWeights) -> Self {
        self.class_weights = weights;
        self
    }
    /// Sample order.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }
    /// How a batch's class-weighted losses are averaged.
    pub fn with_weighted_mean(mut self, mean: WeightedMean) -> Self {
        self.weighted_mean = mean;
        self
    }
    /// Classification loss.
    pub fn with_loss(mut self, loss: ClassLoss) -> Self {
        self.loss = loss;
        self
    }
    /// Seed of weights, order, dropout and noise.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Clip each parameter's gradient norm to `max_norm` (`None`: no clipping).
    pub fn with_grad_clip(mut self, max_norm: Option<f64>) -> Self {
        self.grad_clip = max_norm;
        self
    }
    /// Linear learning-rate warm-up over this many epochs.
    pub fn with_warmup_epochs(mut self, epochs: usize) -> Self {
        self.warmup_epochs = epochs;
        self
    }
    /// A ResNet backbone's learning rate as a fraction of the head's (0 freezes it).
    pub fn with_backbone_lr_factor(mut self, factor: f64) -> Self {
        self.backbone_lr_factor = factor;
        self
    }
    /// Augment training batches (`None`, or an [`Augment`] that changes nothing: the
    /// images as prepared).
    pub fn with_augment(mut self, augment: Option<Augment>) -> Self {
        self.augment = augment.filter(|a| !a.is_identity());
        self
    }
    /// Stop (with an error) when the network's outputs collapse to a constant.
    pub fn with_stop_on_collapse(mut self, stop: bool) -> Self {
        self.stop_on_collapse = stop;
        self
    }

    /// The learning rate of step `step` (0-based) of `steps` in epoch `epoch` (0-based):
    /// the schedule's rate of the epoch, scaled by the warm-up ramp.
    pub fn rate_at(&self, epoch: usize, step: usize, steps: usize) -> f64 {
        let lr = self.schedule.rate(self.learning_rate, epoch, self.epochs);
        let ramp = self.warmup_epochs * steps.max(1);
        let done = epoch * steps.max(1) + step + 1;
        if done < ramp {
            lr * done as f64 / ramp as f64
        } else {
            lr
        }
    }

    /// Check the settings against the model they will train.
    pub fn validate(&self, model: &ModelConfig) -> Result<()> {
        check_config(model, self)
    }
}

pub(crate) fn check_config(model: &ModelConfig, c: &TrainConfig) -> Result<()> {
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
    if !(c.backbone_lr_factor >= 0.0 && c.backbone_lr_factor.is_finite()) {
        return bad(
            "backbone_lr_factor",
            format!("{} is not a number >= 0", c.backbone_lr_factor),
        );
    }
    if c.backbone_lr_factor != 1.0 && !matches!(model, ModelConfig::ResNet(_)) {
        return bad(
            "backbone_lr_factor",
            format!(
                "a separate backbone rate needs a torchvision ResNet (resnet18, resnet50), not {}",
                model.name()
            ),
        );
    }
    if let Some(n) = c.grad_clip {
        if !(n > 0.0 && n.is_finite()) {
            return bad("grad_clip", format!("{n} is not a positive number"));
        }
    }
    if let Some(a) = &c.augment {
        a.validate()?;
    }
    if let OptimizerKind::Sgd { momentum } = c.optimizer {
        if !(0.0..1.0).contains(&momentum) {
            return bad("momentum", format!("{momentum} is not in [0, 1)"));
        }
    }
    Ok(())
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
