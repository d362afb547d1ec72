//! The one-call summary of a binary scorer at a threshold (what `mammolab metrics` prints).

use serde::Serialize;

use super::curves::Ranked;
use super::{brier_score, BinaryConfusion};
use crate::Result;

/// Ranking metrics plus the confusion matrix and its metrics at one threshold.
///
/// Serialises with the field names and order of `mammolab metrics --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinarySummary {
    /// Samples.
    pub n: u64,
    /// Positive samples.
    pub positives: u64,
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Average precision.
    pub average_precision: f64,
    /// Threshold of the confusion matrix (`score >= threshold` is positive).
    pub threshold: f64,
    /// Counts at the threshold.
    pub confusion: BinaryConfusion,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall (sensitivity) at the threshold.
    pub recall: f64,
    /// Specificity at the threshold.
    pub specificity: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// Accuracy at the threshold.
    pub accuracy: f64,
    /// Balanced accuracy at the threshold.
    pub balanced_accuracy: f64,
    /// Matthews correlation coefficient at the threshold.
    pub mcc: f64,
    /// Cohen's kappa at the threshold.
    pub cohen_kappa: f64,
    /// Brier score, only when every score is a probability.
    pub brier: Option<f64>,
    /// Metrics at the threshold whose denominator was zero (reported as 0).
    pub undefined: Vec<&'static str>,
}

impl BinarySummary {
    /// Summarise `scores` against `labels`; both classes must be present.
    pub fn new(labels: &[bool], scores: &[f64], threshold: f64) -> Result<Self> {
        let ranked = Ranked::two_class("metrics", labels, scores)?;
        let confusion = BinaryConfusion::at_threshold(labels, scores, threshold)?;
        let m = confusion.metrics();
        let brier = scores
            .iter()
            .all(|s| (0.0..=1.0).contains(s))
            .then(|| brier_score(labels, scores))
            .transpose()?;
        Ok(Self {
            n: labels.len() as u64,
            positives: ranked.positives(),
            roc_auc: ranked.auc(),
            average_precision: ranked.average_precision(),
            threshold,
            confusion,
            precision: m.precision,
            recall: m.recall,
            specificity: m.specificity,
            f1: m.f1,
            accuracy: m.accuracy,
            balanced_accuracy: m.balanced_accuracy,
            mcc: m.mcc,
            cohen_kappa: m.cohen_kappa,
            brier,
            undefined: m.undefined,
        })
    }
}
