//! Evaluation of k classes (normal / benign / malignant): a score per class for every
//! sample, the arg-max prediction, the k x k confusion matrix, the per-class report, and
//! ROC AUC one-vs-rest and one-vs-one, macro and weighted, as scikit-learn's
//! `roc_auc_score(multi_class="ovr" | "ovo", average="macro" | "weighted")` computes them
//! (checked to 1e-12 with ties in `tests/python/test_metrics_cli.py`).
//!
//! - **One-vs-rest**: class c's AUC is the binary AUC of "is c" against the score of c;
//!   macro is their mean, weighted their mean weighted by each class's support. Every class
//!   must be present: an absent class has no AUC (scikit-learn raises too).
//! - **One-vs-one** (Hand & Till 2001): for each pair of classes present, on the samples of
//!   those two classes, the mean of a's AUC with a's score and b's AUC with b's score; macro
//!   is the mean over pairs, weighted the mean weighted by the pair's share of all samples.
//! - Scores must be finite and each sample's scores must add up to 1 (scikit-learn's
//!   `np.allclose(1, row sum)`): class probabilities, as a softmax gives.
//! - The prediction is the class with the highest score, the first one on a tie (NumPy's
//!   `argmax`).

use serde::Serialize;

use super::{roc_auc, roc_curve, ClassRow, ClassificationReport, ConfusionMatrix, RocCurve};
use crate::error::{Error, Result};

/// How per-class (or per-pair) AUCs are averaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// Every class (or pair) counts the same.
    Macro,
    /// Weighted by support (one-vs-rest) or by the pair's share of samples (one-vs-one).
    Weighted,
}

/// Check `labels` (class indices below `k`) against `scores` (one row of `k` class
/// probabilities per sample).
pub fn check_class_probabilities(labels: &[usize], scores: &[Vec<f64>], k: usize) -> Result<()> {
    let what = "multiclass";
    if labels.is_empty() {
        return Err(Error::input(what, "no samples"));
    }
    if labels.len() != scores.len() {
        return Err(Error::input(
            what,
            format!("{} labels but {} score rows", labels.len(), scores.len()),
        ));
    }
    if k < 2 {
        return Err(Error::input(what, format!("{k} classes; need at least 2")));
    }
    for (i, (&l, row)) in labels.iter().zip(scores).enumerate() {
        if l >= k {
            return Err(Error::input(
                what,
                format!("sample {i}: class index {l} but only {k} classes"),
            ));
        }
        if row.len() != k {
            return Err(Error::input(
                what,
                format!("sample {i}: {} scores for {k} classes", row.len()),
            ));
        }
        if let Some(v) = row.iter().find(|v| !v.is_finite()) {
            return Err(Error::input(what, format!("sample {i}: score {v}")));
        }
        let sum: f64 = row.iter().sum();
        if (1.0 - sum).abs() > 1e-8 + 1e-5 * sum.abs() {
            return Err(Error::input(
                what,
                format!("sample {i}: the class scores add up to {sum}, not 1 (they must be probabilities, as a softmax gives)"),
            ));
        }
    }
    Ok(())
}

