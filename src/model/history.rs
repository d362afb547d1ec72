//! What training reports: one [`EpochStats`] per epoch in a [`History`], and the
//! [`Progress`] callbacks (silent, one line per epoch, a closure) that see them as they come.

use std::io::Write;

use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// Validation statistics of one epoch beyond its loss and accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ValidationMetrics {
    /// Mean recall over the classes present.
    pub balanced_accuracy: Option<f64>,
    /// ROC AUC of the last class against the rest (`None` with one class present).
    pub roc_auc: Option<f64>,
}

/// Turns the validation labels and the model's probabilities into [`ValidationMetrics`]
/// each epoch. The trainer knows models, not metrics (`eval` comes after `model` in the
/// flow), so the caller supplies them: `pipeline::EvalValidation` computes them with `eval`.
pub trait Validation {
    /// The statistics of `probs` (`[n][classes]`) against `labels` (class indices).
    fn metrics(
        &self,
        labels: &[usize],
        probs: &[Vec<f64>],
        classes: &crate::Classes,
    ) -> Result<ValidationMetrics>;
}

/// Called while training. Every method has an empty default.
pub trait Progress {
    /// Before the first epoch of [`Trainer::fit`](super::Trainer::fit).
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
    if let (Some(l), Some(a)) = (s.val_loss, s.val_accuracy) {
        line.push_str(&format!(" | val loss {l:.4}  acc {a:.3}"));
        if let Some(b) = s.val_balanced_accuracy {
            line.push_str(&format!("  bal {b:.3}"));
        }
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
