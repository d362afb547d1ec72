//! Is one ROC AUC really higher than another? DeLong's test, and the spread of a metric
//! over repeated runs.
//!
//! - [`delong_paired`]: two scorers on the *same* samples (two models scored on one test
//!   set). The AUCs are correlated, so their difference is judged with DeLong, DeLong and
//!   Clarke-Pearson's (1988) covariance of the two AUCs' structural components.
//! - [`delong_unpaired`]: two scorers on *different* samples (two runs with different
//!   splits): the variances add.
//! - [`Spread`]: mean, standard deviation and a bootstrap interval of the mean of one
//!   metric over runs (seeds), so a difference can be set against the seed-to-seed spread.
//!
//! Checked against an O(m n) pairwise implementation with scipy's normal distribution in
//! `tests/python/test_compare_cli.py` (1e-9).

use serde::{Deserialize, Serialize};

use super::check_scores;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// DeLong's test of two ROC AUCs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AucTest {
    /// AUC of the first scorer.
    pub auc_a: f64,
    /// AUC of the second scorer.
    pub auc_b: f64,
    /// `auc_b - auc_a`.
    pub difference: f64,
    /// Standard error of the difference.
    pub std_error: f64,
    /// `difference / std_error` (0 when both are 0).
    pub z: f64,
    /// Two-sided p-value of "no difference" under the normal approximation.
    pub p_value: f64,
    /// 95 % interval of the difference (`difference -+ 1.959964 std_error`).
    pub lower: f64,
    /// Upper end of that interval.
    pub upper: f64,
    /// Whether the same samples were scored by both (the paired test).
    pub paired: bool,
    /// Positive samples (of the first set when unpaired).
    pub positives: usize,
    /// Negative samples (of the first set when unpaired).
    pub negatives: usize,
}

/// One scorer's structural components: AUC, the placement values of the positives (V10)
/// and of the negatives (V01).
struct Components {
    auc: f64,
    v10: Vec<f64>,
    v01: Vec<f64>,
}

/// Mid-ranks (1-based, ties share their mean rank) of `x`.
fn midranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mid;
        }
        i = j + 1;
    }
    r
}

fn components(labels: &[bool], scores: &[f64], what: &'static str) -> Result<Components> {
    check_scores(what, labels.len(), scores)?;
    let pos: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|p| *p.0)
        .map(|p| *p.1)
        .collect();
    let neg: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|p| !*p.0)
        .map(|p| *p.1)
        .collect();
    let (m, n) = (pos.len(), neg.len());
    if m < 2 || n < 2 {
        return Err(Error::input(
            what,
            format!("DeLong's test needs at least 2 positives and 2 negatives ({m} and {n})"),
        ));
    }
    let all: Vec<f64> = pos.iter().chain(&neg).copied().collect();
    let r_all = midranks(&all);
    let (r_pos, r_neg) = (midranks(&pos), midranks(&neg));
    // A positive's placement: the share of negatives below it (ties count half).
    let v10: Vec<f64> = (0..m).map(|i| (r_all[i] - r_pos[i]) / n as f64).collect();
    // A negative's: the share of positives above it.
    let v01: Vec<f64> = (0..n)
        .map(|j| 1.0 - (r_all[m + j] - r_neg[j]) / m as f64)
        .collect();
    let auc = v10.iter().sum::<f64>() / m as f64;
    Ok(Components { auc, v10, v01 })
}

/// Sample covariance (denominator `len - 1`).
fn cov(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1.0)
}

fn variance(c: &Components) -> f64 {
    cov(&c.v10, &c.v10) / c.v10.len() as f64 + cov(&c.v01, &c.v01) / c.v01.len() as f64
}

fn finish(a: &Components, b: &Components, var: f64, paired: bool) -> AucTest {
    let difference = b.auc - a.auc;
    let std_error = var.max(0.0).sqrt();
    let z = if std_error > 0.0 {
        difference / std_error
    } else {
        0.0
    };
    let half = 1.959_963_984_540_054 * std_error;
    AucTest {
        auc_a: a.auc,
        auc_b: b.auc,
        difference,
        std_error,
        z,
        p_value: if std_error > 0.0 {
            erfc(z.abs() / std::f64::consts::SQRT_2)
        } else if difference == 0.0 {
            1.0
        } else {
            0.0
        },
        lower: difference - half,
        upper: difference + half,
        paired,
        positives: a.v10.len(),
        negatives: a.v01.len(),
    }
}

