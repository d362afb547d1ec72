//! Confusion matrices and the metrics read off them.

use serde::Serialize;

use super::{check_scores, ratio};
use crate::error::{Error, Result};

/// A two-class confusion matrix at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct BinaryConfusion {
    /// Negatives predicted negative.
    pub tn: u64,
    /// Negatives predicted positive.
    pub fp: u64,
    /// Positives predicted negative (`fn` is a keyword).
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// Positives predicted positive.
    pub tp: u64,
}

/// Everything a screening report needs from one [`BinaryConfusion`].
///
/// Ratios with a zero denominator are `0.0` and named in `undefined` (see the
/// [module policy](super)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinaryMetrics {
    /// `tp / (tp + fp)`: of the cases flagged, how many are cancers.
    pub precision: f64,
    /// `tp / (tp + fn)`, also sensitivity: of the cancers, how many are found.
    pub recall: f64,
    /// `tn / (tn + fp)`: of the normals, how many are cleared.
    pub specificity: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// `(tp + tn) / n`: the number that hides the imbalance.
    pub accuracy: f64,
    /// Mean of the per-class recalls present in the labels.
    pub balanced_accuracy: f64,
    /// Matthews correlation coefficient.
    pub mcc: f64,
    /// Cohen's kappa between labels and predictions.
    pub cohen_kappa: f64,
    /// Names of the metrics above whose denominator was zero (reported as 0).
    pub undefined: Vec<&'static str>,
}

impl BinaryConfusion {
    /// Count predictions `score >= threshold` against the labels.
    pub fn at_threshold(labels: &[bool], scores: &[f64], threshold: f64) -> Result<Self> {
        check_scores("confusion", labels.len(), scores)?;
        if threshold.is_nan() {
            return Err(Error::input("confusion", "threshold is NaN"));
        }
        let mut c = Self::default();
        for (&l, &s) in labels.iter().zip(scores) {
            c.add(l, s >= threshold);
        }
        Ok(c)
    }

    /// Count hard predictions against the labels.
    pub fn from_predictions(labels: &[bool], predicted: &[bool]) -> Result<Self> {
        if labels.len() != predicted.len() {
            return Err(Error::input(
                "confusion",
                format!(
                    "{} labels but {} predictions",
                    labels.len(),
                    predicted.len()
                ),
            ));
        }
        if labels.is_empty() {
            return Err(Error::input("confusion", "no samples"));
        }
        let mut c = Self::default();
        for (&l, &p) in labels.iter().zip(predicted) {
            c.add(l, p);
        }
        Ok(c)
    }

    fn add(&mut self, label: bool, predicted: bool) {
        match (label, predicted) {
            (false, false) => self.tn += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (true, true) => self.tp += 1,
        }
    }

    /// Number of samples.
    pub fn n(&self) -> u64 {
        self.tn + self.fp + self.fn_ + self.tp
    }

    /// Number of positive labels.
    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }

    /// F-beta: recall counts `beta` times as much as precision (`beta = 1` is F1).
    /// Zero when precision and recall are both zero or undefined.
    pub fn f_beta(&self, beta: f64) -> f64 {
        let b2 = beta * beta;
        let (tp, fp, fn_) = (self.tp as f64, self.fp as f64, self.fn_ as f64);
        let den = (1.0 + b2) * tp + b2 * fn_ + fp;
        if den == 0.0 {
            0.0
        } else {
            (1.0 + b2) * tp / den
        }
    }

    /// All metrics of [`BinaryMetrics`].
    pub fn metrics(&self) -> BinaryMetrics {
        let mut undefined = vec![];
        let (tn, fp, fn_, tp) = (
            self.tn as f64,
            self.fp as f64,
            self.fn_ as f64,
            self.tp as f64,
        );
        let precision = ratio(tp, tp + fp, "precision", &mut undefined);
        let recall = ratio(tp, tp + fn_, "recall", &mut undefined);
        let specificity = ratio(tn, tn + fp, "specificity", &mut undefined);
        let f1 = ratio(2.0 * tp, 2.0 * tp + fp + fn_, "f1", &mut undefined);
        let balanced_accuracy = match (tp + fn_ > 0.0, tn + fp > 0.0) {
            (true, true) => (recall + specificity) / 2.0,
            (true, false) => recall,
            _ => specificity,
        };
        let full = self.matrix();
        BinaryMetrics {
            precision,
            recall,
            specificity,
            f1,
            accuracy: (tp + tn) / self.n() as f64,
            balanced_accuracy,
            mcc: full.mcc_or_zero(&mut undefined),
            cohen_kappa: full.kappa_or_zero(&mut undefined),
            undefined,
        }
    }

    /// The same counts as a general two-class [`ConfusionMatrix`] (class 0 negative) with
    /// these class names, e.g. `["normal", "cancer"]`.
    pub fn matrix_named(&self, negative: &str, positive: &str) -> ConfusionMatrix {
        ConfusionMatrix {
            classes: vec![negative.into(), positive.into()],
            counts: vec![vec![self.tn, self.fp], vec![self.fn_, self.tp]],
        }
    }

    /// The same counts as a general two-class [`ConfusionMatrix`] (class 0 negative).
    pub fn matrix(&self) -> ConfusionMatrix {
        ConfusionMatrix {
            classes: vec!["negative".into(), "positive".into()],
            counts: vec![vec![self.tn, self.fp], vec![self.fn_, self.tp]],
        }
    }
}

