//! ROC and precision-recall curves, ROC AUC and average precision.
//!
//! All of them walk the scores once from the highest to the lowest *distinct* value,
//! counting true and false positives, so tied scores move the curve diagonally exactly as
//! scikit-learn's `_binary_clf_curve` does. Sorting is the only O(n log n) step: scores
//! are mapped to order-preserving integer keys, split by class and sorted in parallel, so
//! no (score, label) pairs are shuffled around.

use rayon::prelude::*;

use super::check_scores;
use crate::error::{Error, Result};

/// Order-preserving map from a finite f64 to u64 (`-0.0` and `0.0` map to the same key).
fn key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn unkey(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// Scores sorted per class: the input of every curve.
pub(crate) struct Ranked {
    pos: Vec<u64>,
    neg: Vec<u64>,
}

impl Ranked {
    /// Rank `scores`; `what` names the caller in errors.
    pub(crate) fn new(what: &'static str, labels: &[bool], scores: &[f64]) -> Result<Self> {
        check_scores(what, labels.len(), scores)?;
        let positives = labels.iter().filter(|&&l| l).count();
        let mut pos = Vec::with_capacity(positives);
        let mut neg = Vec::with_capacity(labels.len() - positives);
        for (&l, &s) in labels.iter().zip(scores) {
            if l {
                pos.push(key(s));
            } else {
                neg.push(key(s));
            }
        }
        // Small inputs are sorted in place: rayon's join overhead would dominate.
        if labels.len() > 1 << 14 {
            rayon::join(|| pos.par_sort_unstable(), || neg.par_sort_unstable());
        } else {
            pos.sort_unstable();
            neg.sort_unstable();
        }
        Ok(Self { pos, neg })
    }

    /// Like [`Ranked::new`], but both classes must be present.
    pub(crate) fn two_class(what: &'static str, labels: &[bool], scores: &[f64]) -> Result<Self> {
        let r = Self::new(what, labels, scores)?;
        if r.pos.is_empty() || r.neg.is_empty() {
            return Err(Error::input(
                what,
                format!(
                    "undefined with one class only ({} positives, {} negatives)",
                    r.pos.len(),
                    r.neg.len()
                ),
            ));
        }
        Ok(r)
    }

    pub(crate) fn positives(&self) -> u64 {
        self.pos.len() as u64
    }

    pub(crate) fn negatives(&self) -> u64 {
        self.neg.len() as u64
    }

    /// Call `f(threshold, tp, fp)` for each distinct score, highest first, with the counts
    /// of samples scoring `>= threshold`.
    pub(crate) fn walk(&self, mut f: impl FnMut(f64, u64, u64)) {
        let (mut i, mut j) = (self.pos.len(), self.neg.len());
        let (mut tp, mut fp) = (0u64, 0u64);
        while i > 0 || j > 0 {
            let t = match (i, j) {
                (0, _) => self.neg[j - 1],
                (_, 0) => self.pos[i - 1],
                _ => self.pos[i - 1].max(self.neg[j - 1]),
            };
            while i > 0 && self.pos[i - 1] == t {
                i -= 1;
                tp += 1;
            }
            while j > 0 && self.neg[j - 1] == t {
                j -= 1;
                fp += 1;
            }
            f(unkey(t), tp, fp);
        }
    }

    pub(crate) fn auc(&self) -> f64 {
        // Twice the trapezoid area in integer units of (1/P) x (1/N): exact, rounded once.
        let (mut area2, mut tp0, mut fp0) = (0u128, 0u64, 0u64);
        self.walk(|_, tp, fp| {
            area2 += (fp - fp0) as u128 * (tp + tp0) as u128;
            (tp0, fp0) = (tp, fp);
        });
        area2 as f64 / (2.0 * self.positives() as f64 * self.negatives() as f64)
    }

    pub(crate) fn average_precision(&self) -> f64 {
        let p = self.positives() as f64;
        let mut sum = Neumaier::default();
        let mut tp0 = 0u64;
        self.walk(|_, tp, fp| {
            if tp > tp0 {
                sum.add((tp - tp0) as f64 / p * (tp as f64 / (tp + fp) as f64));
            }
            tp0 = tp;
        });
        sum.total()
    }
}

/// Compensated summation, so 10^6 terms agree with numpy's pairwise sum to ~1e-16.
#[derive(Default)]
struct Neumaier {
    sum: f64,
    c: f64,
}

impl Neumaier {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.c += (self.sum - t) + x;
        } else {
            self.c += (x - t) + self.sum;
        }
        self.sum = t;
    }
    fn total(&self) -> f64 {
        self.sum + self.c
    }
}