/// The class with the highest score of each row (the first on a tie).
pub fn argmax(scores: &[Vec<f64>]) -> Vec<usize> {
    scores
        .iter()
        .map(|row| {
            let mut best = 0;
            for (j, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

fn column(scores: &[Vec<f64>], c: usize, rows: &[usize]) -> Vec<f64> {
    rows.iter().map(|&i| scores[i][c]).collect()
}

/// Each class's one-vs-rest AUC, in class order; an absent class is an error naming it.
/// The inputs are checked by the caller ([`check_class_probabilities`]).
fn ovr_aucs(labels: &[usize], scores: &[Vec<f64>], k: usize) -> Result<Vec<f64>> {
    if let Some(c) = (0..k).find(|c| !labels.contains(c)) {
        return Err(Error::input(
            "roc_auc_ovr",
            format!("class {c} has no samples: its one-vs-rest AUC is undefined"),
        ));
    }
    // Every class present (and k >= 2): no class holds every sample, each AUC is defined.
    Ok(ovr_where_defined(labels, scores, k)?
        .into_iter()
        .map(|a| a.expect("every class present"))
        .collect())
}

/// Each class's one-vs-rest AUC where it is defined, `None` for a class with no sample or
/// with every sample. The inputs are checked by the caller.
fn ovr_where_defined(labels: &[usize], scores: &[Vec<f64>], k: usize) -> Result<Vec<Option<f64>>> {
    let all: Vec<usize> = (0..labels.len()).collect();
    (0..k)
        .map(|c| {
            let is_c: Vec<bool> = labels.iter().map(|&l| l == c).collect();
            match is_c.contains(&true) && is_c.contains(&false) {
                true => roc_auc(&is_c, &column(scores, c, &all)).map(Some),
                false => Ok(None),
            }
        })
        .collect()
}

/// Each class's one-vs-rest AUC (scikit-learn's `roc_auc_score(labels == c, scores[:, c])`),
/// in class order, `None` where it is undefined: for a subset of samples that may lack
/// classes (one source of a pooled cohort; CBIS-DDSM has no normal film), where
/// [`roc_auc_ovr`] would refuse.
pub fn roc_auc_ovr_per_class(
    labels: &[usize],
    scores: &[Vec<f64>],
    k: usize,
) -> Result<Vec<Option<f64>>> {
    check_class_probabilities(labels, scores, k)?;
    ovr_where_defined(labels, scores, k)
}

/// The one-vs-rest AUCs averaged: every class alike, or weighted by its support.
fn average_ovr(aucs: &[f64], labels: &[usize], average: Average) -> f64 {
    let weights: Vec<f64> = match average {
        Average::Macro => vec![1.0; aucs.len()],
        Average::Weighted => (0..aucs.len())
            .map(|c| labels.iter().filter(|&&l| l == c).count() as f64)
            .collect(),
    };
    weighted_mean(aucs, &weights)
}

/// Each pair of classes present: its one-vs-one AUC and its share of all samples. The
/// inputs are checked by the caller ([`check_class_probabilities`]).
fn ovo_pairs(labels: &[usize], scores: &[Vec<f64>], k: usize) -> Result<Vec<(f64, f64)>> {
    let present: Vec<usize> = (0..k).filter(|c| labels.contains(c)).collect();
    if present.len() < 2 {
        return Err(Error::input(
            "roc_auc_ovo",
            "one class only: no pair to compare",
        ));
    }
    let mut pairs = vec![];
    for (x, &a) in present.iter().enumerate() {
        for &b in &present[x + 1..] {
            let rows: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i] == a || labels[i] == b)
                .collect();
            let is_a: Vec<bool> = rows.iter().map(|&i| labels[i] == a).collect();
            let is_b: Vec<bool> = is_a.iter().map(|v| !v).collect();
            let auc_a = roc_auc(&is_a, &column(scores, a, &rows))?;
            let auc_b = roc_auc(&is_b, &column(scores, b, &rows))?;
            pairs.push((
                (auc_a + auc_b) / 2.0,
                rows.len() as f64 / labels.len() as f64,
            ));
        }
    }
    Ok(pairs)
}

/// The pairs' AUCs averaged: every pair alike, or weighted by its share of samples.
fn average_ovo(pairs: &[(f64, f64)], average: Average) -> f64 {
    let (aucs, shares): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
    match average {
        Average::Macro => weighted_mean(&aucs, &vec![1.0; aucs.len()]),
        Average::Weighted => weighted_mean(&aucs, &shares),
    }
}

/// One-vs-rest ROC AUC (see the module docs).
pub fn roc_auc_ovr(
    labels: &[usize],
    scores: &[Vec<f64>],
    k: usize,
    average: Average,
) -> Result<f64> {
    check_class_probabilities(labels, scores, k)?;
    Ok(average_ovr(&ovr_aucs(labels, scores, k)?, labels, average))
}

/// One-vs-one ROC AUC over the pairs of classes present (see the module docs).
pub fn roc_auc_ovo(
    labels: &[usize],
    scores: &[Vec<f64>],
    k: usize,
    average: Average,
) -> Result<f64> {
    check_class_probabilities(labels, scores, k)?;
    Ok(average_ovo(&ovo_pairs(labels, scores, k)?, average))
}

fn weighted_mean(values: &[f64], weights: &[f64]) -> f64 {
    let w: f64 = weights.iter().sum();
    values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / w
}

/// Each class's one-vs-rest ROC curve, in class order (for a chart).
pub fn ovr_roc_curves(labels: &[usize], scores: &[Vec<f64>], k: usize) -> Result<Vec<RocCurve>> {
    check_class_probabilities(labels, scores, k)?;
    let all: Vec<usize> = (0..labels.len()).collect();
    (0..k)
        .map(|c| {
            let is_c: Vec<bool> = labels.iter().map(|&l| l == c).collect();
            roc_curve(&is_c, &column(scores, c, &all))
        })
        .collect()
}

/// One class's row of a per-class report, as JSON shows it: `{class, precision, recall,
/// f1, support}` (scikit-learn's `classification_report` row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerClass {
    /// The class.
    pub class: String,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// True samples of the class.
    pub support: u64,
}

impl From<&ClassRow> for PerClass {
    fn from(r: &ClassRow) -> Self {
        Self {
            class: r.name.clone(),
            precision: r.precision,
            recall: r.recall,
            f1: r.f1,
            support: r.support,
        }
    }
}

/// Everything `mammolab metrics --score P1,P2,P3 --classes A,B,C` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MulticlassSummary {
    /// Class names, in score-column order.
    pub classes: Vec<String>,
    /// Samples.
    pub n: usize,
    /// `confusion[true][predicted]` (arg-max), in class order.
    pub confusion: Vec<Vec<u64>>,
    /// Per-class precision, recall, F1 and support.
    pub per_class: Vec<PerClass>,
    /// One-vs-rest AUC of each class, in class order.
    pub roc_auc_per_class: Vec<f64>,
    /// One-vs-rest ROC AUC, macro.
    pub roc_auc_ovr_macro: f64,
    /// One-vs-rest ROC AUC, weighted by support.
    pub roc_auc_ovr_weighted: f64,
    /// One-vs-one ROC AUC, macro.
    pub roc_auc_ovo_macro: f64,
    /// One-vs-one ROC AUC, weighted by the pair's share.
    pub roc_auc_ovo_weighted: f64,
    /// Fraction predicted right.
    pub accuracy: f64,
    /// Mean recall over the classes.
    pub balanced_accuracy: f64,
    /// Cohen's kappa (0 when undefined).
    pub cohen_kappa: f64,
    /// Ratios with a zero denominator, reported as 0 (`"precision[benign]"`).
    pub undefined: Vec<String>,
}