/// DeLong's paired test: scorers `a` and `b` on the same samples with `labels`.
///
/// ```
/// use mammolab::eval::delong_paired;
/// # fn main() -> mammolab::Result<()> {
/// let y = [false, false, false, true, true, true];
/// let a = [0.1, 0.4, 0.35, 0.8, 0.3, 0.9];
/// let b = [0.1, 0.2, 0.3, 0.8, 0.7, 0.9];
/// let t = delong_paired(&y, &a, &b)?;
/// assert!((t.auc_a - 7.0 / 9.0).abs() < 1e-12 && t.auc_b == 1.0);
/// assert!(t.p_value > 0.05); // 6 samples prove nothing
/// # Ok(()) }
/// ```
pub fn delong_paired(labels: &[bool], a: &[f64], b: &[f64]) -> Result<AucTest> {
    let ca = components(labels, a, "delong: scores a")?;
    let cb = components(labels, b, "delong: scores b")?;
    let (m, n) = (ca.v10.len() as f64, ca.v01.len() as f64);
    let var = variance(&ca) + variance(&cb)
        - 2.0 * (cov(&ca.v10, &cb.v10) / m + cov(&ca.v01, &cb.v01) / n);
    Ok(finish(&ca, &cb, var, true))
}

/// DeLong's variances for two scorers on different samples: `(labels_a, a)` and
/// `(labels_b, b)`; the difference's variance is the sum of the two.
pub fn delong_unpaired(
    labels_a: &[bool],
    a: &[f64],
    labels_b: &[bool],
    b: &[f64],
) -> Result<AucTest> {
    let ca = components(labels_a, a, "delong: scores a")?;
    let cb = components(labels_b, b, "delong: scores b")?;
    let var = variance(&ca) + variance(&cb);
    Ok(finish(&ca, &cb, var, false))
}

/// The complementary error function, to about 1e-14 relative: the power series of erf
/// below 2, Lentz's continued fraction above.
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf(x) = 2/sqrt(pi) sum (-1)^k x^(2k+1) / (k! (2k+1))
        let (mut term, mut sum, x2) = (x, x, x * x);
        for k in 1..200 {
            term *= -x2 / k as f64;
            let t = term / (2 * k + 1) as f64;
            sum += t;
            if t.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return 1.0 - sum * std::f64::consts::FRAC_2_SQRT_PI;
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    let tiny = 1e-300;
    let mut f = x;
    let (mut c, mut d) = (x, 0.0);
    for k in 1..500 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = x + a / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
}

/// Mean, standard deviation and a percentile-bootstrap interval of the mean of one metric
/// over repeated runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Runs.
    pub n: usize,
    /// Mean over runs.
    pub mean: f64,
    /// Sample standard deviation (0 for one run).
    pub sd: f64,
    /// Lowest value.
    pub min: f64,
    /// Highest value.
    pub max: f64,
    /// 2.5 % point of the bootstrap distribution of the mean (2000 resamples, seed 0).
    pub lower: f64,
    /// 97.5 % point.
    pub upper: f64,
}

impl Spread {
    /// The spread of `values` (an error when empty or not finite).
    pub fn of(values: &[f64]) -> Result<Self> {
        if values.is_empty() {
            return Err(Error::input("spread", "no values"));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(
                "spread",
                format!("value {i} is {}", values[i]),
            ));
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            cov(values, values).sqrt()
        } else {
            0.0
        };
        let mut rng = Rng::new(0);
        let mut means: Vec<f64> = (0..2000)
            .map(|_| {
                (0..n)
                    .map(|_| values[rng.below(n as u64) as usize])
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        means.sort_by(f64::total_cmp);
        let at =
            |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
        Ok(Self {
            n,
            mean,
            sd,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            lower: at(0.025),
            upper: at(0.975),
        })
    }

    /// `0.8125 +- 0.0412 (bootstrap 95 % CI of the mean 0.7700 to 0.8500; range 0.7600 to
    /// 0.8700; n 5)` ("to", so negative bounds read as such).
    pub fn line(&self) -> String {
        format!(
            "{:.4} +- {:.4} (bootstrap 95 % CI of the mean {:.4} to {:.4}; range {:.4} to {:.4}; n {})",
            self.mean, self.sd, self.lower, self.upper, self.min, self.max, self.n
        )
    }
}
