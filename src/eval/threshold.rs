//! Threshold choice: every operating point of a scorer, and rules that pick one.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::curves::Ranked;
use super::BinaryConfusion;
use crate::error::{Error, Result};

/// The decision threshold chosen for a model on labelled data it was not trained on (a
/// validation part), saved in the checkpoint and the run directory so that every later
/// use of the model flags at the same operating point. `pipeline::run` chooses it with an
/// [`ThresholdRule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionThreshold {
    /// The rule as text (`youden`, `f2`, `spec:0.9`, `0.5`, ...).
    pub rule: String,
    /// Flag an image when its positive-class probability is `>=` this. A rule that could
    /// only be met by flagging nothing gives `f64::MAX`.
    pub threshold: f64,
    /// Images the rule saw, and how many were positive.
    pub images: usize,
    /// Positive images among them.
    pub positives: usize,
    /// Sensitivity on those images at the threshold.
    pub sensitivity: f64,
    /// Specificity on those images at the threshold.
    pub specificity: f64,
}

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

/// How to choose a decision threshold from labelled scores (a validation set's), so the
/// operating point is fixed before the test set is looked at.
///
/// Written and parsed as text (the CLI's `--threshold-rule`, `run.json`):
///
/// | text | rule |
/// |---|---|
/// | `0.5` (any number) | that threshold, whatever the scores |
/// | `youden` | maximise sensitivity + specificity - 1 ([`ThresholdSweep::youden`]) |
/// | `f1`, `f2`, `fbeta:0.5` | maximise F-beta ([`ThresholdSweep::best_f_beta`]) |
/// | `spec:0.9` | the most sensitive threshold with specificity >= 0.9 ([`ThresholdSweep::at_specificity`]) |
/// | `sens:0.9` | the most specific threshold with sensitivity >= 0.9 ([`ThresholdSweep::at_sensitivity`]) |
///
/// ```
/// use mammolab::eval::ThresholdRule;
/// # fn main() -> mammolab::Result<()> {
/// let labels = [false, false, false, true, true];
/// let scores = [0.1, 0.2, 0.3, 0.25, 0.4];
/// let rule: ThresholdRule = "youden".parse()?;
/// let p = rule.choose(&labels, &scores)?;
/// assert_eq!(p.threshold, 0.25); // both positives found, one false positive
/// assert_eq!("spec:0.9".parse::<ThresholdRule>()?.to_string(), "spec:0.9");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// This threshold.
    Fixed(f64),
    /// Youden's J.
    Youden,
    /// The highest F-beta for this beta.
    FBeta(f64),
    /// The most sensitive threshold with at least this specificity.
    Specificity(f64),
    /// The most specific threshold with at least this sensitivity.
    Sensitivity(f64),
}

impl ThresholdRule {
    /// The operating point this rule picks on `labels` / `scores` (both classes needed,
    /// except for [`ThresholdRule::Fixed`]).
    pub fn choose(&self, labels: &[bool], scores: &[f64]) -> Result<OperatingPoint> {
        if let Self::Fixed(t) = *self {
            return Ok(OperatingPoint {
                threshold: t,
                confusion: BinaryConfusion::at_threshold(labels, scores, t)?,
            });
        }
        let sweep = ThresholdSweep::new(labels, scores)?;
        match *self {
            Self::Fixed(_) => unreachable!("handled above"),
            Self::Youden => Ok(sweep.youden()),
            Self::FBeta(beta) => sweep.best_f_beta(beta),
            Self::Specificity(s) => sweep.at_specificity(s),
            Self::Sensitivity(s) => sweep.at_sensitivity(s),
        }
    }
}

impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Fixed(t) => write!(f, "{t}"),
            Self::Youden => f.write_str("youden"),
            Self::FBeta(1.0) => f.write_str("f1"),
            Self::FBeta(2.0) => f.write_str("f2"),
            Self::FBeta(b) => write!(f, "fbeta:{b}"),
            Self::Specificity(s) => write!(f, "spec:{s}"),
            Self::Sensitivity(s) => write!(f, "sens:{s}"),
        }
    }
}

impl std::str::FromStr for ThresholdRule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: String| Error::Param {
            name: "threshold rule",
            message: format!(
                "`{s}`: {why}; use a number, youden, f1, f2, fbeta:B, spec:S or sens:S"
            ),
        };
        let number = |v: &str| -> Result<f64> {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(format!("`{v}` is not a number")))
        };
        let text = s.trim().to_ascii_lowercase();
        let rule = match text.split_once(':') {
            None => match text.as_str() {
                "youden" => Self::Youden,
                "f1" => Self::FBeta(1.0),
                "f2" => Self::FBeta(2.0),
                t => Self::Fixed(number(t).map_err(|_| bad("unknown rule".into()))?),
            },
            Some(("fbeta", v)) => Self::FBeta(number(v)?),
            Some(("spec", v)) => Self::Specificity(number(v)?),
            Some(("sens", v)) => Self::Sensitivity(number(v)?),
            Some((k, _)) => return Err(bad(format!("unknown rule `{k}`"))),
        };
        match rule {
            Self::FBeta(b) if b <= 0.0 => Err(bad("beta must be positive".into())),
            Self::Specificity(x) | Self::Sensitivity(x) if !(0.0..=1.0).contains(&x) => {
                Err(bad("the target must lie in [0, 1]".into()))
            }
            r => Ok(r),
        }
    }
}

impl Serialize for ThresholdRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ThresholdRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