/// Area under the ROC curve (scikit-learn's `roc_auc_score`): the probability that a random
/// positive scores higher than a random negative, ties counting one half.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Result<f64> {
    Ok(Ranked::two_class("roc_auc", labels, scores)?.auc())
}

/// Average precision (scikit-learn's `average_precision_score`): the sum over thresholds of
/// precision weighted by the increase in recall, with no interpolation.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Result<f64> {
    Ok(Ranked::two_class("average_precision", labels, scores)?.average_precision())
}

/// A ROC curve, one point per distinct score plus the origin.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False positive rate, non-decreasing from 0 to 1.
    pub fpr: Vec<f64>,
    /// True positive rate, non-decreasing from 0 to 1.
    pub tpr: Vec<f64>,
    /// Threshold of each point, decreasing; the first is `+inf` (nothing predicted positive).
    pub thresholds: Vec<f64>,
    /// Area under the curve.
    pub auc: f64,
}

/// The ROC curve (scikit-learn's `roc_curve` with `drop_intermediate=False`).
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Result<RocCurve> {
    let r = Ranked::two_class("roc_curve", labels, scores)?;
    let (p, n) = (r.positives() as f64, r.negatives() as f64);
    let mut c = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
        auc: r.auc(),
    };
    r.walk(|t, tp, fp| {
        c.thresholds.push(t);
        c.tpr.push(tp as f64 / p);
        c.fpr.push(fp as f64 / n);
    });
    Ok(c)
}

/// A precision-recall curve, one point per distinct score, highest threshold first.
#[derive(Debug, Clone, PartialEq)]
pub struct PrCurve {
    /// Precision at each threshold.
    pub precision: Vec<f64>,
    /// Recall at each threshold, non-decreasing.
    pub recall: Vec<f64>,
    /// Thresholds, decreasing.
    pub thresholds: Vec<f64>,
    /// Average precision.
    pub average_precision: f64,
    /// Fraction of positives: the precision of a random classifier (the chart's baseline).
    pub prevalence: f64,
}

/// The precision-recall curve. scikit-learn's `precision_recall_curve` returns the same
/// points in the opposite order, with an extra `(recall 0, precision 1)` end point that is
/// not attained by any threshold and is therefore left out here.
pub fn pr_curve(labels: &[bool], scores: &[f64]) -> Result<PrCurve> {
    let r = Ranked::two_class("pr_curve", labels, scores)?;
    let p = r.positives() as f64;
    let mut c = PrCurve {
        precision: vec![],
        recall: vec![],
        thresholds: vec![],
        average_precision: r.average_precision(),
        prevalence: p / labels.len() as f64,
    };
    r.walk(|t, tp, fp| {
        c.thresholds.push(t);
        c.precision.push(tp as f64 / (tp + fp) as f64);
        c.recall.push(tp as f64 / p);
    });
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_preserve_order_and_merge_signed_zeros() {
        let xs = [-1e300, -2.5, -0.0, 0.0, 1e-300, 0.5, 3.0, 1e300];
        for w in xs.windows(2) {
            assert!(key(w[0]) <= key(w[1]), "{w:?}");
            assert_eq!(unkey(key(w[1])), w[1]);
        }
        assert_eq!(key(-0.0), key(0.0));
    }

    #[test]
    fn ties_count_one_half() {
        // One positive and one negative with the same score: AUC 0.5.
        assert_eq!(roc_auc(&[true, false], &[0.3, 0.3]).unwrap(), 0.5);
    }
}
