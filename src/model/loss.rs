//! Losses for imbalanced classification and for the VAE.
//!
//! - [`class_loss`]: cross-entropy or focal loss (Lin et al. 2017) on logits, with optional
//!   per-class weights ([`LossWeights`]). A weighted loss is divided by the sum of the
//!   weights of the batch's targets, as PyTorch's `cross_entropy(weight=...,
//!   reduction="mean")` ([`WeightedMean::Batch`]), or by the batch size times the training
//!   set's mean weight ([`WeightedMean::Dataset`]).
//! - [`vae_loss`]: reconstruction + beta * KL, each averaged over the batch.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::vae::Reconstruction;

/// The classification loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ClassLoss {
    /// Cross-entropy (softmax + negative log-likelihood).
    CrossEntropy,
    /// Focal loss: cross-entropy scaled by `(1 - p_true)^gamma`, so easy (mostly majority)
    /// examples count less. `gamma = 0` is cross-entropy; 2 is the paper's choice.
    Focal {
        /// Focusing parameter.
        gamma: f64,
    },
}

/// How a batch's class-weighted losses are averaged.
///
/// PyTorch's weighted mean, `sum(w_y * l) / sum(w_y)` over the batch, is a ratio: with a
/// rare class and small batches most batches hold none of it, and each of those counts as
/// much as a batch that does. At 2 % cancers in batches of 16, about 72 % of batches hold
/// no cancer; with "balanced" weights the cancers then carry about a fifth of the gradient
/// over an epoch instead of half, and the constant prediction the loss favours is about
/// 0.2 instead of 0.5. Dividing by `b` times the training set's mean weight instead makes
/// each batch's loss an unbiased estimate of the weighted loss over the whole set (the
/// mean over an epoch's equal batches is exactly the set's weighted mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum WeightedMean {
    /// `sum(w_y * l) / sum(w_y)` over the batch (PyTorch's).
    #[default]
    Batch,
    /// `sum(w_y * l) / (b * mean_w)`, `mean_w` the training set's mean weight (1 for
    /// "balanced" weights).
    Dataset,
}

/// Per-class weights of a loss and how a batch's weighted losses are averaged.
#[derive(Debug, Clone)]
pub struct LossWeights {
    /// One weight per class `[k]`.
    pub per_class: Tensor<1>,
    /// `None`: divide by the batch's sum of weights ([`WeightedMean::Batch`]); `Some(m)`:
    /// by `b * m`.
    pub mean_weight: Option<f64>,
}

impl LossWeights {
    /// `weights` (one per class) on `device`, averaged as `mean` says; `counts` (the
    /// training set's images per class) give [`WeightedMean::Dataset`]'s mean weight.
    pub fn new(weights: &[f64], counts: &[usize], mean: WeightedMean, device: &Device) -> Self {
        let w32: Vec<f32> = weights.iter().map(|&x| x as f32).collect();
        let per_class = Tensor::<1>::from_data(TensorData::new(w32, [weights.len()]), device);
        let mean_weight = match mean {
            WeightedMean::Batch => None,
            WeightedMean::Dataset => {
                let n: usize = counts.iter().sum();
                let sum: f64 = weights.iter().zip(counts).map(|(w, &c)| w * c as f64).sum();
                Some(sum / n.max(1) as f64)
            }
        };
        Self {
            per_class,
            mean_weight,
        }
    }
}

/// Mean (optionally class-weighted) loss of `logits` `[b, k]` against `targets` `[b]`.
///
/// `weights` turns the mean into `sum(w_y * l) / sum(w_y)`, or `sum(w_y * l) / (b * m)`
/// with a dataset mean weight `m` ([`WeightedMean`]).
pub fn class_loss(
    kind: ClassLoss,
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    weights: Option<&LossWeights>,
) -> Tensor<1> {
    let [b, _] = logits.dims();
    let logp = log_softmax(logits, 1);
    let logp_true: Tensor<1> = logp.gather(1, targets.clone().reshape([b, 1])).reshape([b]);
    let mut per = logp_true.clone().neg();
    if let ClassLoss::Focal { gamma } = kind {
        if gamma != 0.0 {
            let p = logp_true.exp();
            // (1 - p)^gamma, clamped at 0 so rounding cannot make the base negative
            let modulator = (p.neg() + 1.0).clamp_min(0.0).powf_scalar(gamma);
            per = per * modulator;
        }
    }
    match weights {
        Some(w) => {
            let wy = w.per_class.clone().select(0, targets);
            match w.mean_weight {
                None => (per * wy.clone()).sum() / wy.sum(),
                Some(m) => (per * wy).sum().div_scalar(b as f64 * m),
            }
        }
        None => per.mean(),
    }
}

/// The two terms of the VAE loss, each averaged over the batch.
pub fn vae_loss(
    kind: Reconstruction,
    reconstruction: Tensor<4>,
    input: Tensor<4>,
    mu: Tensor<2>,
    log_var: Tensor<2>,
) -> (Tensor<1>, Tensor<1>) {
    let b = input.dims()[0] as f64;
    let recon = match kind {
        Reconstruction::Mse => (reconstruction - input).powf_scalar(2.0).sum(),
        Reconstruction::Bce => {
            // BCE on probabilities, clamped as PyTorch does (log clamped at -100).
            let p = reconstruction;
            let lp = p.clone().log().clamp_min(-100.0);
            let lq = (p.neg() + 1.0).log().clamp_min(-100.0);
            (input.clone() * lp + (input.neg() + 1.0) * lq).sum().neg()
        }
    } / b;
    // KL(N(mu, sigma^2) || N(0, 1)) = -0.5 * sum(1 + log_var - mu^2 - exp(log_var))
    let kl = ((log_var.clone() + 1.0) - mu.powf_scalar(2.0) - log_var.exp())
        .sum()
        .mul_scalar(-0.5 / b);
    (recon, kl)
}
