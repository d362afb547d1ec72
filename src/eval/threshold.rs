//! Threshold choice: every operating point of a scorer, and rules that pick one.

use polars::prelude::*;
use serde::Serialize;

use super::curves::Ranked;
use super::BinaryConfusion;
use crate::error::{Error, Result};

/// The confusion matrix at every distinct threshold, highest threshold first. The first
/// point has threshold `+inf` (nothing predicted positive), so rules that demand a high
/// specificity can always be met.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdSweep {
    /// Thresholds, decreasing.
    pub thresholds: Vec<f64>,
    /// Confusion matrix at each threshold (`score >= threshold` is positive).
    pub confusion: Vec<BinaryConfusion>,
}

/// One chosen threshold and its confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// The threshold (`+inf` means "flag nothing").
    pub threshold: f64,
    /// Counts at that threshold.
    pub confusion: BinaryConfusion,
}

impl OperatingPoint {
    /// Sensitivity (recall) at this point.
    pub fn sensitivity(&self) -> f64 {
        self.confusion.metrics().recall
    }
    /// Specificity at this point.
    pub fn specificity(&self) -> f64 {
        self.confusion.metrics().specificity
    }
    /// `(1 - specificity, sensitivity)`: this point on a ROC chart.
    pub fn roc_point(&self) -> (f64, f64) {
        self.confusion.metrics().roc_point()
    }
}

impl ThresholdSweep {
    /// Sweep every distinct score of a two-class problem.
    pub fn new(labels: &[bool], scores: &[f64]) -> Result<Self> {
        let r = Ranked::two_class("threshold_sweep", labels, scores)?;
        let (p, n) = (r.positives(), r.negatives());
        let mut s = Self {
            thresholds: vec![f64::INFINITY],
            confusion: vec![BinaryConfusion {
                tn: n,
                fp: 0,
                fn_: p,
                tp: 0,
            }],
        };
        r.walk(|t, tp, fp| {
            s.thresholds.push(t);
            s.confusion.push(BinaryConfusion {
                tn: n - fp,
                fp,
                fn_: p - tp,
                tp,
            });
        });
        Ok(s)
    }

    fn point(&self, i: usize) -> OperatingPoint {
        OperatingPoint {
            threshold: self.thresholds[i],
            confusion: self.confusion[i],
        }
    }

    /// The first (highest-threshold) point maximising `key`.
    fn argmax(&self, key: impl Fn(&BinaryConfusion) -> f64) -> OperatingPoint {
        let mut best = 0;
        let mut best_v = f64::NEG_INFINITY;
        for (i, c) in self.confusion.iter().enumerate() {
            let v = key(c);
            if v > best_v {
                (best, best_v) = (i, v);
            }
        }
        self.point(best)
    }

    /// The threshold with the highest F-beta (`beta > 1` favours recall); ties go to the
    /// higher threshold.
    pub fn best_f_beta(&self, beta: f64) -> Result<OperatingPoint> {
        if !(beta > 0.0 && beta.is_finite()) {
            return Err(Error::Param {
                name: "beta",
                message: format!("must be a positive number, got {beta}"),
            });
        }
        Ok(self.argmax(|c| c.f_beta(beta)))
    }

    /// The threshold maximising Youden's J = sensitivity + specificity - 1.
    pub fn youden(&self) -> OperatingPoint {
        self.argmax(|c| {
            let m = c.metrics();
            m.recall + m.specificity - 1.0
        })
    }

    /// The most sensitive threshold whose specificity is at least `min_specificity`.
    pub fn at_specificity(&self, min_specificity: f64) -> Result<OperatingPoint> {
        check_fraction("min_specificity", min_specificity)?;
        // Specificity falls as the threshold falls: take the last point that still holds.
        let i = self
            .confusion
            .iter()
            .rposition(|c| c.metrics().specificity >= min_specificity)
            .unwrap_or(0);
        Ok(self.point(i))
    }

    /// The most specific threshold whose sensitivity is at least `min_sensitivity`.
    pub fn at_sensitivity(&self, min_sensitivity: f64) -> Result<OperatingPoint> {
        check_fraction("min_sensitivity", min_sensitivity)?;
        let i = self
            .confusion
            .iter()
            .position(|c| c.metrics().recall >= min_sensitivity)
            .unwrap_or(self.confusion.len() - 1);
        Ok(self.point(i))
    }

    /// Columns `threshold`, `tp`, `fp`, `tn`, `fn`, `precision`, `recall`, `specificity`,
    /// `f1`, one row per threshold.
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        let m: Vec<_> = self.confusion.iter().map(|c| c.metrics()).collect();
        let col = |f: fn(&BinaryConfusion) -> u64| self.confusion.iter().map(f).collect::<Vec<_>>();
        df!(
            "threshold" => &self.thresholds,
            "tp" => col(|c| c.tp),
            "fp" => col(|c| c.fp),
            "tn" => col(|c| c.tn),
            "fn" => col(|c| c.fn_),
            "precision" => m.iter().map(|m| m.precision).collect::<Vec<_>>(),
            "recall" => m.iter().map(|m| m.recall).collect::<Vec<_>>(),
            "specificity" => m.iter().map(|m| m.specificity).collect::<Vec<_>>(),
            "f1" => m.iter().map(|m| m.f1).collect::<Vec<_>>(),
        )
        .map_err(|e| Error::table("threshold sweep", e))
    }
}

fn check_fraction(name: &'static str, x: f64) -> Result<()> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(Error::Param {
            name,
            message: format!("must lie in [0, 1], got {x}"),
        })
    }
}
