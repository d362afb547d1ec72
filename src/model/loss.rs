//! Losses for imbalanced classification and for the VAE.
//!
//! - [`class_loss`]: cross-entropy or focal loss (Lin et al. 2017) on logits, with optional
//!   per-class weights. Weighted losses are normalised by the sum of the weights of the
//!   batch's targets, as PyTorch's `cross_entropy(weight=..., reduction="mean")`.
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

/// Mean (optionally class-weighted) loss of `logits` `[b, k]` against `targets` `[b]`.
///
/// `weights` (one per class) turns the mean into `sum(w_y * l) / sum(w_y)`.
pub fn class_loss(
    kind: ClassLoss,
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    weights: Option<&Tensor<1>>,
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
            let wy = w.clone().select(0, targets);
            (per * wy.clone()).sum() / wy.sum()
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
