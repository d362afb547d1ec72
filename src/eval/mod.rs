//! Evaluation that imbalanced screening data demands, with no knowledge of models or files.
//!
//! Everything here takes labels, scores and (where it matters) group ids such as patient
//! ids, and returns numbers, curves or tables. Every metric is checked against
//! scikit-learn 1.6.1 by `tests/python/make_sklearn_reference.py` (see `tests/it/eval.rs`).
//!
//! ```
//! use mammolab::eval::{self, BinaryConfusion};
//!
//! # fn main() -> mammolab::Result<()> {
//! let labels = [false, false, false, false, true, true];
//! let scores = [0.1, 0.4, 0.35, 0.8, 0.7, 0.9];
//! assert_eq!(eval::roc_auc(&labels, &scores)?, 0.875);
//! let cm = BinaryConfusion::at_threshold(&labels, &scores, 0.5)?;
//! assert_eq!((cm.tn, cm.fp, cm.fn_, cm.tp), (3, 1, 0, 2));
//! let m = cm.metrics();
//! assert_eq!(m.recall, 1.0);
//! # Ok(()) }
//! ```
//!
//! # Conventions
//!
//! - A label is `true` for the positive class (cancer). A score is any finite number where
//!   higher means "more likely positive"; probabilities are only required where a metric is
//!   defined on probabilities (Brier score, log loss, calibration, probabilistic F1).
//! - Prediction rule: positive when `score >= threshold`, as scikit-learn's curves assume.
//! - Confusion matrices have true classes in rows and predicted classes in columns.
//!
//! # Edge-case policy (tested in `tests/it/eval.rs`)
//!
//! | input | result |
//! |---|---|
//! | empty input, or labels and scores of different lengths | [`Error::Input`] |
//! | a NaN or infinite score | [`Error::Input`] naming the index |
//! | ROC AUC, average precision, ROC/PR curves with one class only | [`Error::Input`]: they are undefined |
//! | Brier, log loss, calibration, probabilistic F1 with a score outside [0, 1] | [`Error::Input`] |
//! | a ratio whose denominator is zero (precision with no predicted positives, recall with no positives, MCC or kappa of a constant prediction) | `0.0`, as scikit-learn's default `zero_division`, and the metric's name is listed in [`BinaryMetrics::undefined`] or [`ClassificationReport::undefined`] |
//! | balanced accuracy with one class in the labels | the mean recall over the classes present (scikit-learn's rule) |
//! | k-class scores that are not probabilities (a row not adding up to 1), a class index out of range | [`Error::Input`] naming the sample |
//! | one-vs-rest AUC of a class with no sample | [`Error::Input`] naming the class (one-vs-one uses the classes present) |
//!
//! No function here returns NaN.

mod bootstrap;
mod calibration;
mod confusion;
mod curves;
mod delong;
mod localisation;
mod multiclass;
mod report;
mod summary;
mod threshold;

pub use bootstrap::{
    bootstrap_ci, probabilistic_f1, rollup, Aggregate, BootstrapOptions, Interval, Resampling,
    Rollup,
};
pub(crate) use calibration::quantile_sorted;
pub use calibration::{brier_score, calibration_curve, log_loss, Binning, CalibrationCurve};
pub use confusion::{BinaryConfusion, BinaryMetrics, ConfusionMatrix};
pub use curves::{average_precision, pr_curve, roc_auc, roc_curve, PrCurve, RocCurve};
pub use delong::{delong_paired, delong_unpaired, erfc, AucTest, Spread};
pub(crate) use localisation::{by_lesion_kind, median};
pub use localisation::{lesion_hit_table, LesionHit};
pub use multiclass::{
    argmax, check_class_probabilities, confusion_text, ovr_roc_curves, roc_auc_ovo, roc_auc_ovr,
    roc_auc_ovr_per_class, Average, MulticlassSummary, PerClass,
};
pub use report::{ClassRow, ClassificationReport};
pub use summary::{compare, threshold_text, BinarySummary};
pub use threshold::{DecisionThreshold, OperatingPoint, ThresholdRule, ThresholdSweep};

use crate::error::{Error, Result};

/// Check that labels and scores pair up and every score is finite.
pub(crate) fn check_scores(what: &'static str, labels: usize, scores: &[f64]) -> Result<()> {
    if labels != scores.len() {
        return Err(Error::input(
            what,
            format!("{labels} labels but {} scores", scores.len()),
        ));
    }
    if scores.is_empty() {
        return Err(Error::input(what, "no samples"));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::input(
            what,
            format!("score {i} is {} (scores must be finite)", scores[i]),
        ));
    }
    Ok(())
}

/// Check that every score is a probability.
pub(crate) fn check_probabilities(what: &'static str, scores: &[f64]) -> Result<()> {
    if let Some(i) = scores.iter().position(|s| !(0.0..=1.0).contains(s)) {
        return Err(Error::input(
            what,
            format!(
                "score {i} is {} but this metric needs probabilities in [0, 1]",
                scores[i]
            ),
        ));
    }
    Ok(())
}

/// `num / den`, or 0 (and the metric's name pushed onto `undefined`) when `den` is 0.
pub(crate) fn ratio(
    num: f64,
    den: f64,
    name: &'static str,
    undefined: &mut Vec<&'static str>,
) -> f64 {
    if den == 0.0 {
        undefined.push(name);
        0.0
    } else {
        num / den
    }
}