impl MulticlassSummary {
    /// Summarise `labels` (indices into `classes`) against `scores` (a row of class
    /// probabilities per sample, in `classes` order).
    pub fn new<S: AsRef<str>>(
        labels: &[usize],
        scores: &[Vec<f64>],
        classes: &[S],
    ) -> Result<Self> {
        let k = classes.len();
        check_class_probabilities(labels, scores, k)?;
        let per = ovr_aucs(labels, scores, k)?;
        let pairs = ovo_pairs(labels, scores, k)?;
        let cm = ConfusionMatrix::from_indices(labels, &argmax(scores), classes)?;
        let report = ClassificationReport::new(&cm);
        Ok(Self {
            classes: cm.classes.clone(),
            n: labels.len(),
            per_class: report.classes.iter().map(PerClass::from).collect(),
            roc_auc_ovr_macro: average_ovr(&per, labels, Average::Macro),
            roc_auc_ovr_weighted: average_ovr(&per, labels, Average::Weighted),
            roc_auc_ovo_macro: average_ovo(&pairs, Average::Macro),
            roc_auc_ovo_weighted: average_ovo(&pairs, Average::Weighted),
            roc_auc_per_class: per,
            accuracy: cm.accuracy(),
            balanced_accuracy: cm.balanced_accuracy(),
            cohen_kappa: cm.cohen_kappa(),
            undefined: report.undefined,
            confusion: cm.counts,
        })
    }

