//! The one-call summary of a binary scorer at a threshold (what `mammolab metrics` prints).

use serde::Serialize;

use super::curves::Ranked;
use super::{brier_score, probabilistic_f1, BinaryConfusion, BinaryMetrics};
use crate::error::Result;

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
    /// Precision, recall, specificity, F1, accuracy, balanced accuracy, MCC, Cohen's kappa
    /// and the `undefined` list at the threshold (flattened into the JSON).
    #[serde(flatten)]
    pub metrics: BinaryMetrics,
    /// Brier score, only when every score is a probability.
    pub brier: Option<f64>,
    /// The RSNA screening competition's probabilistic F1 ([`probabilistic_f1`]: precision
    /// and recall from the probabilities, no threshold), only when every score is a
    /// probability. The competition scores it per breast: see `evaluate --level breast`.
    pub pf1: Option<f64>,
}

impl BinarySummary {
    /// Summarise `scores` against `labels`; both classes must be present.
    pub fn new(labels: &[bool], scores: &[f64], threshold: f64) -> Result<Self> {
        let ranked = Ranked::two_class("metrics", labels, scores)?;
        let confusion = BinaryConfusion::at_threshold(labels, scores, threshold)?;
        let probabilities = scores.iter().all(|s| (0.0..=1.0).contains(s));
        let brier = probabilities
            .then(|| brier_score(labels, scores))
            .transpose()?;
        let pf1 = probabilities
            .then(|| probabilistic_f1(labels, scores))
            .transpose()?;
        Ok(Self {
            n: labels.len() as u64,
            positives: ranked.positives(),
            roc_auc: ranked.auc(),
            average_precision: ranked.average_precision(),
            threshold,
            confusion,
            metrics: confusion.metrics(),
            brier,
            pf1,
        })
    }

    /// `(1 - specificity, recall)` at the threshold: the operating point on a ROC chart.
    pub fn roc_point(&self) -> (f64, f64) {
        self.metrics.roc_point()
    }

    /// The summary as text, one fact a line: AUC and AP, the confusion matrix at the
    /// threshold, the threshold metrics, and what was undefined. What `mammolab metrics`
    /// and `evaluate` print after their header line; a notebook prints it as is.
    pub fn report(&self) -> String {
        let (c, m) = (&self.confusion, &self.metrics);
        let mut out = format!(
            "  ROC AUC {:.4}   average precision {:.4}\n",
            self.roc_auc, self.average_precision
        );
        out.push_str(&format!(
            "  at threshold {} (positive when score >= threshold):\n",
            self.threshold
        ));
        out.push_str("                 predicted -   predicted +\n");
        out.push_str(&format!("    actual -  {:>12}  {:>12}\n", c.tn, c.fp));
        out.push_str(&format!("    actual +  {:>12}  {:>12}\n", c.fn_, c.tp));
        out.push_str(&format!(
            "  precision {:.4}  recall {:.4}  specificity {:.4}  F1 {:.4}\n",
            m.precision, m.recall, m.specificity, m.f1
        ));
        out.push_str(&format!(
            "  accuracy {:.4}  balanced accuracy {:.4}  MCC {:.4}  Cohen's kappa {:.4}",
            m.accuracy, m.balanced_accuracy, m.mcc, m.cohen_kappa
        ));
        if let (Some(b), Some(p)) = (self.brier, self.pf1) {
            out.push_str(&format!("\n  Brier score {b:.4}  probabilistic F1 {p:.4}"));
        }
        if !m.undefined.is_empty() {
            out.push_str(&format!(
                "\n  undefined (zero denominator, shown as 0): {}",
                m.undefined.join(", ")
            ));
        }
        out
    }

    /// One line: `ROC AUC 0.9625  AP 0.7800  at 0.5: recall ...  precision ...  specificity ...  accuracy ...`.
    pub fn line(&self) -> String {
        let m = &self.metrics;
        let t = threshold_text(self.threshold);
        format!(
            "ROC AUC {:.4}  AP {:.4}  at {t}: recall {:.4}  precision {:.4}  specificity {:.4}  accuracy {:.4}",
            self.roc_auc, self.average_precision, m.recall, m.precision, m.specificity, m.accuracy
        )
    }
}

/// A decision threshold as the reports print it: 0.5 stays `0.5`, a chosen threshold shows
/// 4 decimals (not 16), and one above every score (a validation part whose scores are all
/// equal gives it: nothing is flagged) says so instead of printing `f64::MAX`'s 309 digits.
pub fn threshold_text(t: f64) -> String {
    if !t.is_finite() || t.abs() >= f64::MAX / 2.0 {
        return "+inf (above every score: flags nothing)".into();
    }
    let t = format!("{t:.4}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Side by side, one row per `(name, summary)`: threshold, accuracy, balanced accuracy,
/// precision, recall, specificity, F1, ROC AUC, average precision, and the confusion counts.
/// The table that shows the accuracy paradox at a glance.
pub fn compare(rows: &[(&str, &BinarySummary)]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::{Column, DataFrame};
    let f = |name: &str, g: &dyn Fn(&BinarySummary) -> f64| {
        Column::new(
            name.into(),
            rows.iter().map(|(_, s)| g(s)).collect::<Vec<f64>>(),
        )
    };
    let u = |name: &str, g: &dyn Fn(&BinarySummary) -> u64| {
        Column::new(
            name.into(),
            rows.iter().map(|(_, s)| g(s)).collect::<Vec<u64>>(),
        )
    };
    DataFrame::new_infer_height(vec![
        Column::new(
            "model".into(),
            rows.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>(),
        ),
        f("threshold", &|s| s.threshold),
        f("accuracy", &|s| s.metrics.accuracy),
        f("balanced_accuracy", &|s| s.metrics.balanced_accuracy),
        f("precision", &|s| s.metrics.precision),
        f("recall", &|s| s.metrics.recall),
        f("specificity", &|s| s.metrics.specificity),
        f("f1", &|s| s.metrics.f1),
        f("roc_auc", &|s| s.roc_auc),
        f("average_precision", &|s| s.average_precision),
        u("tp", &|s| s.confusion.tp),
        u("fp", &|s| s.confusion.fp),
        u("fn", &|s| s.confusion.fn_),
        u("tn", &|s| s.confusion.tn),
    ])
    .map_err(|e| crate::error::Error::table("comparison", e))
}