impl BinaryMetrics {
    /// Where these metrics sit on a ROC chart: `(1 - specificity, recall)`.
    pub fn roc_point(&self) -> (f64, f64) {
        (1.0 - self.specificity, self.recall)
    }
}

/// A confusion matrix over any number of classes: `counts[true][predicted]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    /// Class names, in index order.
    pub classes: Vec<String>,
    /// `counts[i][j]`: samples of true class `i` predicted as class `j`.
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// Count class indices; every index must be below `classes.len()`.
    pub fn from_indices<S: AsRef<str>>(
        truth: &[usize],
        predicted: &[usize],
        classes: &[S],
    ) -> Result<Self> {
        if truth.len() != predicted.len() {
            return Err(Error::input(
                "confusion_matrix",
                format!("{} labels but {} predictions", truth.len(), predicted.len()),
            ));
        }
        if truth.is_empty() {
            return Err(Error::input("confusion_matrix", "no samples"));
        }
        let k = classes.len();
        let mut counts = vec![vec![0u64; k]; k];
        for (i, (&t, &p)) in truth.iter().zip(predicted).enumerate() {
            if t >= k || p >= k {
                return Err(Error::input(
                    "confusion_matrix",
                    format!("sample {i}: class index {} but only {k} classes", t.max(p)),
                ));
            }
            counts[t][p] += 1;
        }
        Ok(Self {
            classes: classes.iter().map(|c| c.as_ref().to_string()).collect(),
            counts,
        })
    }

    /// Total number of samples.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Samples per true class (row sums).
    pub fn support(&self) -> Vec<u64> {
        self.counts.iter().map(|r| r.iter().sum()).collect()
    }

    /// Predictions per class (column sums).
    pub fn predicted(&self) -> Vec<u64> {
        (0..self.classes.len())
            .map(|j| self.counts.iter().map(|r| r[j]).sum())
            .collect()
    }

    /// Fraction on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let diag: u64 = (0..self.classes.len()).map(|i| self.counts[i][i]).sum();
        diag as f64 / self.total() as f64
    }

    /// Mean recall over the classes present (scikit-learn's `balanced_accuracy_score`).
    pub fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = self
            .counts
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let s: u64 = r.iter().sum();
                (s > 0).then(|| r[i] as f64 / s as f64)
            })
            .collect();
        recalls.iter().sum::<f64>() / recalls.len().max(1) as f64
    }

    /// Each row divided by its sum (rows with no samples stay zero).
    pub fn row_normalised(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|r| {
                let s: u64 = r.iter().sum();
                r.iter()
                    .map(|&c| if s == 0 { 0.0 } else { c as f64 / s as f64 })
                    .collect()
            })
            .collect()
    }

    /// Matthews correlation coefficient (the multi-class form, as scikit-learn), 0 when
    /// undefined (a constant prediction or a single class).
    pub fn mcc(&self) -> f64 {
        self.mcc_or_zero(&mut vec![])
    }

    /// Cohen's kappa of labels vs predictions, 0 when undefined (chance agreement is 1).
    pub fn cohen_kappa(&self) -> f64 {
        self.kappa_or_zero(&mut vec![])
    }

    fn mcc_or_zero(&self, undefined: &mut Vec<&'static str>) -> f64 {
        let (t, p) = (self.support(), self.predicted());
        let n = self.total() as f64;
        let c: f64 = (0..t.len()).map(|i| self.counts[i][i] as f64).sum();
        let tp: f64 = t.iter().zip(&p).map(|(&a, &b)| a as f64 * b as f64).sum();
        let pp: f64 = p.iter().map(|&b| (b as f64).powi(2)).sum();
        let tt: f64 = t.iter().map(|&a| (a as f64).powi(2)).sum();
        let den = ((n * n - pp) * (n * n - tt)).sqrt();
        ratio(c * n - tp, den, "mcc", undefined)
    }

    fn kappa_or_zero(&self, undefined: &mut Vec<&'static str>) -> f64 {
        let (t, p) = (self.support(), self.predicted());
        let n = self.total() as f64;
        let po = self.accuracy();
        let pe: f64 = t
            .iter()
            .zip(&p)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum::<f64>()
            / (n * n);
        ratio(po - pe, 1.0 - pe, "cohen_kappa", undefined)
    }
}