    /// The report as text: the headline numbers, the k x k matrix and the per-class rows.
    pub fn report(&self) -> String {
        let w = column_width(&self.classes);
        let mut out = format!(
            "{} samples, {} classes: accuracy {:.4}  balanced accuracy {:.4}  Cohen's kappa {:.4}\n",
            self.n,
            self.classes.len(),
            self.accuracy,
            self.balanced_accuracy,
            self.cohen_kappa
        );
        out.push_str(&format!(
            "ROC AUC one-vs-rest macro {:.4}, weighted {:.4}; one-vs-one macro {:.4}, weighted {:.4}\n",
            self.roc_auc_ovr_macro,
            self.roc_auc_ovr_weighted,
            self.roc_auc_ovo_macro,
            self.roc_auc_ovo_weighted
        ));
        out.push_str(&confusion_text(&self.classes, &self.confusion));
        out.push_str(&format!(
            "{:>w$}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}\n",
            "class", "precision", "recall", "f1", "support", "AUC (OvR)"
        ));
        for (r, auc) in self.per_class.iter().zip(&self.roc_auc_per_class) {
            out.push_str(&format!(
                "{:>w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}  {:>9.4}\n",
                r.class, r.precision, r.recall, r.f1, r.support, auc
            ));
        }
        if !self.undefined.is_empty() {
            out.push_str(&format!(
                "undefined (0/0, reported as 0): {}\n",
                self.undefined.join(", ")
            ));
        }
        out
    }
}

/// Width of a text column holding `classes` (and 9-character numbers).
fn column_width<S: AsRef<str>>(classes: &[S]) -> usize {
    classes
        .iter()
        .map(|c| c.as_ref().len())
        .max()
        .unwrap_or(0)
        .max(9)
}

/// A k x k confusion matrix (`counts[true][predicted]`) as text, a row per true class.
pub fn confusion_text<S: AsRef<str>>(classes: &[S], counts: &[Vec<u64>]) -> String {
    let w = column_width(classes);
    let mut out = format!("{:>w$}  predicted\n{:>w$}", "true", "");
    for c in classes {
        out.push_str(&format!("  {:>w$}", c.as_ref()));
    }
    out.push('\n');
    for (c, row) in classes.iter().zip(counts) {
        out.push_str(&format!("{:>w$}", c.as_ref()));
        for v in row {
            out.push_str(&format!("  {v:>w$}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_classes_by_hand() {
        // Perfect ranking for every class: every AUC is 1.
        let labels = [0, 1, 2, 0, 1, 2];
        let s = |a: f64, b: f64| vec![a, b, 1.0 - a - b];
        let scores = vec![
            s(0.8, 0.1),
            s(0.1, 0.8),
            s(0.1, 0.1),
            s(0.7, 0.2),
            s(0.2, 0.7),
            s(0.2, 0.2),
        ];
        let m = MulticlassSummary::new(&labels, &scores, &["a", "b", "c"]).unwrap();
        assert_eq!(m.roc_auc_ovr_macro, 1.0);
        assert_eq!(m.roc_auc_ovo_weighted, 1.0);
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(
            m.confusion,
            vec![vec![2, 0, 0], vec![0, 2, 0], vec![0, 0, 2]]
        );
        // A tie between two classes predicts the first.
        assert_eq!(argmax(&[vec![0.4, 0.4, 0.2]]), vec![0]);
        // Not probabilities; a class with no samples has no one-vs-rest AUC.
        let e = check_class_probabilities(&[0], &[vec![0.5, 0.6]], 2).unwrap_err();
        assert!(e.to_string().contains("add up to 1.1"), "{e}");
        let e = roc_auc_ovr(&[0, 1], &[s(0.5, 0.5), s(0.2, 0.7)], 3, Average::Macro).unwrap_err();
        assert!(e.to_string().contains("class 2 has no samples"), "{e}");
        assert!(roc_auc_ovo(&[0, 1], &[s(0.5, 0.5), s(0.2, 0.7)], 3, Average::Macro).is_ok());
    }
}
